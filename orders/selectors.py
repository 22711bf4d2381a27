"""Reads for orders, trades and positions: owner-scoped for users, plain for the engine."""
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from haunt.errors import NotFound
from orders.models import Order, Trade


def order_list_for_user(*, user) -> QuerySet[Order]:
    return Order.objects.filter(portfolio__owner=user).select_related("instrument")


def order_get_for_user(*, user, order_id) -> Order:
    try:
        return order_list_for_user(user=user).get(pk=order_id)
    except (Order.DoesNotExist, ValidationError, ValueError):
        raise NotFound("Order not found.", field="order_id") from None


def order_get(*, order_id, for_update: bool = False) -> Order:
    orders = Order.objects.select_for_update(of=("self",)) if for_update else Order.objects
    return orders.select_related("instrument").get(pk=order_id)


def trade_list_for_user(*, user) -> QuerySet[Trade]:
    return Trade.objects.filter(portfolio__owner=user).select_related("instrument")


def trade_get_for_user(*, user, trade_id) -> Trade:
    try:
        return trade_list_for_user(user=user).get(pk=trade_id)
    except (Trade.DoesNotExist, ValidationError, ValueError):
        raise NotFound("Trade not found.", field="trade_id") from None
