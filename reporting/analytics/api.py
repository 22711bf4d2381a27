"""GET /api/analytics/{performance,metrics,attribution,trades} (spec §14 Analytics); docs/analytics.md."""
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from reporting.analytics.selectors import (
    AnalyticsQuery,
    analytics_attribution_for_user,
    analytics_metrics_for_user,
    analytics_performance_for_user,
    analytics_trades_for_user,
)
from reporting.analytics.serializers import (
    AnalyticsAttributionOut,
    AnalyticsMetricsOut,
    AnalyticsPerformanceOut,
    AnalyticsQueryIn,
    AnalyticsTradesOut,
)

QUERY_PARAMETERS = [
    OpenApiParameter("portfolio", OpenApiTypes.UUID, required=True, description="Your portfolio's id."),
    OpenApiParameter("start", OpenApiTypes.DATETIME,
                     description="Window start; default: the track record's start (opening or last reset)."),
    OpenApiParameter("end", OpenApiTypes.DATETIME, description="Window end; default: now."),
]
RISK_FREE_PARAMETER = OpenApiParameter(
    "risk_free_rate", OpenApiTypes.DECIMAL, description="Annual risk-free rate (0.04 = 4%); default: the portfolio's.")


class AnalyticsView(APIView):
    """Parse the query, call the selector, return its (cached, JSON-ready) payload."""

    selector = None

    def get(self, request):
        payload = AnalyticsQueryIn(data=request.query_params.dict())
        payload.is_valid(raise_exception=True)
        values = payload.validated_data
        query = AnalyticsQuery(start=values.get("start"), end=values.get("end"),
                               risk_free_rate=values.get("risk_free_rate"))
        return Response(type(self).selector(user=request.user, portfolio_id=values["portfolio"], query=query))


@extend_schema(tags=["analytics"], parameters=[*QUERY_PARAMETERS, RISK_FREE_PARAMETER],
               responses=AnalyticsPerformanceOut,
               summary="Time-weighted returns: daily, weekly to yearly, to-date, trailing, against the benchmark",
               description="The portfolio's time-weighted returns over the window, top-ups and withdrawals removed, "
                           "beside the benchmark's; see docs/analytics.md.")
class PerformanceView(AnalyticsView):
    selector = analytics_performance_for_user


@extend_schema(tags=["analytics"], parameters=[*QUERY_PARAMETERS, RISK_FREE_PARAMETER], responses=AnalyticsMetricsOut,
               summary="Risk-adjusted metrics, alpha, beta, R² and drawdown episodes",
               description="Sharpe, Sortino, Calmar, Omega and information ratios, volatility, alpha, beta and R² "
                           "against the benchmark, and every drawdown of the window; see docs/analytics.md.")
class MetricsView(AnalyticsView):
    selector = analytics_metrics_for_user


@extend_schema(tags=["analytics"], parameters=QUERY_PARAMETERS, responses=AnalyticsAttributionOut,
               summary="P&L by instrument, asset class and strategy tag: price move against each cost",
               description="Where the window's P&L came from: the price move, and the fees, slippage, funding, "
                           "borrow fees and liquidation penalties paid, by instrument, asset class and tag.")
class AttributionView(AnalyticsView):
    selector = analytics_attribution_for_user


@extend_schema(tags=["analytics"], parameters=QUERY_PARAMETERS, responses=AnalyticsTradesOut,
               summary="Trade statistics over closed positions: win rate, profit factor, expectancy…",
               description="Statistics of the positions closed in the window, each position's P&L net of its fees, "
                           "borrow fees and funding: win rate, profit factor, expectancy, streaks and more.")
class TradesView(AnalyticsView):
    selector = analytics_trades_for_user
