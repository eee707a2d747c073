"""Real processes for tests: daphne, a Celery worker and beat, against the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from localdev.embedded import free_port
from localdev.launcher import DAPHNE

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


def web_command(server: str, port: int, *, keepalive: tuple[int, int] | None = None) -> list[str]:
    """daphne, as shipped; or uvicorn (wsproto), which the benchmark measures beside it.

    ``keepalive`` (daphne): seconds between keepalive pings and for the pong, instead of the shipped ones.
    """
    if server == "uvicorn":
        return [str(BIN / "uvicorn"), "config.asgi:application", "--host", "127.0.0.1", "--port", str(port),
                "--ws", "wsproto", "--ws-ping-interval", "60", "--lifespan", "off", "--no-access-log", "--backlog", "1024"]
    # daphne exactly as `make run` starts it (listen backlog, keepalive pings, no proxy headers).
    args = DAPHNE.format(port=port).split()[1:]
    if keepalive:
        args[args.index("--ping-interval") + 1], args[args.index("--ping-timeout") + 1] = map(str, keepalive)
    return [str(BIN / "daphne"), *args]


def metric(port: int, name: str, labels: str = "") -> float:
    """The sum of a metric's samples on a web process's ``/metrics`` (``labels`` as written there)."""
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    prefix = f"{name}{{{labels}}} " if labels else f"{name} "
    return sum(float(line.split()[-1]) for line in body.splitlines() if line.startswith(prefix))


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


class Stack:
    """A running Dealcast: web processes, workers and beat, each restartable by the test."""

    def __init__(self, env: dict[str, str], *, server: str = "daphne") -> None:
        self.env = env
        self.server = server
        self.logdir = Path(tempfile.mkdtemp(prefix="dealcast-stack-"))
        self.webs: list[tuple[int, subprocess.Popen]] = []
        self.workers: list[subprocess.Popen] = []
        self.beat: subprocess.Popen | None = None
        self.notifier: subprocess.Popen | None = None
        self._killed: set[subprocess.Popen] = set()
        self._stopping = False
        self.worker_crashes = 0

    def _spawn(self, name: str, args: list[str], extra_env: dict[str, str] | None = None) -> subprocess.Popen:
        log = open(self.logdir / f"{name}.log", "ab")
        env = {**self.env, **(extra_env or {})}
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def port(self) -> int:
        return self.webs[0][0]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, index: int = 0) -> str:
        return f"ws://127.0.0.1:{self.webs[index][0]}/ws/deals/"

    def start_web(
        self, port: int | None = None, extra_env: dict[str, str] | None = None, server: str | None = None,
        keepalive: tuple[int, int] | None = None,
    ) -> int:
        port = port or free_port()
        proc = self._spawn(f"web-{port}", web_command(server or self.server, port, keepalive=keepalive), extra_env)
        self.webs.append((port, proc))
        wait_http(f"http://127.0.0.1:{port}/healthz")
        return port

    def supervise_workers(self) -> None:
        """Restart a worker that exits on its own, as the production supervisor does (docs/deploy.md).

        Celery's worker can die on a Redis restart: a wake-up it could not acknowledge sends kombu's
        restore path into an "Unrecoverable error" (kombu's Redis transport; seen in ``make faults``).
        Each such exit is counted in ``worker_crashes`` and reported, never hidden.
        """
        self.worker_crashes = 0

        def watch() -> None:
            while not self._stopping:
                for index, proc in enumerate(list(self.workers)):
                    if proc.poll() is not None and proc not in self._killed:
                        self.worker_crashes += 1
                        self.workers[index] = self._spawn_worker(index)
                time.sleep(0.5)

        threading.Thread(target=watch, name="worker-supervisor", daemon=True).start()

    def start_worker(self) -> subprocess.Popen:
        name = f"worker-{len(self.workers)}"
        since = self._log_size(name)
        proc = self._spawn_worker(len(self.workers))
        self.workers.append(proc)
        self._wait_consuming(name, since)
        return proc

    def _log_size(self, name: str) -> int:
        log = self.logdir / f"{name}.log"
        return log.stat().st_size if log.exists() else 0

    def _wait_consuming(self, name: str, since: int) -> None:
        """Until the Celery worker logging to ``name`` says it is ready (its log after ``since``).

        As ``start_web`` waits for ``/healthz``: a test that starts right after would otherwise race the
        worker's start-up, and its first event could arrive after a drain's quiet second (the tests that
        asserted on that passed only after another test had warmed the stack).
        """
        log = self.logdir / f"{name}.log"
        if not wait_for(lambda: b" ready." in log.read_bytes()[since:], timeout=60):
            raise RuntimeError(f"the Celery worker {name} did not start within 60 s (see {log})")

    def _spawn_worker(self, index: int) -> subprocess.Popen:
        return self._spawn(
            f"worker-{index}",
            [str(BIN / "celery"), "-A", "config", "worker", "--concurrency=2", "--without-gossip",
             "--without-mingle", "--without-heartbeat", "-l", "INFO", "-n", f"test{index}@%h"],
        )

    def start_notifier(self) -> subprocess.Popen:
        """The notifier's own worker, on its own queue, as the Procfile's ``notifier`` line runs it."""
        from django.conf import settings

        since = self._log_size("notifier")
        self.notifier = self._spawn(
            "notifier",
            [str(BIN / "celery"), "-A", "config", "worker", "-Q", settings.NOTIFY_QUEUE, "--concurrency=2",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO", "-n", "notifier@%h"],
        )
        self._wait_consuming("notifier", since)
        return self.notifier

    def start_beat(self) -> None:
        schedule = self.logdir / "beat-schedule"
        self.beat = self._spawn("beat", [str(BIN / "celery"), "-A", "config", "beat", "-l", "INFO", f"--schedule={schedule}"])

    def kill(self, proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        self._killed.add(proc)
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)

    def stop_web(self, index: int = 0, sig: int = signal.SIGKILL) -> int:
        port, proc = self.webs.pop(index)
        self.kill(proc, sig)
        return port

    def stop(self) -> None:
        self._stopping = True
        singles = [proc for proc in (self.beat, self.notifier) if proc]
        for proc in [p for _, p in self.webs] + self.workers + singles:
            if proc.poll() is None:
                self.kill(proc, signal.SIGTERM)
        self.webs, self.workers, self.beat, self.notifier = [], [], None, None

    def logs(self) -> str:
        return "\n".join(f"== {path.name}\n{path.read_text(errors='replace')[-4000:]}" for path in sorted(self.logdir.glob("*.log")))
