from rest_framework.routers import SimpleRouter

from orders.api import OrderViewSet, PositionViewSet, TradeViewSet

router = SimpleRouter(trailing_slash=False)
router.register("orders", OrderViewSet, basename="order")
router.register("trades", TradeViewSet, basename="trade")
router.register("positions", PositionViewSet, basename="position")

urlpatterns = router.urls
