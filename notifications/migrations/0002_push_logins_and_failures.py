from django.db import migrations, models


def forget_subscriptions_without_login(apps, schema_editor):
    """Subscriptions from before logins were recorded belong to no login: the browser's page offers to
    turn notifications on again, which binds them to the login it is in."""
    apps.get_model("notifications", "PushSubscription").objects.filter(session_key="").delete()


class Migration(migrations.Migration):

    dependencies = [
        ('notifications', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='notification',
            name='failure',
            field=models.CharField(blank=True, help_text='What last went wrong, in a word (timeout, status, redirect, keys, …).', max_length=12),
        ),
        migrations.AddField(
            model_name='notificationpreferences',
            name='digest_since',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name='pushsubscription',
            name='session_key',
            field=models.CharField(db_index=True, default='', editable=False, max_length=40),
            preserve_default=False,
        ),
        migrations.RunPython(forget_subscriptions_without_login, migrations.RunPython.noop),
    ]
