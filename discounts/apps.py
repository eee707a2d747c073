from django.apps import AppConfig


class DiscountsConfig(AppConfig):
    name = "discounts"

    def ready(self) -> None:
        from discounts import signals  # noqa: F401  (connects the outbox receivers)
