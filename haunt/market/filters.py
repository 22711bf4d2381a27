import django_filters
from django.db.models import Q

from haunt.market.models import AssetClass, Instrument, TradingHours


class InstrumentFilter(django_filters.FilterSet):
    asset_class = django_filters.MultipleChoiceFilter(choices=AssetClass.choices)
    trading_hours = django_filters.ChoiceFilter(choices=TradingHours.choices)
    search = django_filters.CharFilter(method="filter_search", label="Symbol or name contains")
    underlying = django_filters.CharFilter(field_name="underlying__symbol")

    class Meta:
        model = Instrument
        fields = ["asset_class", "quote_currency", "base_currency", "liquidity_tier", "trading_hours", "underlying"]

    def filter_search(self, queryset, name, value):
        return queryset.filter(Q(symbol__icontains=value) | Q(name__icontains=value))
