from django.urls import path, re_path

from options_trading.api import (
    OptionChainView,
    OptionEventListView,
    OptionExerciseView,
    OptionImpliedVolatilityView,
    OptionMarginView,
    OptionPriceView,
    OptionSettingsView,
    PortfolioGreeksView,
    StrategyPlaceView,
    StrategyPreviewView,
)
from orders.api import UUID_PATTERN

urlpatterns = [
    re_path(r"^options/chains/(?P<underlying>[A-Za-z0-9._-]{1,32})$", OptionChainView.as_view(), name="option-chain"),
    path("options/price", OptionPriceView.as_view(), name="option-price"),
    path("options/implied-volatility", OptionImpliedVolatilityView.as_view(), name="option-implied-volatility"),
    path("options/strategies", StrategyPlaceView.as_view(), name="option-strategy"),
    path("options/strategies/preview", StrategyPreviewView.as_view(), name="option-strategy-preview"),
    re_path(rf"^options/positions/(?P<pk>{UUID_PATTERN})/exercise$", OptionExerciseView.as_view(),
            name="option-exercise"),
    path("options/greeks", PortfolioGreeksView.as_view(), name="option-greeks"),
    path("options/margin", OptionMarginView.as_view(), name="option-margin"),
    path("options/events", OptionEventListView.as_view(), name="option-events"),
    re_path(rf"^options/portfolios/(?P<pk>{UUID_PATTERN})/settings$", OptionSettingsView.as_view(),
            name="option-settings"),
]
