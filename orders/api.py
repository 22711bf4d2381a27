from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from orders.filters import OrderFilter, TradeFilter
from orders.models import Order, Trade
from orders.selectors import order_get_for_user, order_list_for_user, trade_list_for_user
from haunt.market.selectors import instrument_get
from orders.risk import position_size
from orders.serializers import (
    ClosePartialIn,
    OrderDetailOut,
    OrderModifyIn,
    OrderOut,
    OrderPlaceIn,
    PositionExitsIn,
    PositionSizeIn,
    PositionSizeOut,
    TradeOut,
)
from portfolios.filters import PositionFilter
from portfolios.models import Position
from portfolios.selectors import portfolio_get_for_user, position_get_for_user, position_list_for_user
from portfolios.serializers import PortfolioOut, PositionOut
from portfolios.valuation import portfolio_equity
from orders.services import (
    ExitLegs,
    OrderRequest,
    bracket_place,
    oco_place,
    order_cancel,
    order_modify,
    order_place,
    portfolio_reset_trading,
    position_close,
    position_set_exits,
)

UUID_PATTERN = r"[0-9a-fA-F-]{32,36}"


def order_request(validated: dict) -> OrderRequest:
    fields = {key: value for key, value in validated.items()
              if key not in ("portfolio", "order_class", "take_profit", "stop_loss")}
    fields["tags"] = tuple(fields.get("tags", ()))
    fields["lot_ids"] = tuple(fields.get("lot_ids", ()))
    return OrderRequest(**fields)


def exit_legs(validated: dict) -> ExitLegs:
    stop = validated["stop_loss"]
    return ExitLegs(take_profit_price=validated["take_profit"]["limit_price"], stop_price=stop.get("stop_price"),
                    stop_limit_price=stop.get("limit_price"), trail_amount=stop.get("trail_amount"),
                    trail_percent=stop.get("trail_percent"))


def place(user, validated: dict) -> tuple[list, bool]:
    """One order, or every leg of an oco or bracket order, the primary leg first."""
    portfolio_id, order_class = validated["portfolio"], validated["order_class"]
    if order_class == "bracket":
        return bracket_place(user=user, portfolio_id=portfolio_id, entry=order_request(validated),
                             legs=exit_legs(validated))
    if order_class == "oco":
        return oco_place(user=user, portfolio_id=portfolio_id, side=validated["side"], symbol=validated["symbol"],
                         quantity=validated["quantity"], legs=exit_legs(validated),
                         time_in_force=validated["time_in_force"], expires_at=validated.get("expires_at"),
                         client_order_id=validated.get("client_order_id", ""),
                         trigger_source=validated["trigger_source"])
    order, created = order_place(user=user, portfolio_id=portfolio_id, request=order_request(validated))
    return [order], created


@extend_schema_view(
    list=extend_schema(summary="Your orders, newest first (filter by portfolio, status, symbol, side, type, dates)"),
    retrieve=extend_schema(summary="One order with its fills' explanation and modification history",
                           responses=OrderDetailOut),
)
@extend_schema(tags=["orders"])
class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = OrderOut
    filterset_class = OrderFilter
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Order.objects.none()
        return order_list_for_user(user=self.request.user)

    def retrieve(self, request, pk=None):
        order = order_get_for_user(user=request.user, order_id=pk)
        return Response(OrderDetailOut(order).data)

    @extend_schema(
        request=OrderPlaceIn, responses={201: OrderOut, 200: OrderOut},
        summary="Place an order (201; 200 with the existing order when client_order_id was already used)",
        examples=[
            OpenApiExample("market buy", request_only=True, value={
                "portfolio": "6c03011e-2db1-4438-9593-1622db0ac427", "symbol": "BTC-USD", "side": "buy",
                "order_type": "market", "quantity": "0.5"}),
            OpenApiExample("limit sell GTD", request_only=True, value={
                "portfolio": "6c03011e-2db1-4438-9593-1622db0ac427", "symbol": "AAPL", "side": "sell",
                "order_type": "limit", "quantity": "10", "limit_price": "250.00", "time_in_force": "gtd",
                "expires_at": "2026-12-31T21:00:00Z", "client_order_id": "my-id-1"}),
            OpenApiExample("bracket", request_only=True, value={
                "portfolio": "6c03011e-2db1-4438-9593-1622db0ac427", "symbol": "SPY", "side": "buy",
                "order_type": "limit", "quantity": "10", "limit_price": "600.00", "order_class": "bracket",
                "take_profit": {"limit_price": "630.00"}, "stop_loss": {"trail_percent": "3"}}),
            OpenApiExample("trailing stop 2%", request_only=True, value={
                "portfolio": "6c03011e-2db1-4438-9593-1622db0ac427", "symbol": "ETH-USD", "side": "sell",
                "order_type": "trailing_stop", "quantity": "2", "trail_percent": "2"}),
        ],
    )
    def create(self, request):
        payload = OrderPlaceIn(data=request.data)
        payload.is_valid(raise_exception=True)
        orders, created = place(request.user, payload.validated_data)
        body = OrderOut(orders[0]).data
        if len(orders) > 1 or payload.validated_data["order_class"] != "simple":
            body["legs"] = OrderOut(orders[1:], many=True).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(request=OrderModifyIn, responses=OrderOut,
                   summary="Modify an open order's quantity, prices, trail or expiry (recorded in its history)")
    def update(self, request, pk=None):
        payload = OrderModifyIn(data=request.data)
        payload.is_valid(raise_exception=True)
        order = order_modify(user=request.user, order_id=pk, changes=payload.validated_data)
        return Response(OrderOut(order).data)

    @extend_schema(request=OrderModifyIn, responses=OrderOut, summary="Same as PUT")
    def partial_update(self, request, pk=None):
        return self.update(request, pk)

    @extend_schema(request=None, responses={200: OrderOut}, summary="Cancel an open order (answers the cancelled order)")
    def destroy(self, request, pk=None):
        return Response(OrderOut(order_cancel(user=request.user, order_id=pk)).data)


class TradeCursorPagination(CursorPagination):
    ordering = ("-executed_at", "-pk")
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


@extend_schema(tags=["orders"], summary="Your fills, newest first, each with its execution explanation")
class TradeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = TradeOut
    filterset_class = TradeFilter
    pagination_class = TradeCursorPagination
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Trade.objects.none()
        return trade_list_for_user(user=self.request.user)


@extend_schema_view(
    list=extend_schema(summary="Open positions (status=closed or all for history), marked to the live quote",
                       parameters=[OpenApiParameter("status", OpenApiTypes.STR, enum=["open", "closed", "all"]),
                                   OpenApiParameter("portfolio", OpenApiTypes.UUID),
                                   OpenApiParameter("symbol", OpenApiTypes.STR)]),
    retrieve=extend_schema(summary="One position with its lots"),
)
@extend_schema(tags=["positions"])
class PositionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = PositionOut
    filterset_class = PositionFilter
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Position.objects.none()
        params = self.request.query_params
        positions = position_list_for_user(user=self.request.user, include_closed=params.get("status") in ("closed", "all"))
        if params.get("status") == "closed":
            positions = positions.filter(status=Position.Status.CLOSED)
        return positions

    def get_object(self):
        return position_get_for_user(user=self.request.user, position_id=self.kwargs["pk"])

    @extend_schema(request=PositionExitsIn, responses=PositionOut,
                   summary="Attach or change the stop-loss / take-profit (they become linked exit orders)")
    def update(self, request, pk=None):
        payload = PositionExitsIn(data=request.data)
        payload.is_valid(raise_exception=True)
        current = self.get_object()
        values = {"stop_loss": current.stop_loss, "take_profit": current.take_profit, **payload.validated_data}
        position = position_set_exits(user=request.user, position_id=pk, **values)
        return Response(PositionOut(position).data)

    @extend_schema(request=None, responses={202: OrderOut}, summary="Close the whole position at market")
    def destroy(self, request, pk=None):
        order = position_close(user=request.user, position_id=pk)
        return Response(OrderOut(order).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=ClosePartialIn, responses={202: OrderOut}, summary="Close part of the position at market")
    @action(detail=True, methods=["post"], url_path="close-partial")
    def close_partial(self, request, pk=None):
        payload = ClosePartialIn(data=request.data)
        payload.is_valid(raise_exception=True)
        order = position_close(user=request.user, position_id=pk, quantity=payload.validated_data["quantity"])
        return Response(OrderOut(order).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=PositionSizeIn, responses=PositionSizeOut,
                   summary="Position sizing: the quantity that risks risk_pct of equity between entry and stop")
    @action(detail=False, methods=["post"])
    def size(self, request):
        payload = PositionSizeIn(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        portfolio = portfolio_get_for_user(user=request.user, portfolio_id=data["portfolio"])
        instrument = instrument_get(symbol=data["symbol"])
        risk_pct = data.get("risk_pct") or Decimal(str(portfolio.risk_settings["risk_per_trade_pct"]))
        return Response(PositionSizeOut(position_size(
            equity=portfolio_equity(portfolio), risk_pct=risk_pct, entry_price=data["entry_price"],
            stop_price=data["stop_price"], lot_size=instrument.lot_size,
            contract_multiplier=instrument.contract_multiplier)).data)


@extend_schema(tags=["portfolios"], request=None, responses=PortfolioOut,
               summary="Reset: cancel open orders, wipe positions, cash back to the starting balance (history kept)")
class PortfolioResetView(APIView):
    def post(self, request, pk):
        return Response(PortfolioOut(portfolio_reset_trading(user=request.user, portfolio_id=pk)).data)
