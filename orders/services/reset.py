"""Resetting a portfolio's trading: open orders cancelled, positions wiped, cash restored."""
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from orders.models import Order, OrderEvent, OrderStatus
from orders.services.lifecycle import _finish
from portfolios.models import Portfolio
from portfolios.positions import positions_wipe
from portfolios.services import portfolio_lock_for_user, portfolio_reset


def portfolio_reset_trading(*, user, portfolio_id, now: datetime | None = None) -> Portfolio:
    """Reset a portfolio (spec §9): cancel its open orders, wipe its positions (no trades, no P&L),
    then bring cash back to the starting balance. History is kept."""
    now = now or timezone.now()
    with transaction.atomic():
        portfolio = portfolio_lock_for_user(user=user, portfolio_id=portfolio_id)
        for order in Order.objects.select_for_update(of=("self",)).select_related("instrument").filter(
                portfolio=portfolio, status__in=OrderStatus.open()).order_by("pk"):
            _finish(order, OrderStatus.CANCELLED, "The portfolio was reset.", OrderEvent.Kind.CANCELLED)
        positions_wipe(portfolio=portfolio, now=now)
        return portfolio_reset(user=user, portfolio_id=portfolio_id)
