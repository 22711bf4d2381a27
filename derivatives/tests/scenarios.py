"""Shared setup of the derivatives scenario tests: perpetual books with a known mark published as
the live market, portfolios that trade them, and the bookkeeping each scenario must leave balanced."""
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from derivatives.models import InsuranceFund, InsuranceFundEntry
from haunt.market import state
from haunt.market.services import instruments_sync
from haunt.market.universe import spec_by_symbol
from orders.services import OrderRequest, order_place
from portfolios.models import LedgerEntry, Portfolio
from portfolios.services import portfolio_create

D = Decimal
NOW = datetime(2026, 11, 24, 15, 0, 2, tzinfo=UTC)
SYMBOLS = ("BTC-USD", "ETH-USD", "BTC-PERP", "ETH-PERP")
# Advisory controls out of the way: these scenarios are about margin.
RELAXED = {"max_position_size_pct": "100", "daily_loss_limit_pct": "50", "drawdown_stop_pct": "50",
           "modes": {"max_position_size_pct": "warn", "daily_loss_limit_pct": "warn", "drawdown_stop_pct": "warn",
                     "correlation_warning_threshold": "warn", "risk_per_trade_pct": "warn"}}


@pytest.fixture
def instruments(db):
    instruments_sync(tuple(spec_by_symbol(symbol) for symbol in SYMBOLS))


TICKS = {"BTC-PERP": D("0.1"), "ETH-PERP": D("0.01"), "BTC-USD": D("0.01"), "ETH-USD": D("0.01")}


def quote_at(symbol: str, price: str, *, at: str = "bid", depth: str = "1000") -> tuple[dict, dict]:
    """A quote and a deep book one tick wide with `price` as its bid (at="bid": sells fill there) or
    its ask (at="ask": buys fill there), marked at `price`."""
    tick = TICKS[symbol]
    bid = D(price) if at == "bid" else D(price) - tick
    ask = bid + tick
    quote = {"symbol": symbol, "bid": f"{bid:f}", "ask": f"{ask:f}", "last": price, "bid_size": depth,
             "ask_size": depth, "timestamp": NOW.isoformat(), "sources": ["test"], "is_open": True,
             "mark": price, "index": price}
    book = {"symbol": symbol, "bids": [[f"{bid:f}", depth]], "asks": [[f"{ask:f}", depth]],
            "timestamp": NOW.isoformat(), "sources": ["test"], "is_open": True}
    return quote, book


def publish(at: str = "bid", **prices: str) -> list[dict]:
    """Publish perpetual quotes: publish(BTC_PERP="50000") (underscores for dashes). Returns the quotes."""
    quotes, books = [], []
    for key, price in prices.items():
        quote, book = quote_at(key.replace("_", "-"), price, at=at)
        quotes.append(quote)
        books.append(book)
    state.market_state_write(quotes=quotes, books=books, status={"timestamp": NOW.isoformat()})
    return quotes


def make_portfolio(user, *, cash="5000000", name="Perps"):
    return portfolio_create(user=user, name=name, starting_balance=D(cash), realism_profile="frictionless",
                            simulate_latency=False, risk_settings=RELAXED)


def open_position(user, portfolio, *, symbol="BTC-PERP", side="buy", quantity="0.9", leverage="100",
                  margin_mode="isolated", price="50000"):
    """Open (or add to) a position by a market order filled at exactly `price`."""
    publish(at="ask" if side == "buy" else "bid", **{symbol.replace("-", "_"): price})
    order, _ = order_place(user=user, portfolio_id=portfolio.pk, request=OrderRequest(
        symbol=symbol, side=side, order_type="market", quantity=D(quantity), leverage=D(leverage),
        margin_mode=margin_mode), now=NOW)
    assert order.status == "filled", order.reject_reason
    return order.trades.get().position


def fund_balance() -> Decimal:
    fund = InsuranceFund.objects.filter(currency="USD").first()
    return fund.balance if fund else D(0)


@pytest.fixture(autouse=True)
def books_balance(instruments):
    """After every scenario: each portfolio's cash is its ledger and the fund's balance its entries."""
    yield
    for portfolio in Portfolio.objects.all():
        assert portfolio.cash == sum(LedgerEntry.objects.filter(portfolio=portfolio).values_list("amount", flat=True))
    for fund in InsuranceFund.objects.all():
        assert fund.balance == sum(InsuranceFundEntry.objects.filter(fund=fund).values_list("amount", flat=True))
