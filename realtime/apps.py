from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"

    def ready(self) -> None:
        from config import checks as config_checks  # noqa: F401  (registers the deploy checks)
        from realtime import checks  # noqa: F401  (registers the system checks)
        from realtime import receivers  # noqa: F401  (sockets end with their login)
