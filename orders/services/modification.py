"""Modifying an open order's quantity, prices, trail or expiry."""
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from haunt.errors import Conflict, DomainError
from haunt.market import state
from haunt.money import is_multiple_of
from orders import events, triggers
from orders.models import Order, OrderEvent, OrderStatus, OrderType, TimeInForce
from orders.services.fills import _schedule_or_execute
from orders.services.lifecycle import _locked_order_for_user, _text


MODIFIABLE_BY_TYPE = {
    OrderType.MARKET: ("quantity",),
    OrderType.LIMIT: ("quantity", "limit_price", "expires_at"),
    OrderType.STOP: ("quantity", "stop_price", "expires_at"),
    OrderType.TAKE_PROFIT: ("quantity", "stop_price", "expires_at"),
    OrderType.STOP_LIMIT: ("quantity", "stop_price", "limit_price", "expires_at"),
    OrderType.TRAILING_STOP: ("quantity", "trail_amount", "trail_percent", "expires_at"),
}


def order_modify(*, user, order_id, changes: dict, now: datetime | None = None) -> Order:
    """Change an open order; the change is recorded in its history, and a limit that the change
    makes marketable executes at once (after its latency)."""
    now = now or timezone.now()
    if not changes:
        raise DomainError("Nothing to change.", code="empty_change")
    with transaction.atomic(), state.one_market_instant():
        order, portfolio = _locked_order_for_user(user=user, order_id=order_id)
        if not order.is_open:
            raise Conflict("Only open orders can be modified.", code="order_not_open")
        allowed = MODIFIABLE_BY_TYPE[order.order_type]
        for field in changes:
            if field not in allowed:
                raise DomainError(f"A {order.order_type} order has no {field} to change.", code="not_modifiable",
                                  field=field)
        instrument = order.instrument
        if "quantity" in changes:
            quantity = changes["quantity"]
            if not is_multiple_of(quantity, instrument.lot_size) or quantity < instrument.min_quantity:
                raise DomainError("Quantity must be on the lot grid and at least the minimum.", code="invalid_lot_size",
                                  field="quantity")
            if quantity <= order.filled_quantity:
                raise DomainError("Quantity must stay above what has already filled.", code="below_filled",
                                  field="quantity")
        for field in ("limit_price", "stop_price", "trail_amount"):
            if field in changes and not is_multiple_of(changes[field], instrument.tick_size):
                raise DomainError(f"{field} must be a multiple of the tick size.", code="invalid_tick_size", field=field)
        if "expires_at" in changes:
            if order.time_in_force != TimeInForce.GTD:
                raise DomainError("Only GTD orders have an expiry to change.", code="not_modifiable", field="expires_at")
            if changes["expires_at"] <= now:
                raise DomainError("expires_at must be in the future.", code="invalid_expiry", field="expires_at")
        if "trail_amount" in changes and order.trail_percent is not None or \
                "trail_percent" in changes and order.trail_amount is not None:
            raise DomainError("A trailing stop keeps its kind of trail (amount or percent).", code="not_modifiable",
                              field="trail_amount" if "trail_amount" in changes else "trail_percent")

        before = {field: getattr(order, field) for field in changes}
        for field, value in changes.items():
            setattr(order, field, value)
        if order.order_type == OrderType.TRAILING_STOP and order.high_water_mark is not None:
            trail = triggers.trailing_start(side=triggers.Side(order.side), price=order.high_water_mark,
                                            tick_size=instrument.tick_size, trail_amount=order.trail_amount,
                                            trail_percent=order.trail_percent)
            order.stop_price = trail.stop_price
        order.save()
        OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.MODIFIED, detail={
            field: [_text(before[field]), _text(changes[field])] for field in changes})
        events.order_changed(order, "modified")
        # A working limit, or a stop limit whose stop has triggered, executes when the change makes it marketable.
        if order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) and order.execute_after is None \
                and order.status in (OrderStatus.ACCEPTED, OrderStatus.TRIGGERED, OrderStatus.PARTIALLY_FILLED):
            _schedule_or_execute(order=order, portfolio=portfolio, now=now)
        return order
