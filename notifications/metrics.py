"""The notifier's figures on /metrics, read from the database when scraped (any web process answers;
``config.metrics_view`` serves them beside the sockets' figures)."""

from __future__ import annotations

from django.db.models import Count
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily


class NotifierCollector:
    def collect(self):
        from eventlog.models import LogConsumer
        from eventlog.readers import reader_lag
        from notifications.models import DigestMail, Notification, NotifierDeadEvent
        from notifications.notifier import READER

        by_state = GaugeMetricFamily(
            "dealcast_notifications", "Notifications by state (sent, grouped, gone, dead, pending)", labels=["state"]
        )
        counts = dict(Notification.objects.values_list("state").annotate(n=Count("id")))
        for state in Notification.State.values:
            by_state.add_metric([state], counts.get(state, 0))
        yield by_state
        yield GaugeMetricFamily(
            "dealcast_notifications_retrying", "Pending notifications whose last attempt failed",
            value=Notification.objects.filter(state=Notification.State.PENDING, attempts__gt=0).count(),
        )
        failing = GaugeMetricFamily(
            "dealcast_notifications_failing", "Notifications waiting to retry, and dead letters, by what last failed",
            labels=["state", "failure"],
        )
        failures = (
            Notification.objects.filter(state__in=[Notification.State.PENDING, Notification.State.DEAD], attempts__gt=0)
            .values_list("state", "failure").annotate(n=Count("id"))
        )
        for state, failure, count in failures:
            failing.add_metric([state, failure or "unknown"], count)
        yield failing
        deduplicated = LogConsumer.objects.filter(name=READER).values_list("deduplicated", flat=True).first() or 0
        yield CounterMetricFamily(
            "dealcast_notifier_deduplicated", "Decisions a re-read of the log found already made", value=deduplicated
        )
        yield GaugeMetricFamily("dealcast_notifier_lag_events", "Log events the notifier has not read yet", value=reader_lag(READER))
        yield GaugeMetricFamily(
            "dealcast_notifier_dead_events", "Events the notifier set aside", value=NotifierDeadEvent.objects.count()
        )
        digests = GaugeMetricFamily("dealcast_digests", "Digest mails by state", labels=["state"])
        digest_counts = dict(DigestMail.objects.values_list("state").annotate(n=Count("id")))
        for state in DigestMail.State.values:
            digests.add_metric([state], digest_counts.get(state, 0))
        yield digests

