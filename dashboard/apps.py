from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The market staff's live dashboard: its figures, its page and its socket, on top of the domain
    and of ``realtime`` (shoppers reached, the staff socket's wake-ups)."""

    name = "dashboard"
