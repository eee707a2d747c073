from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"

    def ready(self) -> None:
        from realtime import receivers  # noqa: F401  (the relay wakes on commits; sockets end with their login)
