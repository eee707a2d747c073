import django.contrib.postgres.fields
import django.utils.timezone
import eventlog.epoch
import uuid
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    # The tables were made by the realtime app's migrations and keep their names (``db_table``):
    # this app takes over the models, and the database is left as it is.
    dependencies = [
        ("realtime", "0005_outbox_pending_id"),
    ]

    operations = [migrations.SeparateDatabaseAndState(state_operations=[
        migrations.CreateModel(
            name='LogConsumer',
            fields=[
                ('name', models.CharField(max_length=40, primary_key=True, serialize=False)),
                ('position', models.BigIntegerField(default=0, help_text='Every event at or below this was handled.')),
                ('epoch', models.CharField(blank=True, help_text='The log epoch the position belongs to.', max_length=16)),
                ('deduplicated', models.BigIntegerField(default=0, help_text='Decisions a replay found already made.')),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'db_table': 'realtime_logconsumer',
            },
        ),
        migrations.CreateModel(
            name='LogHead',
            fields=[
                ('id', models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ('position', models.BigIntegerField(default=0)),
                ('epoch', models.CharField(default=eventlog.epoch.new_epoch, help_text='Which log this is; changed when positions went back (eventlog.epoch).', max_length=16)),
                ('pruned_through', models.BigIntegerField(default=0, help_text='Events at or below this position were deleted; older cursors get a fresh snapshot.')),
            ],
            options={
                'db_table': 'realtime_loghead',
            },
        ),
        migrations.CreateModel(
            name='OutboxEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('event_id', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('type', models.CharField(max_length=40)),
                ('deal_id', models.BigIntegerField(db_index=True, help_text="Shard key: one deal's events keep their order.")),
                ('market_id', models.BigIntegerField()),
                ('cells', django.contrib.postgres.fields.ArrayField(base_field=models.CharField(max_length=16), help_text='Groups the event is pushed to.', size=None)),
                ('footprints', models.JSONField(help_text='Where and what the deal was before and after the change: [[lat, lng, category_id], ...].')),
                ('envelope', models.JSONField()),
                ('state', models.CharField(choices=[('pending', 'Pending'), ('sequenced', 'Sequenced, not yet pushed'), ('published', 'Published'), ('dead', 'Dead letter')], default='pending', max_length=10)),
                ('position', models.BigIntegerField(blank=True, null=True, unique=True)),
                ('attempts', models.PositiveIntegerField(default=0)),
                ('scheduled_for', models.DateTimeField(default=django.utils.timezone.now)),
                ('last_error', models.TextField(blank=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('sequenced_at', models.DateTimeField(blank=True, null=True)),
                ('published_at', models.DateTimeField(blank=True, null=True)),
            ],
            options={
                'db_table': 'realtime_outboxevent',
                'ordering': ['id'],
                'indexes': [models.Index(condition=models.Q(('state', 'pending')), fields=['scheduled_for', 'id'], name='outbox_pending_due'), models.Index(condition=models.Q(('state', 'pending')), fields=['id'], name='outbox_pending_id'), models.Index(condition=models.Q(('state', 'sequenced')), fields=['sequenced_at'], name='outbox_sequenced'), models.Index(fields=['created_at'], name='outbox_created')],
            },
        ),
    ])]
