from django.core.management.base import BaseCommand

from demo.accounts import DEMO_PASSWORDS
from demo.seeding import seed_demo_city


class Command(BaseCommand):
    help = "Create the demo city (markets, categories, deals, a shopper, staff, an admin). Idempotent."

    def handle(self, *args, **options):
        result = seed_demo_city()
        self.stdout.write(self.style.SUCCESS(f"Demo city ready ({result['created_deals']} new deals)."))
        self.stdout.write(
            "Logins: shopper / {shopper}, staff01..staff24 / {staff}, admin / {admin}".format(**DEMO_PASSWORDS)
        )
