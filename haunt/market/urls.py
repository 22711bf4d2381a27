from django.urls import path, re_path

from haunt.market.api import (
    SYMBOL_PATTERN,
    CandlesView,
    InstrumentDetailView,
    InstrumentListView,
    OrderBookView,
    QuoteView,
)

urlpatterns = [
    path("market/instruments", InstrumentListView.as_view(), name="market-instruments"),
    re_path(rf"^market/instruments/(?P<symbol>{SYMBOL_PATTERN})$", InstrumentDetailView.as_view(), name="market-instrument"),
    re_path(rf"^market/quotes/(?P<symbol>{SYMBOL_PATTERN})$", QuoteView.as_view(), name="market-quote"),
    re_path(rf"^market/orderbook/(?P<symbol>{SYMBOL_PATTERN})$", OrderBookView.as_view(), name="market-orderbook"),
    re_path(rf"^market/candles/(?P<symbol>{SYMBOL_PATTERN})$", CandlesView.as_view(), name="market-candles"),
]
