"""REST endpoints of the derivatives app (docs/derivatives.md). Views are thin: parse, one call, render."""
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from derivatives import services
from derivatives.models import FundingPayment, Liquidation, MarginEvent
from derivatives.selectors import (
    funding_overview,
    funding_payments_for_user,
    insurance_fund_overview,
    liquidations_for_user,
    margin_history_for_user,
    perpetual_get,
    portfolio_margin_for_user,
    tier_table,
)
from derivatives.serializers import (
    FundingOut,
    FundingPaymentOut,
    InsuranceFundOut,
    LiquidationOut,
    MarginAdjustIn,
    MarginEventOut,
    MarginOut,
    TiersOut,
    WarningLadderIn,
)
from haunt.api.pagination import NewestFirstCursorPagination, SequenceCursorPagination
from portfolios.serializers import PortfolioOut, PositionOut


@extend_schema(tags=["derivatives"], responses=TiersOut,
               summary="Leverage tiers of a perpetual: notional bracket, max leverage, maintenance rate and amount")
class TiersView(APIView):
    def get(self, request, symbol):
        return Response(TiersOut(tier_table(perpetual_get(symbol))).data)


@extend_schema(tags=["derivatives"], responses=FundingOut,
               summary="Funding of a perpetual: rate history (newest first), next funding time, predicted rate")
class FundingView(APIView):
    def get(self, request, symbol):
        return Response(FundingOut(funding_overview(perpetual_get(symbol), now=timezone.now())).data)


@extend_schema(tags=["derivatives"], responses=InsuranceFundOut,
               summary="The insurance fund: balance and its latest contributions and payouts (newest first)")
class InsuranceFundView(APIView):
    def get(self, request):
        return Response(InsuranceFundOut(insurance_fund_overview()).data)


@extend_schema(tags=["derivatives"], summary="Your liquidations, newest first")
class LiquidationListView(ListAPIView):
    serializer_class = LiquidationOut
    pagination_class = NewestFirstCursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Liquidation.objects.none()
        return liquidations_for_user(user=self.request.user)


@extend_schema(tags=["derivatives"], summary="Your funding payments, newest first (amount < 0: paid)")
class FundingPaymentListView(ListAPIView):
    serializer_class = FundingPaymentOut
    pagination_class = NewestFirstCursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return FundingPayment.objects.none()
        return funding_payments_for_user(user=self.request.user)


@extend_schema(tags=["derivatives"], summary="Margin history: every change of your positions' margin and why",
               parameters=[OpenApiParameter("position", str, description="Only this position's history.")])
class MarginHistoryView(ListAPIView):
    serializer_class = MarginEventOut
    pagination_class = SequenceCursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return MarginEvent.objects.none()
        return margin_history_for_user(user=self.request.user, position_id=self.request.query_params.get("position"))


@extend_schema(tags=["derivatives"], responses=MarginOut,
               summary="A portfolio's margin: equity, used, available, buying power, margin level, per position")
class PortfolioMarginView(APIView):
    def get(self, request, pk):
        return Response(MarginOut(portfolio_margin_for_user(user=request.user, portfolio_id=pk)).data)


@extend_schema(tags=["derivatives"], request=WarningLadderIn, responses=PortfolioOut,
               summary="Set the liquidation warning ladder (percent of maintenance margin use; default 80, 90, 95)")
class WarningLadderView(APIView):
    def put(self, request, pk):
        body = WarningLadderIn(data=request.data)
        body.is_valid(raise_exception=True)
        portfolio = services.warning_ladder_set(user=request.user, portfolio_id=pk,
                                                thresholds=body.validated_data["thresholds"])
        return Response(PortfolioOut(portfolio).data)


@extend_schema(tags=["derivatives"], request=MarginAdjustIn, responses=PositionOut,
               summary="Add (amount > 0) or remove (amount < 0) margin of an isolated position")
class PositionMarginView(APIView):
    def post(self, request, pk):
        body = MarginAdjustIn(data=request.data)
        body.is_valid(raise_exception=True)
        position = services.position_margin_adjust(user=request.user, position_id=pk,
                                                   amount=body.validated_data["amount"])
        return Response(PositionOut(position).data)
