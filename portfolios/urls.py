from django.urls import re_path
from rest_framework.routers import SimpleRouter

from portfolios.api import UUID_PATTERN, LedgerView, PortfolioViewSet

router = SimpleRouter(trailing_slash=False)
router.register("portfolio", PortfolioViewSet, basename="portfolio")

urlpatterns = [
    *router.urls,
    re_path(rf"^portfolio/(?P<pk>{UUID_PATTERN})/ledger$", LedgerView.as_view(), name="portfolio-ledger"),
]
