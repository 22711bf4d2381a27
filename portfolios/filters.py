import django_filters

from haunt.api.filters import OwnedObjectFilter, UtcIsoDateTimeFilter
from portfolios.models import LedgerEntry, Position
from portfolios.selectors import portfolio_get_for_user, position_get_for_user


class LedgerFilter(django_filters.FilterSet):
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = LedgerEntry
        fields = ["kind"]


class OwnedPortfolioFilter(OwnedObjectFilter):
    """`?portfolio=`: one of the user's portfolios (archived ones included), 404 for anyone else's."""

    def __init__(self, **kwargs):
        super().__init__(owned_get=lambda user, portfolio_id: portfolio_get_for_user(
            user=user, portfolio_id=portfolio_id), field_name="portfolio_id", **kwargs)


class OwnedPositionFilter(OwnedObjectFilter):
    def __init__(self, **kwargs):
        super().__init__(owned_get=lambda user, position_id: position_get_for_user(
            user=user, position_id=position_id), field_name="position_id", **kwargs)


class PositionFilter(django_filters.FilterSet):
    """The positions lists (open, and the closed ones of /api/history/positions)."""
    portfolio = OwnedPortfolioFilter()
    symbol = django_filters.CharFilter(field_name="instrument__symbol")

    class Meta:
        model = Position
        fields = []
