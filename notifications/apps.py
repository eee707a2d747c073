from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        from notifications import metrics  # noqa: F401  (registers the notifier's figures on /metrics)
