"""Realtime payloads for orders and trades; called only from orders.services, always on commit.
Each payload is the REST representation of the object."""
from haunt.realtime import ORDERS, broadcast_on_commit
from orders.changes import order_changed_on_commit
from orders.serializers import OrderOut, TradeOut


def order_changed(order, change: str) -> None:
    """OrderUpdate with `change`: created, activated, triggered, modified, partial_fill, filled,
    cancelled, expired or rejected; and the order engine is told the order changed."""
    broadcast_on_commit(portfolio_id=order.portfolio_id, stream=ORDERS, event="OrderUpdate",
                        data=dict(OrderOut(order).data), change=change)
    order_changed_on_commit(order.pk)


def trade_executed(trade) -> None:
    broadcast_on_commit(portfolio_id=trade.portfolio_id, stream=ORDERS, event="TradeExecution",
                        data=dict(TradeOut(trade).data))
