"""What the engine does to an order as the market moves: triggers, resting fills, trailing, expiry."""
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from haunt.market import state
from orders import events
from orders.models import Order, OrderEvent, OrderStatus, OrderType
from orders.services.fills import _fill_resting_limit, _schedule_or_execute
from orders.services.lifecycle import _cancel_oco_sibling, _finish, _text
from portfolios.models import Portfolio
from portfolios.selectors import portfolio_get


def _locked_for_engine(order_id) -> tuple[Order, Portfolio] | None:
    """Lock the portfolio, then the order; None when the order is gone."""
    portfolio_id = Order.objects.filter(pk=order_id).values_list("portfolio_id", flat=True).first()
    if portfolio_id is None:
        return None
    portfolio = portfolio_get(portfolio_id=portfolio_id, for_update=True)
    return Order.objects.select_for_update(of=("self",)).select_related("instrument").get(pk=order_id), portfolio


def order_fire(*, order_id, now: datetime) -> Order | None:
    """The engine saw the market reach this order's level: trigger a stop, take-profit or trailing stop
    (it becomes a market order, a stop limit becomes a limit), or fill a resting limit the market
    crossed. Idempotent: an order no longer in that state is left alone."""
    with transaction.atomic(), state.one_market_instant():
        locked = _locked_for_engine(order_id)
        if locked is None:
            return None
        order, portfolio = locked
        if order.status == OrderStatus.PENDING_TRIGGER:
            order.status = OrderStatus.TRIGGERED
            order.triggered_at = now
            order.save(update_fields=["status", "triggered_at", "updated_at"])
            OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.TRIGGERED,
                                      detail={"stop_price": _text(order.stop_price)})
            events.order_changed(order, "triggered")
            _cancel_oco_sibling(order, "The other leg of its OCO pair triggered.")
            _schedule_or_execute(order=order, portfolio=portfolio, now=now)
        elif order.is_open and order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) \
                and order.status != OrderStatus.HELD and order.execute_after is None:
            _fill_resting_limit(order=order, portfolio=portfolio, now=now)
        return order


def order_trade_through(*, order_id, traded_quantity: Decimal, now: datetime) -> Order | None:
    """The market traded `traded_quantity` at or through this resting limit's price without the
    other side crossing it: the volume first works through the queue ahead of the order, and what
    is left fills it, at its limit, as maker (execution.simulate_resting_limit_update). The queue
    left ahead is saved. Idempotent for an order no longer resting."""
    with transaction.atomic(), state.one_market_instant():
        locked = _locked_for_engine(order_id)
        if locked is None:
            return None
        order, portfolio = locked
        if order.is_open and order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) \
                and order.status not in (OrderStatus.HELD, OrderStatus.PENDING_TRIGGER) and order.execute_after is None:
            _fill_resting_limit(order=order, portfolio=portfolio, now=now, traded_quantity=traded_quantity)
        return order


def order_trail(*, order_id, high_water_mark: Decimal, stop_price: Decimal) -> None:
    """Persist a trailing stop's new high-water mark and stop (the engine moved them)."""
    Order.objects.filter(pk=order_id, status=OrderStatus.PENDING_TRIGGER).update(
        high_water_mark=high_water_mark, stop_price=stop_price, updated_at=timezone.now())


def order_expire(*, order_id, now: datetime) -> Order | None:
    """Expire an open GTD or DAY order whose time has come."""
    with transaction.atomic():
        locked = _locked_for_engine(order_id)
        if locked is None:
            return None
        order, _ = locked
        if order.is_open and order.expires_at is not None and order.expires_at <= now:
            _finish(order, OrderStatus.EXPIRED, "Expired.", OrderEvent.Kind.EXPIRED)
            for child in Order.objects.select_for_update(of=("self",)).select_related("instrument").filter(
                    parent=order, status=OrderStatus.HELD):
                _finish(child, OrderStatus.CANCELLED, "Its bracket entry expired unfilled.", OrderEvent.Kind.CANCELLED)
        return order
