from celery import shared_task
from django.utils import timezone

from derivatives.services import funding_settle_due, liquidation_sweep, premium_sample_all


@shared_task(name="derivatives.sample_premium_index", expires=50)
def sample_premium_index() -> int:
    """Every minute: each perpetual's premium index, the samples its next funding rate averages."""
    return premium_sample_all(now=timezone.now())


@shared_task(name="derivatives.settle_funding")
def settle_funding() -> int:
    """At 00:00, 08:00 and 16:00 UTC: fix each perpetual's funding rate and book every open position's
    payment; a late or repeated run settles each funding time once."""
    return funding_settle_due(now=timezone.now())


@shared_task(name="derivatives.liquidation_sweep", expires=50)
def liquidation_sweep_task() -> dict:
    """Every minute: re-check every leveraged position from the database (the watcher's backstop),
    store liquidation prices and ADL scores. Safe to run twice at once: the row locks serialise it."""
    return liquidation_sweep(now=timezone.now())
