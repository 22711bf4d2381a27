import django_filters

from haunt.api.filters import OwnedObjectFilter, UtcIsoDateTimeFilter
from orders.models import Order, OrderStatus, OrderType, Side, Trade
from orders.selectors import order_get_for_user, trade_get_for_user
from portfolios.filters import OwnedPortfolioFilter


class OwnedOrderFilter(OwnedObjectFilter):
    def __init__(self, **kwargs):
        super().__init__(owned_get=lambda user, order_id: order_get_for_user(user=user, order_id=order_id),
                         field_name="order_id", **kwargs)


class OwnedTradeFilter(OwnedObjectFilter):
    def __init__(self, **kwargs):
        super().__init__(owned_get=lambda user, trade_id: trade_get_for_user(user=user, trade_id=trade_id),
                         field_name="trade_id", **kwargs)



class OrderFilter(django_filters.FilterSet):
    portfolio = OwnedPortfolioFilter()
    symbol = django_filters.CharFilter(field_name="instrument__symbol")
    status = django_filters.MultipleChoiceFilter(choices=OrderStatus.choices)
    side = django_filters.ChoiceFilter(choices=Side.choices)
    order_type = django_filters.MultipleChoiceFilter(choices=OrderType.choices)
    is_open = django_filters.BooleanFilter(method="filter_is_open")
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Order
        fields = ["portfolio", "symbol", "status", "side", "order_type", "client_order_id"]

    def filter_is_open(self, queryset, name, value):
        return queryset.filter(status__in=OrderStatus.open()) if value else queryset.exclude(status__in=OrderStatus.open())


class TradeFilter(django_filters.FilterSet):
    portfolio = OwnedPortfolioFilter()
    symbol = django_filters.CharFilter(field_name="instrument__symbol")
    order = OwnedOrderFilter()
    executed_after = UtcIsoDateTimeFilter(field_name="executed_at", lookup_expr="gte")
    executed_before = UtcIsoDateTimeFilter(field_name="executed_at", lookup_expr="lt")

    class Meta:
        model = Trade
        fields = ["portfolio", "symbol", "side", "order"]
