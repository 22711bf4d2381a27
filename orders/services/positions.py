"""Orders on a position's behalf: closing it, and its stop-loss and take-profit exits."""
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from haunt.errors import Conflict, DomainError
from orders.market_view import live_prices
from orders.models import Order, OrderEvent, OrderRole, OrderStatus, OrderType, Side
from orders.requests import OrderRequest
from orders.services.groups import _link
from orders.services.lifecycle import _finish
from orders.services.placement import _create_order, _start, order_place
from portfolios.models import Position
from portfolios.positions import position_exits_changed
from portfolios.selectors import position_get_for_user
from portfolios.services import portfolio_lock_for_user


def position_close(*, user, position_id, quantity: Decimal | None = None) -> Order:
    """Close all of a position, or `quantity` of it, with a reduce-only market order."""
    position = position_get_for_user(user=user, position_id=position_id)
    if position.status != Position.Status.OPEN:
        raise Conflict("This position is already closed.", code="position_closed")
    quantity = position.quantity if quantity is None else quantity
    if quantity > position.quantity:
        raise DomainError(f"The position holds {position.quantity.normalize():f}.", code="exceeds_position",
                          field="quantity")
    side = Side.SELL if position.side == Position.Direction.LONG else Side.BUY
    order, _ = order_place(user=user, portfolio_id=position.portfolio_id, request=OrderRequest(
        symbol=position.instrument.symbol, side=side, order_type=OrderType.MARKET, quantity=quantity,
        reduce_only=True))
    return order


def position_set_exits(*, user, position_id, stop_loss: Decimal | None, take_profit: Decimal | None,
                       now: datetime | None = None) -> Position:
    """Attach (or replace, or with both None remove) a position's stop-loss and take-profit. They
    become reduce-only exit orders for the whole position, linked one-cancels-other when both are set."""
    now = now or timezone.now()
    position = position_get_for_user(user=user, position_id=position_id)
    with transaction.atomic():
        portfolio = portfolio_lock_for_user(user=user, portfolio_id=position.portfolio_id)
        position = Position.objects.select_for_update(of=("self",)).select_related("instrument").get(pk=position.pk)
        if position.status != Position.Status.OPEN:
            raise Conflict("This position is closed.", code="position_closed")
        is_long = position.side == Position.Direction.LONG
        prices = live_prices(position.instrument.symbol)
        reference = prices and (prices["bid"] if is_long else prices["ask"])
        if reference is not None:
            if stop_loss is not None and ((stop_loss >= reference) if is_long else (stop_loss <= reference)):
                raise DomainError("The stop-loss must be on the losing side of the current price.",
                                  code="invalid_stop_loss", field="stop_loss")
            if take_profit is not None and ((take_profit <= reference) if is_long else (take_profit >= reference)):
                raise DomainError("The take-profit must be on the profitable side of the current price.",
                                  code="invalid_take_profit", field="take_profit")
        for existing in Order.objects.select_for_update(of=("self",)).select_related("instrument").filter(
                position=position, status__in=OrderStatus.open()):
            _finish(existing, OrderStatus.CANCELLED, "Replaced by new position exits.", OrderEvent.Kind.CANCELLED)
        side = Side.SELL if is_long else Side.BUY
        symbol, quantity = position.instrument.symbol, position.quantity
        created = []
        if take_profit is not None:
            created.append(_create_order(portfolio=portfolio, now=now, role=OrderRole.TAKE_PROFIT, group_id=None,
                                         checks=False, request=OrderRequest(
                                             symbol=symbol, side=side, order_type=OrderType.LIMIT, quantity=quantity,
                                             limit_price=take_profit, reduce_only=True)))
        if stop_loss is not None:
            created.append(_create_order(portfolio=portfolio, now=now, role=OrderRole.STOP_LOSS, group_id=None,
                                         checks=False, request=OrderRequest(
                                             symbol=symbol, side=side, order_type=OrderType.STOP, quantity=quantity,
                                             stop_price=stop_loss, reduce_only=True)))
        if len(created) == 2:
            _link(*created)
        for order in created:
            order.position = position
            order.save(update_fields=["position", "updated_at"])
            _start(order=order, portfolio=portfolio, now=now)
        position_exits_changed(position=position, stop_loss=stop_loss, take_profit=take_profit)
        return position
