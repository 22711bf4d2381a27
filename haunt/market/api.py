from datetime import UTC, datetime

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from haunt.api.schema import error_response
from haunt.market.filters import InstrumentFilter
from haunt.market.selectors import book_get, candles_get, instrument_get, instrument_list, quote_get
from haunt.market.serializers import CandleOut, CandlesIn, InstrumentOut, OrderBookIn, OrderBookOut, QuoteOut

NO_LIVE_MARKET = error_response("409", "No live market for the symbol yet: the feed has not published it.")
SYMBOL_PATTERN = r"[A-Za-z0-9._ -]{1,32}"  # the space: OCC option symbols pad the root (`AAPL  261218C00200000`)


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


@extend_schema(tags=["market"], responses={200: QuoteOut, 409: NO_LIVE_MARKET},
               summary="Latest aggregated quote: best bid/ask with sizes, last trade, contributing sources",
               examples=[OpenApiExample("BTC-USD", response_only=True, value={
                   "symbol": "BTC-USD", "bid": "65727.24", "ask": "65730.00", "last": "65730.00",
                   "bid_size": "2.07632", "ask_size": "3.51756", "volume": "0.84210", "timestamp": "2026-11-24T06:22:57.996188Z",
                   "sources": ["simulator"], "is_open": True})])
class QuoteView(APIView):
    def get(self, request, symbol):
        return Response(quote_get(symbol=symbol))


@extend_schema(tags=["market"], responses={200: OrderBookOut, 409: NO_LIVE_MARKET}, parameters=[OrderBookIn],
               summary="Aggregated L2 order book, best level first (depth 1-100, default 20)",
               examples=[OpenApiExample("EUR-USD depth 3", response_only=True, value={
                   "symbol": "EUR-USD", "bids": [["1.23522", "677000"], ["1.23517", "807000"], ["1.23513", "916000"]],
                   "asks": [["1.23528", "1876000"], ["1.23531", "1100000"], ["1.23535", "345000"]],
                   "timestamp": "2026-11-24T06:22:57.996188Z", "sources": ["simulator"], "is_open": True})])
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
    examples=[OpenApiExample("1d", response_only=True, value=[
        {"start": "2026-11-23T00:00:00Z", "open": "3012.55", "high": "3104.10", "low": "2977.02", "close": "3088.41",
         "volume": "48211.5730"}])],
)
class CandlesView(APIView):
    def get(self, request, symbol):
        params = CandlesIn(data=request.query_params)
        params.is_valid(raise_exception=True)
        instrument = instrument_get(symbol=symbol)
        return Response(candles_get(instrument=instrument, now=datetime.now(UTC), **params.validated_data))
