"""Cancelling an order, with the legs linked to it."""
from django.db import transaction

from haunt.errors import Conflict
from orders.models import Order, OrderEvent, OrderRole, OrderStatus
from orders.services.lifecycle import _cancel_oco_sibling, _finish, _locked_order_for_user


def order_cancel(*, user, order_id) -> Order:
    """Cancel an open order, with the other leg of its OCO pair and, for a bracket entry, its exits."""
    with transaction.atomic():
        order, _ = _locked_order_for_user(user=user, order_id=order_id)
        if not order.is_open:
            raise Conflict("Only open orders can be cancelled.", code="order_not_open")
        _finish(order, OrderStatus.CANCELLED, "Cancelled by the user.", OrderEvent.Kind.CANCELLED)
        if order.role in (OrderRole.OCO, OrderRole.STOP_LOSS, OrderRole.TAKE_PROFIT):
            _cancel_oco_sibling(order, "The other leg of its OCO pair was cancelled.")
        for child in Order.objects.select_for_update(of=("self",)).select_related("instrument").filter(
                parent=order, status__in=OrderStatus.open()):
            if order.filled_quantity == 0 or child.status == OrderStatus.HELD:
                _finish(child, OrderStatus.CANCELLED, "Its bracket entry was cancelled.", OrderEvent.Kind.CANCELLED)
        return order
