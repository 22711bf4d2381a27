"""Orders placed together: an OCO pair of exits, and a bracket (an entry with its take-profit and
stop-loss exits)."""
import dataclasses
import uuid
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from haunt.errors import DomainError
from haunt.market import state
from orders import events
from orders.market_view import live_prices
from orders.models import Order, OrderRole, OrderStatus, OrderType, Side, TimeInForce
from orders.requests import ExitLegs, OrderRequest
from orders.services.placement import _create_order, _start
from portfolios.services import portfolio_lock_for_user


def _exit_requests(*, symbol: str, side: str, quantity: Decimal, legs: ExitLegs, time_in_force: str,
                   expires_at, trigger_source: str) -> tuple[OrderRequest, OrderRequest]:
    take_profit = OrderRequest(symbol=symbol, side=side, order_type=OrderType.LIMIT, quantity=quantity,
                               limit_price=legs.take_profit_price, time_in_force=time_in_force, expires_at=expires_at)
    if legs.trail_amount is not None or legs.trail_percent is not None:
        stop_type = OrderType.TRAILING_STOP
    elif legs.stop_limit_price is not None:
        stop_type = OrderType.STOP_LIMIT
    else:
        stop_type = OrderType.STOP
    stop = OrderRequest(symbol=symbol, side=side, order_type=stop_type, quantity=quantity, stop_price=legs.stop_price,
                        limit_price=legs.stop_limit_price, trail_amount=legs.trail_amount,
                        trail_percent=legs.trail_percent, time_in_force=time_in_force, expires_at=expires_at,
                        trigger_source=trigger_source)
    return take_profit, stop


def _link(first: Order, second: Order) -> None:
    first.linked_order = second
    second.linked_order = first
    first.save(update_fields=["linked_order", "updated_at"])
    second.save(update_fields=["linked_order", "updated_at"])


def oco_place(*, user, portfolio_id, side: str, symbol: str, quantity: Decimal, legs: ExitLegs,
              time_in_force: str = TimeInForce.GTC, expires_at=None, client_order_id: str = "",
              trigger_source: str = "last", now: datetime | None = None) -> tuple[list[Order], bool]:
    """Two linked exits placed at once: a take-profit limit and a stop (watching `trigger_source`);
    when one fills or triggers, the other is cancelled. Legs of a broken shape are refused first
    (ExitLegs.validate, OrderRequest.validate)."""
    now = now or timezone.now()
    legs.validate()
    take_profit, stop = _exit_requests(symbol=symbol, side=side, quantity=quantity, legs=legs,
                                       time_in_force=time_in_force, expires_at=expires_at,
                                       trigger_source=trigger_source)
    take_profit.validate()
    stop.validate()
    with transaction.atomic(), state.one_market_instant():
        portfolio = portfolio_lock_for_user(user=user, portfolio_id=portfolio_id)
        if client_order_id:
            existing = Order.objects.filter(portfolio=portfolio, client_order_id=client_order_id).first()
            if existing is not None:
                return _group(existing), False
        group_id = uuid.uuid4()
        take_profit = dataclasses.replace(take_profit, client_order_id=client_order_id)
        first = _create_order(portfolio=portfolio, request=take_profit, now=now, role=OrderRole.OCO, group_id=group_id)
        second = _create_order(portfolio=portfolio, request=stop, now=now, role=OrderRole.OCO, group_id=group_id)
        _link(first, second)
        _start(order=second, portfolio=portfolio, now=now)
        _start(order=first, portfolio=portfolio, now=now)
        return _group(first), True


def bracket_place(*, user, portfolio_id, entry: OrderRequest, legs: ExitLegs,
                  now: datetime | None = None) -> tuple[list[Order], bool]:
    """Entry plus take-profit and stop-loss exits. The exits are held until the entry fills, then
    work as an OCO pair sized to what the entry has filled. A market or limit entry has no trigger,
    so the entry's trigger_source is the stop-loss's. Legs or an entry of a broken shape are
    refused first (ExitLegs.validate, OrderRequest.validate_as_bracket_entry)."""
    now = now or timezone.now()
    legs.validate()
    entry.validate_as_bracket_entry()
    with transaction.atomic(), state.one_market_instant():
        portfolio = portfolio_lock_for_user(user=user, portfolio_id=portfolio_id)
        if entry.client_order_id:
            existing = Order.objects.filter(portfolio=portfolio, client_order_id=entry.client_order_id).first()
            if existing is not None:
                return _group(existing), False
        group_id = uuid.uuid4()
        exit_side = Side.SELL if entry.side == Side.BUY else Side.BUY
        exit_tif = entry.time_in_force if entry.time_in_force in (TimeInForce.GTC, TimeInForce.GTD, TimeInForce.DAY) \
            else TimeInForce.GTC
        take_profit, stop = _exit_requests(
            symbol=entry.symbol, side=exit_side, quantity=entry.quantity, legs=legs, time_in_force=exit_tif,
            expires_at=entry.expires_at if exit_tif == TimeInForce.GTD else None, trigger_source=entry.trigger_source)
        # The exits only ever close what the entry opened: closing the position by hand retires them.
        take_profit = dataclasses.replace(take_profit, reduce_only=True)
        stop = dataclasses.replace(stop, reduce_only=True)
        _check_bracket_prices(entry=entry, legs=legs)
        parent = _create_order(portfolio=portfolio, request=entry, now=now, role=OrderRole.ENTRY, group_id=group_id,
                               protective_stop=legs.stop_price)
        # The exits close what the entry opens, so they skip the opening checks (buying power, sizing).
        take_profit_order = _create_order(portfolio=portfolio, request=take_profit, now=now,
                                          role=OrderRole.TAKE_PROFIT, group_id=group_id, status=OrderStatus.HELD,
                                          parent=parent, checks=False)
        stop_order = _create_order(portfolio=portfolio, request=stop, now=now, role=OrderRole.STOP_LOSS,
                                   group_id=group_id, status=OrderStatus.HELD, parent=parent, checks=False)
        _link(take_profit_order, stop_order)
        events.order_changed(take_profit_order, "created")
        events.order_changed(stop_order, "created")
        _start(order=parent, portfolio=portfolio, now=now)
        return _group(parent), True


def _check_bracket_prices(*, entry: OrderRequest, legs: ExitLegs) -> None:
    reference = entry.limit_price or entry.stop_price
    if reference is None:
        prices = live_prices(entry.symbol)
        reference = prices and (prices["ask"] if entry.side == Side.BUY else prices["bid"])
    if reference is None:
        return
    is_long = entry.side == Side.BUY
    if (legs.take_profit_price <= reference) if is_long else (legs.take_profit_price >= reference):
        raise DomainError("The take-profit must be on the profitable side of the entry.", code="invalid_bracket",
                          field="take_profit.limit_price")
    if legs.stop_price is not None and ((legs.stop_price >= reference) if is_long else (legs.stop_price <= reference)):
        raise DomainError("The stop-loss must be on the losing side of the entry.", code="invalid_bracket",
                          field="stop_loss.stop_price")


def _group(order: Order) -> list[Order]:
    """All legs placed in the same request as `order`: the one named first, then a bracket's entry,
    take-profit and stop-loss (by role, since legs created in one request may share a timestamp)."""
    if order.group_id is None:
        return [order]
    legs = list(Order.objects.filter(group_id=order.group_id).select_related("instrument").order_by("created_at"))
    legs.sort(key=lambda leg: (leg.pk != order.pk, leg.role != OrderRole.ENTRY, leg.role == OrderRole.STOP_LOSS,
                               leg.created_at))
    return legs
