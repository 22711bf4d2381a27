from celery import shared_task
from django.utils import timezone

from options_trading.services import early_assignments_run, option_quotes_refresh, options_expire_due


@shared_task(name="options.refresh_quotes", expires=2)
def refresh_quotes() -> int:
    """Re-quote the option contracts that have open positions or orders, off their underlyings' live mids."""
    return option_quotes_refresh(now=timezone.now())


@shared_task(name="options.expire_contracts", expires=50)
def expire_contracts() -> int:
    """Exercise, assign or expire every contract whose expiry has passed; reruns settle nothing twice."""
    return options_expire_due(now=timezone.now())


@shared_task(name="options.early_assignments", expires=1800)
def early_assignments() -> int:
    """Assign the short American options the early-assignment model says holders would exercise now."""
    return early_assignments_run(now=timezone.now())
