"""GET /api/history/{orders,positions,trades} (spec §14 History): every order, closed position and
fill of the user's portfolios, archived ones included, newest first."""
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.pagination import CursorPagination

from orders.api import TradeCursorPagination
from orders.filters import OrderFilter, TradeFilter
from orders.models import Order, Trade
from orders.selectors import order_list_for_user, trade_list_for_user
from orders.serializers import TradeOut
from portfolios.filters import PositionFilter
from portfolios.models import Position
from portfolios.selectors import position_list_for_user
from portfolios.serializers import PositionOut
from reporting.history.serializers import OrderHistoryOut


class ClosedPositionCursorPagination(CursorPagination):
    ordering = ("-closed_at", "-pk")
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


@extend_schema(tags=["history"], summary="Every order ever placed (all statuses, archived portfolios included), "
                                         "with fills and modification history; newest first")
class OrderHistoryView(ListAPIView):
    serializer_class = OrderHistoryOut
    filterset_class = OrderFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Order.objects.none()
        return order_list_for_user(user=self.request.user).prefetch_related("events", "trades__instrument")


@extend_schema(tags=["history"], summary="Closed positions: entry, exit, realized P&L, holding time; newest first",
               parameters=[OpenApiParameter("portfolio", OpenApiTypes.UUID), OpenApiParameter("symbol", OpenApiTypes.STR)])
class PositionHistoryView(ListAPIView):
    serializer_class = PositionOut
    filterset_class = PositionFilter
    pagination_class = ClosedPositionCursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Position.objects.none()
        return position_list_for_user(user=self.request.user, include_closed=True).filter(
            status=Position.Status.CLOSED)


@extend_schema(tags=["history"], summary="The trade log: every fill with its explanation; newest first")
class TradeHistoryView(ListAPIView):
    serializer_class = TradeOut
    filterset_class = TradeFilter
    pagination_class = TradeCursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Trade.objects.none()
        return trade_list_for_user(user=self.request.user)
