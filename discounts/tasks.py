from celery import shared_task

from discounts.services import discounts_apply_schedule


@shared_task(ignore_result=True)
def apply_schedule() -> None:
    discounts_apply_schedule()
