import django_filters

from orders.models import Order, OrderStatus, OrderType, Side, Trade


class OrderFilter(django_filters.FilterSet):
    portfolio = django_filters.UUIDFilter(field_name="portfolio_id")
    symbol = django_filters.CharFilter(field_name="instrument__symbol")
    status = django_filters.MultipleChoiceFilter(choices=OrderStatus.choices)
    side = django_filters.ChoiceFilter(choices=Side.choices)
    order_type = django_filters.MultipleChoiceFilter(choices=OrderType.choices)
    is_open = django_filters.BooleanFilter(method="filter_is_open")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Order
        fields = ["portfolio", "symbol", "status", "side", "order_type", "client_order_id"]

    def filter_is_open(self, queryset, name, value):
        return queryset.filter(status__in=OrderStatus.open()) if value else queryset.exclude(status__in=OrderStatus.open())


class TradeFilter(django_filters.FilterSet):
    portfolio = django_filters.UUIDFilter(field_name="portfolio_id")
    symbol = django_filters.CharFilter(field_name="instrument__symbol")
    order = django_filters.UUIDFilter(field_name="order_id")
    executed_after = django_filters.IsoDateTimeFilter(field_name="executed_at", lookup_expr="gte")
    executed_before = django_filters.IsoDateTimeFilter(field_name="executed_at", lookup_expr="lt")

    class Meta:
        model = Trade
        fields = ["portfolio", "symbol", "side", "order"]
