"""Give the event log a new epoch after restoring the database, so no client resumes across it."""

from django.core.management.base import BaseCommand

from eventlog.epoch import rotate_epoch


class Command(BaseCommand):
    help = (
        "Start a new epoch of the event log: every cursor issued so far resumes from a fresh snapshot. "
        "Run it after restoring the database from a backup or promoting a replica."
    )

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"The event log's epoch is now {rotate_epoch()}.")
