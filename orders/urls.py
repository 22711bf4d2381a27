from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from orders.api import (
    UUID_PATTERN,
    OrderHistoryView,
    OrderViewSet,
    PortfolioResetView,
    PositionHistoryView,
    PositionViewSet,
    TradeHistoryView,
    TradeViewSet,
)

router = SimpleRouter(trailing_slash=False)
router.register("orders", OrderViewSet, basename="order")
router.register("trades", TradeViewSet, basename="trade")
router.register("positions", PositionViewSet, basename="position")

urlpatterns = [
    *router.urls,
    path("history/orders", OrderHistoryView.as_view(), name="history-orders"),
    path("history/positions", PositionHistoryView.as_view(), name="history-positions"),
    path("history/trades", TradeHistoryView.as_view(), name="history-trades"),
    # Resetting a portfolio cancels its orders and wipes its positions, so the trading app serves it.
    re_path(rf"^portfolio/(?P<pk>{UUID_PATTERN})/reset$", PortfolioResetView.as_view(), name="portfolio-reset"),
]
