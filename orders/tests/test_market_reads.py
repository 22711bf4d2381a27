"""An order operation reads the live market once per key (haunt.market.state.one_market_instant):
its checks, its fill, the position's mark and the events it sends all price against one instant."""
from decimal import Decimal

from haunt.market import state
from haunt.market.tests.test_state import CountingCache
from orders.services import OrderRequest, order_place
from orders.tests.books import NOW, books_balance, instruments, make_portfolio, publish_eth  # noqa: F401

D = Decimal


def test_a_filled_market_order_asks_the_cache_once_per_quote_and_book(user, instruments, monkeypatch):  # noqa: F811
    publish_eth()
    portfolio = make_portfolio(user)
    asked = CountingCache(monkeypatch)

    order, _ = order_place(user=user, portfolio_id=portfolio.pk, now=NOW, request=OrderRequest(
        symbol="ETH-USD", side="buy", order_type="market", quantity=D("3")))

    assert order.status == "filled"
    market_keys = [key for key in asked.keys if key.startswith("market:")]
    assert sorted(market_keys) == sorted({*market_keys})  # no key asked twice
    assert {state.quote_key("ETH-USD"), state.book_key("ETH-USD")} <= set(market_keys)
