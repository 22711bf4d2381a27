"""Orders for the derivatives app's liquidation engine."""
from datetime import datetime
from decimal import Decimal

from orders import events
from orders.models import Order, OrderEvent, OrderRole, OrderStatus, OrderType, Side, TimeInForce, Trade
from orders.requests import OrderRequest
from orders.services.fills import _execute, _record_fill
from orders.services.lifecycle import _finish
from orders.services.placement import _create_order
from portfolios.models import Portfolio, Position


def position_orders_cancel(*, portfolio: Portfolio, instrument_id, reason: str) -> int:
    """Cancel every open order of the portfolio in one instrument (a position being liquidated).
    Call inside the transaction holding the portfolio lock."""
    cancelled = 0
    for order in Order.objects.select_for_update(of=("self",)).select_related("instrument").filter(
            portfolio=portfolio, instrument_id=instrument_id, status__in=OrderStatus.open()).order_by("pk"):
        _finish(order, OrderStatus.CANCELLED, reason, OrderEvent.Kind.CANCELLED)
        cancelled += 1
    return cancelled


def order_liquidate(*, portfolio: Portfolio, position: Position, quantity: Decimal, now: datetime,
                    tag: str, price: Decimal | None = None) -> list[Trade]:
    """Close `quantity` of a position for the liquidation engine with a reduce-only order tagged `tag`,
    skipping the pre-trade checks and the simulated latency.

    Without a price: an immediate-or-cancel market order walking the live book now. With a price:
    one fill at exactly that price and no fee (the insurance fund takes the position over at its
    bankruptcy price, or an ADL counterparty is closed there). Call inside the transaction holding
    the portfolio lock; returns the order's trades.
    """
    side = Side.SELL if position.side == Position.Direction.LONG else Side.BUY
    request = OrderRequest(symbol=position.instrument.symbol, side=side, order_type=OrderType.MARKET,
                           quantity=quantity, time_in_force=TimeInForce.IOC, reduce_only=True, tags=(tag,))
    order = _create_order(portfolio=portfolio, request=request, now=now, role=OrderRole.SINGLE, group_id=None,
                          checks=False)
    if order.latency_ms:
        order.latency_ms = 0
        order.save(update_fields=["latency_ms", "updated_at"])
    events.order_changed(order, "created")
    if price is None:
        _execute(order=order, portfolio=portfolio, now=now)
    else:
        _record_fill(order=order, portfolio=portfolio, quantity=quantity, price=price, fee=Decimal(0),
                     slippage=Decimal(0), liquidity="taker", explanation={"liquidation": tag, "price": f"{price:f}"},
                     now=now)
    return list(order.trades.order_by("executed_at", "pk"))
