"""Shared setup for the hand-worked order tests: known books published as the live market, the
portfolios that trade them, and the bookkeeping every scenario must leave balanced."""
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from haunt.market import state
from haunt.market.services import instruments_sync
from haunt.market.universe import spec_by_symbol
from orders.models import Order, Trade
from portfolios.models import LedgerEntry, Portfolio
from portfolios.services import portfolio_create

D = Decimal
NOW = datetime(2026, 11, 24, 15, 0, 2, tzinfo=UTC)  # Tuesday 10:00 in New York: NYSE open
START_CASH = D("5000000")
# A liquid ETH book: 100 ETH on the ask side, 10 on the bid side, mid 1999.50.
ETH_BIDS = [("1999.00", "5"), ("1998.00", "5")]
ETH_ASKS = [("2000.00", "2"), ("2001.00", "3"), ("2002.00", "95")]
TRADED_SYMBOLS = ("ETH-USD", "SOL-USD", "AAPL")


@pytest.fixture
def instruments(db):
    """Only the instruments these tests trade (the whole universe would triple the run time).
    Import it into a test module to use it there in place of the root fixture."""
    instruments_sync(tuple(spec_by_symbol(symbol) for symbol in TRADED_SYMBOLS))


def publish(symbol, *, bids, asks, last=None, volume="0"):
    """Make this the live book and quote of `symbol` (prices and sizes as strings, best first;
    `volume` traded since the previous update)."""
    bid = bids[0][0] if bids else None
    ask = asks[0][0] if asks else None
    if last is None:
        last = f"{(D(bid) + D(ask)) / 2:f}" if bid and ask else bid or ask
    state.market_state_write(
        quotes=[{"symbol": symbol, "bid": bid, "ask": ask, "last": last, "bid_size": bids[0][1] if bids else None,
                 "ask_size": asks[0][1] if asks else None, "volume": volume, "timestamp": NOW.isoformat(),
                 "sources": ["test"], "is_open": True}],
        books=[{"symbol": symbol, "bids": [list(level) for level in bids], "asks": [list(level) for level in asks],
                "timestamp": NOW.isoformat(), "sources": ["test"], "is_open": True}],
        status={"timestamp": NOW.isoformat()},
    )


def publish_eth(**overrides):
    publish("ETH-USD", **{"bids": ETH_BIDS, "asks": ETH_ASKS, **overrides})


def make_portfolio(user, *, profile="frictionless", latency=False, cash=START_CASH, **risk):
    return portfolio_create(user=user, name=f"{profile} {latency}", starting_balance=cash, realism_profile=profile,
                            simulate_latency=latency, risk_settings=risk or None)


@pytest.fixture(autouse=True)
def books_balance(db):
    """After every test of a module that imports it: cash is the sum of the ledger, each trade has
    its settlement and fee entries, and each order's filled quantity and fees are the sums over
    its trades."""
    yield
    for portfolio in Portfolio.objects.all():
        assert portfolio.cash == sum(LedgerEntry.objects.filter(portfolio=portfolio).values_list("amount", flat=True))
    for trade in Trade.objects.select_related("instrument"):
        notional = (trade.quantity * trade.price * trade.instrument.contract_multiplier).quantize(D("1e-8"))
        expected = [("trade", -notional if trade.side == "buy" else notional)]
        if trade.fee:
            expected.append(("fee", -trade.fee))
        entries = LedgerEntry.objects.filter(reference=str(trade.pk)).order_by("id").values_list("kind", "amount")
        assert list(entries) == expected
    for order in Order.objects.prefetch_related("trades"):
        trades = list(order.trades.all())
        assert order.filled_quantity == sum((trade.quantity for trade in trades), D(0))
        assert order.fees_paid == sum((trade.fee for trade in trades), D(0))
