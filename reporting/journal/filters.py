"""Search and filters over journal entries, the same on SQLite and PostgreSQL: they match the
lowercase copies the journal services keep (`search_text`, `tag_index`)."""
import django_filters

from haunt.api.filters import UtcIsoDateTimeFilter
from orders.filters import OwnedOrderFilter, OwnedTradeFilter
from portfolios.filters import OwnedPortfolioFilter, OwnedPositionFilter
from reporting.models import JournalEntry


class JournalEntryFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_text", help_text="Words in the title, note, tags or symbol.")
    tag = django_filters.CharFilter(method="filter_tag", help_text="Entries carrying this tag (any case).")
    symbol = django_filters.CharFilter(field_name="instrument__symbol", lookup_expr="iexact")
    portfolio = OwnedPortfolioFilter()
    order = OwnedOrderFilter()
    trade = OwnedTradeFilter()
    position = OwnedPositionFilter()
    date = django_filters.DateFilter(field_name="created_at", lookup_expr="date", help_text="Written on this UTC day.")
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = JournalEntry
        fields = []

    def filter_text(self, queryset, name, value):
        for word in value.lower().split():
            queryset = queryset.filter(search_text__contains=word)
        return queryset

    def filter_tag(self, queryset, name, value):
        return queryset.filter(tag_index__contains=f"|{value.strip().lower()}|")
