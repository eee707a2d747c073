"""A whole Dealcast on throw-away servers: its own PostgreSQL and Valkey, migrated, seeded, running.

Used by the fault suite and the benchmarks, which need servers they may load, kill and restart
without touching ``./var/`` or the machine's own services.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from harness.proxy import FaultProxy
from harness.stack import Stack
from localdev.embedded import EmbeddedPostgres, EmbeddedValkey, free_port

DATABASE = "dealcast_harness"


class LocalCluster:
    def __init__(
        self, *, name: str, with_proxy: bool = False, extra_env: dict[str, str] | None = None, server: str = "daphne"
    ) -> None:
        self.server = server
        self.workdir = Path(tempfile.mkdtemp(prefix=f"dealcast-{name}-"))
        # Throw-away data: fsync off, announced by the benchmark and the fault suite.
        self.postgres = EmbeddedPostgres(self.workdir / "pg", free_port(), durable=False)
        self.valkey = EmbeddedValkey(self.workdir / "valkey", free_port())
        self.with_proxy = with_proxy
        self.proxy: FaultProxy | None = None
        self.name = name
        self.extra_env = extra_env or {}
        self.stack: Stack | None = None

    def start_servers(self) -> dict[str, str]:
        """Start PostgreSQL and Valkey, point this process's Django at them, migrate; returns the env."""
        self.postgres.start()
        self.postgres.ensure_database(DATABASE)
        self.valkey.start()
        redis_port = self.valkey.port
        if self.with_proxy:
            self.proxy = FaultProxy(self.valkey.port, free_port())
            redis_port = self.proxy.port
        env = {
            **os.environ,
            "DATABASE_URL": self.postgres.url(DATABASE),
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "DEALCAST_LOCAL": "1", "CHANNEL_LAYER_PREFIX": f"dealcast-{self.name}", "CELERY_QUEUE": f"dealcast-{self.name}",
            "RELAY_SWEEP_SECONDS": "0.5", "REALTIME_RECONCILE_SECONDS": "0.5",
            "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "WARNING", **self.extra_env,
        }
        for key in ("DATABASE_URL", "REDIS_URL", "DEALCAST_LOCAL", "CHANNEL_LAYER_PREFIX", "CELERY_QUEUE",
                    "LOG_LEVEL", *self.extra_env):
            os.environ[key] = env[key]
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        self.stack = Stack(env, server=self.server)
        return env

    def stop(self) -> None:
        if self.stack:
            self.stack.stop()
        self.valkey.stop()
        self.postgres.stop()
