from django.urls import re_path

from haunt.market.api import SYMBOL_PATTERN
from strategies.api import IndicatorSeriesView

urlpatterns = [
    re_path(rf"^market/indicators/(?P<symbol>{SYMBOL_PATTERN})$", IndicatorSeriesView.as_view(),
            name="market-indicators"),
]
