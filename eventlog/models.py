"""The event log's tables. They were made by the ``realtime`` app and keep its table names."""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from eventlog.epoch import new_epoch


class OutboxEvent(models.Model):
    """One event, written in the transaction of the change it describes.

    It is the record of what still has to reach shoppers (``pending``) and, once the relay gives it a
    ``position``, the replayable log that sockets and the polling feed resume from. Positions are
    assigned by one relay at a time in commit order, so a reader that has seen position N has seen
    every committed position below N.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SEQUENCED = "sequenced", "Sequenced, not yet pushed"
        PUBLISHED = "published", "Published"
        DEAD = "dead", "Dead letter"

    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=40)
    deal_id = models.BigIntegerField(db_index=True, help_text="Shard key: one deal's events keep their order.")
    market_id = models.BigIntegerField()
    cells = ArrayField(models.CharField(max_length=16), help_text="Groups the event is pushed to.")
    footprints = models.JSONField(
        help_text="Where and what the deal was before and after the change: [[lat, lng, category_id], ...]."
    )
    envelope = models.JSONField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    position = models.BigIntegerField(null=True, blank=True, unique=True)
    attempts = models.PositiveIntegerField(default=0)
    scheduled_for = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sequenced_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "realtime_outboxevent"
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["scheduled_for", "id"],
                name="outbox_pending_due",
                condition=models.Q(state="pending"),
            ),
            # The relay takes pending rows in id order, a batch at a time (``realtime.relay.sequence_batch``).
            models.Index(fields=["id"], name="outbox_pending_id", condition=models.Q(state="pending")),
            models.Index(
                fields=["sequenced_at"],
                name="outbox_sequenced",
                condition=models.Q(state="sequenced"),
            ),
            models.Index(fields=["created_at"], name="outbox_created"),
        ]

    def __str__(self) -> str:
        return f"{self.type} deal={self.deal_id} position={self.position} ({self.state})"


class LogHead(models.Model):
    """The single row holding the last position handed out; updated only under the relay lock."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    position = models.BigIntegerField(default=0)
    epoch = models.CharField(
        max_length=16, default=new_epoch,
        help_text="Which log this is; changed when positions went back (eventlog.epoch).",
    )
    pruned_through = models.BigIntegerField(
        default=0, help_text="Events at or below this position were deleted; older cursors get a fresh snapshot."
    )

    class Meta:
        db_table = "realtime_loghead"


class LogConsumer(models.Model):
    """A reader of the log other than the sockets (a consumer group of one row): how far it has read.

    Pruning never deletes past the slowest consumer, so a consumer catches up after downtime.
    """

    name = models.CharField(max_length=40, primary_key=True)
    position = models.BigIntegerField(default=0, help_text="Every event at or below this was handled.")
    epoch = models.CharField(max_length=16, blank=True, help_text="The log epoch the position belongs to.")
    deduplicated = models.BigIntegerField(default=0, help_text="Decisions a replay found already made.")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "realtime_logconsumer"

    def __str__(self) -> str:
        return f"{self.name} at {self.position}"
