from django.urls import re_path
from rest_framework.routers import SimpleRouter

from orders.api import (
    UUID_PATTERN,
    OrderViewSet,
    PortfolioResetView,
    PositionViewSet,
    TradeViewSet,
)

router = SimpleRouter(trailing_slash=False)
router.register("orders", OrderViewSet, basename="order")
router.register("trades", TradeViewSet, basename="trade")
router.register("positions", PositionViewSet, basename="position")

urlpatterns = [
    *router.urls,
    # Resetting a portfolio cancels its orders and wipes its positions, so the trading app serves it.
    re_path(rf"^portfolio/(?P<pk>{UUID_PATTERN})/reset$", PortfolioResetView.as_view(), name="portfolio-reset"),
]
