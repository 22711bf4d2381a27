from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from portfolios.analytics_api import AttributionView, MetricsView, PerformanceView, TradesView
from portfolios.api import UUID_PATTERN, LedgerView, PortfolioViewSet

router = SimpleRouter(trailing_slash=False)
router.register("portfolio", PortfolioViewSet, basename="portfolio")

urlpatterns = [
    *router.urls,
    re_path(rf"^portfolio/(?P<pk>{UUID_PATTERN})/ledger$", LedgerView.as_view(), name="portfolio-ledger"),
    path("analytics/performance", PerformanceView.as_view(), name="analytics-performance"),
    path("analytics/metrics", MetricsView.as_view(), name="analytics-metrics"),
    path("analytics/attribution", AttributionView.as_view(), name="analytics-attribution"),
    path("analytics/trades", TradesView.as_view(), name="analytics-trades"),
]
