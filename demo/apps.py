from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo city, its logins and the simulated market activity (``manage.py seed_demo``,
    ``manage.py simulate_market_activity``): on top of the domain, used by ``make run``, the
    benchmark and the fault drills, never by the domain."""

    name = "demo"
