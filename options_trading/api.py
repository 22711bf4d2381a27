"""/api/options/...: chains, the calculator, strategies, exercise, Greeks, margin (docs/options.md)."""
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from haunt.api.schema import error_response
from options_trading.selectors import (
    option_events_for_user,
    option_implied_volatility_calculate,
    option_margin_for_user,
    option_price_calculate,
    portfolio_greeks_for_user,
)
from options_trading.serializers import (
    ExerciseIn,
    OptionChainIn,
    OptionChainOut,
    OptionEventOut,
    OptionImpliedVolatilityIn,
    OptionImpliedVolatilityOut,
    OptionMarginOut,
    OptionPriceIn,
    OptionPriceOut,
    OptionSettingsIn,
    OptionSettingsOut,
    PortfolioGreeksOut,
    PortfolioQueryIn,
    StrategyOut,
    StrategyPlaceIn,
    StrategyPreviewIn,
)
from options_trading.services import (
    option_chain_build,
    option_exercise,
    option_settings_update,
    combo_place,
    combo_preview,
)
from portfolios.selectors import portfolio_get_for_user

PORTFOLIO_PARAMETER = OpenApiParameter("portfolio", OpenApiTypes.UUID, required=True,
                                       description="Your portfolio's id.")


def _query(serializer_class, request) -> dict:
    payload = serializer_class(data=request.query_params.dict())
    payload.is_valid(raise_exception=True)
    return payload.validated_data


def _body(serializer_class, request) -> dict:
    payload = serializer_class(data=request.data)
    payload.is_valid(raise_exception=True)
    return payload.validated_data


@extend_schema(tags=["options"], parameters=[OptionChainIn], responses=OptionChainOut,
               summary="An option chain: bid/ask/mid, surface volatility and Greeks of every contract of an expiration")
class OptionChainView(APIView):
    def get(self, request, underlying):
        values = _query(OptionChainIn, request)
        chain = option_chain_build(underlying_symbol=underlying, expiry=values.get("expiry"),
                                   strikes=values.get("strikes"), now=timezone.now())
        return Response(OptionChainOut(chain).data)


@extend_schema(tags=["options"], parameters=[OptionPriceIn], responses=OptionPriceOut,
               summary="Option calculator: premium and Greeks (Black-Scholes-Merton, or American by boundary collocation)")
class OptionPriceView(APIView):
    def get(self, request):
        return Response(OptionPriceOut(option_price_calculate(_query(OptionPriceIn, request))).data)


@extend_schema(tags=["options"], parameters=[OptionImpliedVolatilityIn],
               responses={200: OptionImpliedVolatilityOut, 422: error_response("422")},
               summary="Implied volatility of a premium (422 with the reason when no volatility fits)")
class OptionImpliedVolatilityView(APIView):
    def get(self, request):
        volatility = option_implied_volatility_calculate(_query(OptionImpliedVolatilityIn, request))
        return Response(OptionImpliedVolatilityOut(volatility).data)


@extend_schema(tags=["options"], request=StrategyPreviewIn, responses=StrategyOut,
               summary="Price a multi-leg strategy at the live quotes: net debit/credit, payoff, break-evens, max P&L")
class StrategyPreviewView(APIView):
    def post(self, request):
        values = _body(StrategyPreviewIn, request)
        portfolio_id = values.pop("portfolio", None)
        if portfolio_id is not None:
            portfolio_get_for_user(user=request.user, portfolio_id=portfolio_id)  # 404 unless it is yours
        return Response(StrategyOut(combo_preview(**values, now=timezone.now())).data)


@extend_schema(tags=["options"], request=StrategyPlaceIn, responses={201: StrategyOut},
               summary="Trade a multi-leg strategy as one order: every leg fills at once, or nothing changes")
class StrategyPlaceView(APIView):
    def post(self, request):
        values = _body(StrategyPlaceIn, request)
        portfolio_id = values.pop("portfolio")
        result = combo_place(user=request.user, portfolio_id=portfolio_id, **values, now=timezone.now())
        return Response(StrategyOut(result).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["options"], request=ExerciseIn, responses={201: OptionEventOut},
               summary="Exercise a long American option early (physically settled: buys or sells the underlying)")
class OptionExerciseView(APIView):
    def post(self, request, pk):
        values = _body(ExerciseIn, request)
        event = option_exercise(user=request.user, position_id=pk, quantity=values.get("quantity"),
                                now=timezone.now())
        return Response(OptionEventOut(event).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["options"], parameters=[PORTFOLIO_PARAMETER], responses=PortfolioGreeksOut,
               summary="Live Greeks of a portfolio's option positions, by underlying and in total")
class PortfolioGreeksView(APIView):
    def get(self, request):
        greeks = portfolio_greeks_for_user(user=request.user,
                                           portfolio_id=_query(PortfolioQueryIn, request)["portfolio"])
        return Response(PortfolioGreeksOut(greeks).data)


@extend_schema(tags=["options"], parameters=[PORTFOLIO_PARAMETER], responses=OptionMarginOut,
               summary="Reg-T/Cboe margin of a portfolio's option positions: naked, covered, spreads")
class OptionMarginView(APIView):
    def get(self, request):
        requirement = option_margin_for_user(user=request.user,
                                             portfolio_id=_query(PortfolioQueryIn, request)["portfolio"])
        return Response(OptionMarginOut(requirement).data)


@extend_schema(tags=["options"], parameters=[PORTFOLIO_PARAMETER], responses=OptionEventOut(many=True),
               summary="Exercises, assignments and expiries of a portfolio's options, newest first")
class OptionEventListView(APIView):
    def get(self, request):
        events = option_events_for_user(user=request.user, portfolio_id=_query(PortfolioQueryIn, request)["portfolio"])
        return Response(OptionEventOut(events[:500], many=True).data)


@extend_schema(tags=["options"], request=OptionSettingsIn, responses=OptionSettingsOut,
               summary="Options settings of a portfolio: switch early assignment of short American options off")
class OptionSettingsView(APIView):
    def put(self, request, pk):
        values = _body(OptionSettingsIn, request)
        return Response(OptionSettingsOut(option_settings_update(user=request.user, portfolio_id=pk,
                                                                 early_assignment=values["early_assignment"])).data)

