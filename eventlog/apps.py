from django.apps import AppConfig


class EventLogConfig(AppConfig):
    """The event log: below the domain apps, which record into it, and the delivery apps, which read it."""

    name = "eventlog"
    verbose_name = "Event log"
