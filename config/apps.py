from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """The project's wiring (settings, URLs, socket routes, ASGI and Celery apps), installed as an app
    only to register its deploy checks."""

    name = "config"
    verbose_name = "Dealcast configuration"

    def ready(self) -> None:
        from config import checks  # noqa: F401  (registers the deploy checks)
