from celery import shared_task
from django.conf import settings
from django.utils import timezone

from haunt.market.services import minute_candles_prune


@shared_task(name="market.prune_minute_candles")
def prune_minute_candles() -> int:
    """Drop minute candles past retention; rerunning deletes nothing more."""
    return minute_candles_prune(now=timezone.now(), retention_days=settings.HAUNT_MINUTE_CANDLE_RETENTION_DAYS)
