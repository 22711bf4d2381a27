"""Fills booked off the book at a set price (option exercise, assignment, expiry, delivery)."""
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from haunt.market.models import Instrument
from orders import events, execution
from orders.models import Order, OrderEvent, OrderStatus, OrderType
from orders.services.fills import _record_fill
from portfolios.models import Portfolio


def order_settle_at_price(*, portfolio: Portfolio, symbol: str, side: str, quantity: Decimal, price: Decimal,
                          reason: str, now: datetime) -> Order:
    """Book a fill that happens off the book at a set price (an option's exercise, assignment,
    expiry or cash settlement, or the delivery of its underlying) as a filled market order with
    one fee-free trade, tagged with `reason`. Call inside the transaction holding the portfolio lock."""
    assert transaction.get_connection().in_atomic_block, "order_settle_at_price needs the caller's transaction"
    order = Order(portfolio=portfolio, instrument=Instrument.objects.get(symbol=symbol), side=side,
                  order_type=OrderType.MARKET, status=OrderStatus.ACCEPTED, quantity=quantity,
                  realism_profile=portfolio.realism_profile, tags=[reason], arrival_price=price)
    order.save(force_insert=True)
    OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.CREATED, detail={"settlement": reason})
    events.order_changed(order, "created")
    _record_fill(order=order, portfolio=portfolio, quantity=quantity, price=price, fee=Decimal(0), slippage=Decimal(0),
                 liquidity=execution.Liquidity.TAKER.value, explanation={"settlement": reason}, now=now)
    return order
