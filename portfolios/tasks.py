from celery import shared_task
from django.utils import timezone

from portfolios.positions import borrow_fees_charge_due


@shared_task(name="portfolios.charge_borrow_fees")
def charge_borrow_fees() -> int:
    """Charge open shorts for every midnight held since their last charge; reruns charge nothing twice."""
    return borrow_fees_charge_due(now=timezone.now())
