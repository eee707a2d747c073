from django.db import migrations


class Migration(migrations.Migration):
    """The event log's models moved to the ``eventlog`` app; their tables stay where they are."""

    dependencies = [
        ("realtime", "0005_outbox_pending_id"),
        ("eventlog", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.DeleteModel(name="LogConsumer"),
            migrations.DeleteModel(name="LogHead"),
            migrations.DeleteModel(name="OutboxEvent"),
        ]),
    ]
