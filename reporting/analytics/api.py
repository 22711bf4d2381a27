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
               summary="Time-weighted returns: daily, weekly to yearly, to-date, trailing, against the benchmark")
class PerformanceView(AnalyticsView):
    selector = analytics_performance_for_user


@extend_schema(tags=["analytics"], parameters=[*QUERY_PARAMETERS, RISK_FREE_PARAMETER], responses=AnalyticsMetricsOut,
               summary="Risk-adjusted metrics, alpha, beta, R² and drawdown episodes")
class MetricsView(AnalyticsView):
    selector = analytics_metrics_for_user


@extend_schema(tags=["analytics"], parameters=QUERY_PARAMETERS, responses=AnalyticsAttributionOut,
               summary="P&L by instrument, asset class and strategy tag: price move against each cost")
class AttributionView(AnalyticsView):
    selector = analytics_attribution_for_user


@extend_schema(tags=["analytics"], parameters=QUERY_PARAMETERS, responses=AnalyticsTradesOut,
               summary="Trade statistics over closed positions: win rate, profit factor, expectancy…")
class TradesView(AnalyticsView):
    selector = analytics_trades_for_user
