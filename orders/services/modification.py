"""Modifying an open order's quantity, prices, trail or expiry."""
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from haunt.errors import Conflict, DomainError
from haunt.market import state
from haunt.money import is_multiple_of
from orders import events, triggers
from orders.market_view import live_prices
from orders.models import Order, OrderEvent, OrderRole, OrderStatus, OrderType, TimeInForce
from orders.requests import OrderRequest
from orders.risk import pre_trade_checks
from orders.services.fills import _schedule_or_execute
from orders.services.lifecycle import _locked_order_for_user, _text


PRICE_FIELDS = ("limit_price", "stop_price", "trail_amount", "trail_percent")

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
    makes marketable executes at once (after its latency). A change that could open more, or at
    another price, passes the pre-trade checks a new order of what is left would (risk limits,
    buying power, reduce-only), and the order's warnings become theirs."""
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
        for field in PRICE_FIELDS:
            if field in changes and changes[field] <= 0:
                raise DomainError(f"{field} must be positive.", code="min_value", field=field)
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
        if _is_checked_like_a_new_order(order, changes):
            order.warnings = pre_trade_checks(
                portfolio=portfolio, instrument=instrument, request=_modified_remainder(order, changes),
                prices=live_prices(instrument.symbol), protective_stop=_protective_stop(order))

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


def _is_checked_like_a_new_order(order: Order, changes: dict) -> bool:
    """Whether a change could make the order open more, or open at another price, than placement
    checked: a bigger quantity or any new price or trail. Lowering the quantity or moving the
    expiry only takes risk away. Exits (a bracket's, a position's) close what was opened, were
    placed without the opening checks, and are modified without them too."""
    if order.role in (OrderRole.TAKE_PROFIT, OrderRole.STOP_LOSS):
        return False
    return changes.get("quantity", order.quantity) > order.quantity or any(field in changes for field in PRICE_FIELDS)


def _modified_remainder(order: Order, changes: dict) -> OrderRequest:
    """What is left to fill of the order once changed, as a new order would ask for it: the
    pre-trade checks then count its filled part once, in the position it already went to."""
    changed = {field: changes.get(field, getattr(order, field)) for field in ("quantity", *PRICE_FIELDS)}
    return OrderRequest(
        symbol=order.instrument.symbol, side=order.side, order_type=order.order_type,
        quantity=changed["quantity"] - order.filled_quantity, time_in_force=order.time_in_force,
        limit_price=changed["limit_price"], stop_price=changed["stop_price"], trail_amount=changed["trail_amount"],
        trail_percent=changed["trail_percent"], trigger_source=order.trigger_source, reduce_only=order.reduce_only,
        post_only=order.post_only, leverage=order.leverage, margin_mode=order.margin_mode)


def _protective_stop(order: Order) -> Decimal | None:
    """A bracket entry's stop-loss price, which placement checked its risk per trade against."""
    if order.role != OrderRole.ENTRY:
        return None
    return Order.objects.filter(parent=order, role=OrderRole.STOP_LOSS).values_list("stop_price", flat=True).first()
