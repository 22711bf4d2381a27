from django.urls import path, re_path

from derivatives.api import (
    FundingPaymentListView,
    FundingView,
    InsuranceFundView,
    LiquidationListView,
    MarginHistoryView,
    PortfolioMarginView,
    PositionMarginView,
    TiersView,
    WarningLadderView,
)

SYMBOL_PATTERN = r"[A-Za-z0-9._-]{1,32}"
UUID_PATTERN = r"[0-9a-fA-F-]{32,36}"

urlpatterns = [
    re_path(rf"^derivatives/tiers/(?P<symbol>{SYMBOL_PATTERN})$", TiersView.as_view(), name="derivatives-tiers"),
    re_path(rf"^derivatives/funding/(?P<symbol>{SYMBOL_PATTERN})$", FundingView.as_view(), name="derivatives-funding"),
    path("derivatives/insurance-fund", InsuranceFundView.as_view(), name="derivatives-insurance-fund"),
    path("derivatives/liquidations", LiquidationListView.as_view(), name="derivatives-liquidations"),
    path("derivatives/funding-payments", FundingPaymentListView.as_view(), name="derivatives-funding-payments"),
    path("derivatives/margin-history", MarginHistoryView.as_view(), name="derivatives-margin-history"),
    re_path(rf"^portfolio/(?P<pk>{UUID_PATTERN})/margin$", PortfolioMarginView.as_view(), name="portfolio-margin"),
    re_path(rf"^portfolio/(?P<pk>{UUID_PATTERN})/liquidation-warnings$", WarningLadderView.as_view(),
            name="portfolio-liquidation-warnings"),
    re_path(rf"^positions/(?P<pk>{UUID_PATTERN})/margin$", PositionMarginView.as_view(), name="position-margin"),
]
