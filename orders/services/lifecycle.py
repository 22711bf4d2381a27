"""Order state changes every topic shares: finishing an order, starting a trailing stop, cancelling
an OCO sibling, and locking an order for its owner."""
from datetime import datetime

from django.utils import timezone

from orders import alerts, events, triggers
from orders.market_view import live_prices
from orders.models import Order, OrderEvent, OrderStatus, OrderType
from orders.selectors import order_get_for_user
from portfolios.models import Portfolio
from portfolios.selectors import portfolio_get


TRIGGERED_TYPES = (OrderType.STOP, OrderType.TAKE_PROFIT, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP)


def _finish(order: Order, status: str, reason: str, kind: str) -> None:
    order.status = status
    order.reject_reason = reason
    order.execute_after = None
    if status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED):
        order.cancelled_at = timezone.now()
    order.save(update_fields=["status", "reject_reason", "execute_after", "cancelled_at", "updated_at"])
    OrderEvent.objects.create(order=order, kind=kind, detail={"reason": reason})
    events.order_changed(order, {OrderStatus.CANCELLED: "cancelled", OrderStatus.EXPIRED: "expired",
                                 OrderStatus.REJECTED: "rejected"}.get(status, status))
    alerts.order_ended(order)


def _trailing_start(order: Order) -> None:
    prices = live_prices(order.instrument.symbol)
    if prices is None:
        return
    # The mark starts from the price the engine will trail: last, mid, or the bid (sell) / ask (buy).
    reference = triggers.reference_price(
        prices=triggers.TickPrices(last=prices["last"], bid=prices["bid"], ask=prices["ask"], mid=prices["mid"],
                                   mark=prices["mark"]),
        source=triggers.PriceSource(order.trigger_source), side=triggers.Side(order.side))
    if reference is None:
        return
    trail = triggers.trailing_start(side=triggers.Side(order.side), price=reference,
                                    tick_size=order.instrument.tick_size, trail_amount=order.trail_amount,
                                    trail_percent=order.trail_percent)
    order.high_water_mark = trail.high_water_mark
    order.stop_price = trail.stop_price
    order.save(update_fields=["high_water_mark", "stop_price", "updated_at"])


def _locked_order_for_user(*, user, order_id) -> tuple[Order, Portfolio]:
    order = order_get_for_user(user=user, order_id=order_id)
    portfolio = portfolio_get(portfolio_id=order.portfolio_id, for_update=True)
    return Order.objects.select_for_update(of=("self",)).select_related("instrument").get(pk=order.pk), portfolio


def _text(value) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else f"{value:f}"


def _cancel_oco_sibling(order: Order, reason: str) -> None:
    if not order.linked_order_id:
        return
    sibling = Order.objects.select_for_update(of=("self",)).select_related("instrument").get(pk=order.linked_order_id)
    if sibling.is_open:
        _finish(sibling, OrderStatus.CANCELLED, reason, OrderEvent.Kind.CANCELLED)
