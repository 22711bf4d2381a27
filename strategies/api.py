from datetime import UTC, datetime

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from haunt.market.selectors import instrument_get
from strategies.indicators import INDICATORS
from strategies.selectors import indicator_series_get
from strategies.serializers import IndicatorSeriesIn, IndicatorSeriesOut


def _parameter_documentation() -> list[OpenApiParameter]:
    described: dict[str, list[str]] = {}
    kinds: dict[str, type] = {}
    for spec in INDICATORS.values():
        for parameter in spec.parameters:
            described.setdefault(parameter.name, []).append(f"{spec.name} (default {parameter.default})")
            kinds[parameter.name] = parameter.kind
    return [
        OpenApiParameter(name, OpenApiTypes.INT if kinds[name] is int else OpenApiTypes.NUMBER,
                         description="Used by " + ", ".join(uses) + ".")
        for name, uses in described.items()
    ]


@extend_schema(
    tags=["market"], parameters=[IndicatorSeriesIn, *_parameter_documentation()], responses=IndicatorSeriesOut,
    summary="An indicator's series over the symbol's candles, one value per bar (null while warming up)",
    examples=[OpenApiExample("rsi", response_only=True, value={
        "symbol": "ETH-USD", "indicator": "rsi", "interval": "1h", "parameters": {"period": 14}, "outputs": ["rsi"],
        "values": [{"time": "2026-11-24T05:00:00Z", "rsi": "48.2170"}, {"time": "2026-11-24T06:00:00Z", "rsi": "51.0456"}]})],
)
class IndicatorSeriesView(APIView):
    def get(self, request, symbol):
        query = IndicatorSeriesIn(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = dict(query.validated_data)
        given_parameters = values.pop("parameters")
        instrument = instrument_get(symbol=symbol)
        return Response(indicator_series_get(instrument=instrument, given_parameters=given_parameters,
                                             now=datetime.now(UTC), **values))
