"""The mark price the watcher publishes, and stop orders that watch it (Binance's workingType MARK_PRICE)."""
from decimal import Decimal

from derivatives.tests.scenarios import (  # noqa: F401 (fixtures)
    NOW,
    books_balance,
    instruments,
    make_portfolio,
    open_position,
    publish,
)
from derivatives.watcher import DerivativesWatcher, Perpetual
from haunt.market import state
from orders.engine import OrderEngine
from orders.models import Order
from orders.services import OrderRequest, order_place

D = Decimal


def quote(symbol, bid, ask, last):
    return {"symbol": symbol, "bid": bid, "ask": ask, "last": last, "bid_size": "1", "ask_size": "1",
            "timestamp": NOW.isoformat(), "sources": ["test"], "is_open": True}


def test_the_mark_is_the_median_of_the_funding_basis_the_book_basis_and_the_last_price():
    """Index: the BTC-USD mid, 50,000. No funding yet, so the last rate is the 0.01% interest rate;
    16:00 is 59 min 58 s away, 3,598 / 28,800 of the interval: 50,000 × (1 + 0.0001 × 0.12493)
    = 50,000.62. The book basis (one sample): mid 50,055 − 50,000 = 55, so 50,055. The last trade
    50,200. Median: 50,055. A last trade of 50,010 becomes the median instead."""
    watcher = DerivativesWatcher()
    watcher.perpetuals = {"BTC-PERP": Perpetual(symbol="BTC-PERP", underlying="BTC-USD", tick_size=D("0.1"))}
    watcher.funding_rates, watcher.funding_rates_read_at = {}, float("inf")
    spot, perpetual = quote("BTC-USD", "49999", "50001", "50000"), quote("BTC-PERP", "50050", "50060", "50200")
    watcher.before_publish(quotes=[spot, perpetual], books=[], now=NOW)
    assert (perpetual["index"], perpetual["mark"]) == ("50000.0", "50055.0")

    perpetual = quote("BTC-PERP", "50050", "50060", "50010")
    watcher.before_publish(quotes=[spot, perpetual], books=[], now=NOW)
    assert perpetual["mark"] == "50010.0"
    assert "mark" not in spot


def test_a_stop_working_on_the_mark_ignores_a_spike_in_the_last_price(user):
    publish(BTC_PERP="50000")
    portfolio = make_portfolio(user)
    open_position(user, portfolio, quantity="0.1", leverage="10")
    stop, _ = order_place(user=user, portfolio_id=portfolio.pk, now=NOW, request=OrderRequest(
        symbol="BTC-PERP", side="sell", order_type="stop", quantity=D("0.1"), stop_price=D("49800"),
        trigger_source="mark", reduce_only=True))
    engine = OrderEngine()

    quotes = publish(BTC_PERP="49900")
    quotes[0]["last"] = "49500"  # a last trade far below the stop, the mark still above it
    state.market_state_write(quotes=quotes, books=[], status={})
    engine.tick(now=NOW)
    assert Order.objects.get(pk=stop.pk).status == "pending_trigger"

    publish(BTC_PERP="49790")
    engine.tick(now=NOW)
    assert Order.objects.get(pk=stop.pk).status == "filled"
