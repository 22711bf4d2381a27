from celery import shared_task
from django.utils import timezone

from portfolios.positions import borrow_fees_charge_due
from portfolios.models import EquitySnapshot
from portfolios.services import equity_snapshots_take_all


@shared_task(name="portfolios.charge_borrow_fees")
def charge_borrow_fees() -> int:
    """Charge open shorts for every midnight held since their last charge; reruns charge nothing twice."""
    return borrow_fees_charge_due(now=timezone.now())


@shared_task(name="portfolios.snapshot_equity", expires=1800)
def snapshot_equity() -> int:
    """Hourly equity snapshot of every active portfolio (history for returns, drawdown and risk checks)."""
    return equity_snapshots_take_all(now=timezone.now())


@shared_task(name="portfolios.snapshot_equity_day_close")
def snapshot_equity_day_close() -> int:
    """The UTC day-close snapshot of every active portfolio (daily returns); reruns take none twice."""
    return equity_snapshots_take_all(now=timezone.now(), reason=EquitySnapshot.Reason.DAY_CLOSE)
