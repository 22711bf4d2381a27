from datetime import UTC, datetime

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from haunt.market.filters import InstrumentFilter
from haunt.market.selectors import book_get, candles_get, instrument_get, instrument_list, quote_get
from haunt.market.serializers import CandleOut, CandlesIn, InstrumentOut, OrderBookIn, OrderBookOut, QuoteOut

SYMBOL_PATTERN = r"[A-Za-z0-9._-]{1,32}"


class SymbolCursorPagination(CursorPagination):
    ordering = ("symbol",)
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500


@extend_schema(tags=["market"], summary="Tradable instruments (filter by asset_class, search, ...)")
class InstrumentListView(ListAPIView):
    serializer_class = InstrumentOut
    filterset_class = InstrumentFilter
    pagination_class = SymbolCursorPagination

    def get_queryset(self):
        return instrument_list()


@extend_schema(tags=["market"], responses=InstrumentOut, summary="One instrument with its session state")
class InstrumentDetailView(APIView):
    def get(self, request, symbol):
        return Response(InstrumentOut(instrument_get(symbol=symbol)).data)


@extend_schema(tags=["market"], responses=QuoteOut,
               summary="Latest aggregated quote: best bid/ask with sizes, last trade, contributing sources")
class QuoteView(APIView):
    def get(self, request, symbol):
        return Response(quote_get(symbol=symbol))


@extend_schema(tags=["market"], responses=OrderBookOut, parameters=[OrderBookIn],
               summary="Aggregated L2 order book, best level first (depth 1-100, default 20)")
class OrderBookView(APIView):
    def get(self, request, symbol):
        params = OrderBookIn(data=request.query_params)
        params.is_valid(raise_exception=True)
        return Response(book_get(symbol=symbol, depth=params.validated_data["depth"]))


@extend_schema(
    tags=["market"], responses=CandleOut(many=True),
    parameters=[
        OpenApiParameter("interval", OpenApiTypes.STR, enum=["1m", "5m", "1h", "1d"], description="Default 1m."),
        OpenApiParameter("start", OpenApiTypes.DATETIME, description="Inclusive; default 500 bars before end."),
        OpenApiParameter("end", OpenApiTypes.DATETIME, description="Exclusive; default now."),
    ],
    summary="OHLCV candles, oldest first (at most 5000 per request)",
)
class CandlesView(APIView):
    def get(self, request, symbol):
        params = CandlesIn(data=request.query_params)
        params.is_valid(raise_exception=True)
        instrument = instrument_get(symbol=symbol)
        return Response(candles_get(instrument=instrument, now=datetime.now(UTC), **params.validated_data))
