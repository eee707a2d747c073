import random
import time

from django.core.management.base import BaseCommand, CommandError

from demo.seeding import simulate_step


class Command(BaseCommand):
    help = "Markets publish, change and withdraw deals through the staff code paths."

    def add_arguments(self, parser):
        parser.add_argument("--rate", type=float, default=1.0, help="Actions per second.")
        parser.add_argument("--duration", type=float, default=60.0, help="Seconds to run.")
        parser.add_argument("--seed", type=int, default=None)

    def handle(self, *args, rate, duration, seed, **options):
        if rate <= 0 or duration <= 0:
            raise CommandError("--rate and --duration must be positive.")
        rng = random.Random(seed)
        deadline = time.monotonic() + duration
        done = 0
        while time.monotonic() < deadline:
            started = time.monotonic()
            self.stdout.write(simulate_step(rng))
            done += 1
            time.sleep(max(0.0, 1.0 / rate - (time.monotonic() - started)))
        self.stdout.write(self.style.SUCCESS(f"{done} actions in {duration:g}s."))
