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

    def filter_queryset(self, queryset):
        """Option contracts (listed by the thousand as chains are read) only when asked for: with
        asset_class=option or an underlying. Otherwise they would crowd out the instruments."""
        asked_for_options = AssetClass.OPTION in (self.form.cleaned_data.get("asset_class") or []) \
            or self.form.cleaned_data.get("underlying")
        if not asked_for_options:
            queryset = queryset.exclude(asset_class=AssetClass.OPTION)
        return super().filter_queryset(queryset)

    def filter_search(self, queryset, name, value):
        return queryset.filter(Q(symbol__icontains=value) | Q(name__icontains=value))
