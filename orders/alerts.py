"""Alerts the order domain raises (spec §13: order filled, cancelled or expired, stop loss and take
profit hit); called only from orders.services, inside the transaction that makes the change, so an
alert goes out exactly when the change commits."""
from notifications.models import AlertType
from notifications.services import notify
from orders.models import Order, OrderRole, OrderStatus
from orders.serializers import OrderOut

EXIT_HIT = {OrderRole.STOP_LOSS: (AlertType.STOP_LOSS_HIT, "Stop loss"),
            OrderRole.TAKE_PROFIT: (AlertType.TAKE_PROFIT_HIT, "Take profit")}


def _quantity(value) -> str:
    return f"{value.normalize():f}"


def order_filled(order: Order, owner_id) -> None:
    """Order filled; for a stop-loss or take-profit exit, also that its level was hit."""
    data = {"order": dict(OrderOut(order).data)}
    summary = (f"{order.side} {_quantity(order.filled_quantity)} {order.instrument.symbol} "
               f"@ {_quantity(order.average_fill_price)}")
    notify(user_id=owner_id, alert_type=AlertType.ORDER_FILLED, message=f"Order filled: {summary}.", payload=data,
           portfolio_id=order.portfolio_id)
    if order.role in EXIT_HIT:
        alert_type, label = EXIT_HIT[order.role]
        notify(user_id=owner_id, alert_type=alert_type, message=f"{label} hit: {summary}.", payload=data,
               portfolio_id=order.portfolio_id)


def order_ended(order: Order) -> None:
    """Order cancelled or expired (the payload's order says which, and why)."""
    if order.status not in (OrderStatus.CANCELLED, OrderStatus.EXPIRED):
        return
    owner_id = order.portfolio.owner_id
    notify(user_id=owner_id, alert_type=AlertType.ORDER_CANCELLED,
           message=f"Order {order.status}: {order.side} {_quantity(order.quantity)} {order.instrument.symbol}"
                   f" ({order.reject_reason})",
           payload={"order": dict(OrderOut(order).data)}, portfolio_id=order.portfolio_id)
