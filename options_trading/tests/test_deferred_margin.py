"""A short option that waits to execute (sold while the market is closed, or resting as a limit)
is margin-checked again when it executes, at the portfolio and prices of that moment."""
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from haunt.market import state
from haunt.realtime import ORDERS
from options_trading.services import option_market_prepare, option_quotes_refresh
from options_trading.tests.conftest import NOW, group_messages
from orders.models import Order, OrderEvent
from orders.services import order_execute_due, order_fire
from orders.tests.books import books_balance, make_portfolio, publish  # noqa: F401 (books_balance is autouse)
from portfolios.models import Portfolio, Position

D = Decimal
PUT_190 = "AAPL  261218P00190000"
SATURDAY = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
MONDAY_OPEN = datetime(2026, 11, 30, 14, 30, tzinfo=UTC)
CASH = D("10000")  # a naked 190 put needs about $3,000 of buying power beyond its premium


def place(client, portfolio, symbol, side, quantity, **fields):
    response = client.post("/api/orders", {"portfolio": str(portfolio.pk), "symbol": symbol, "side": side,
                                           "order_type": "market", "quantity": quantity, **fields}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def holdings(portfolio) -> tuple[Decimal, list]:
    return (Portfolio.objects.get(pk=portfolio.pk).cash,
            sorted(Position.objects.filter(portfolio=portfolio, status="open").values_list(
                "instrument__symbol", "side", "quantity")))


def order_updates(portfolio, run, capture_on_commit) -> list[dict]:
    """The OrderUpdate messages the orders room of `portfolio` receives once `run()` commits."""
    return [message for message in group_messages(portfolio.pk, ORDERS, run, capture_on_commit)
            if message["event"] == "OrderUpdate"]


@pytest.mark.parametrize("drained", [True, False])
def test_a_short_put_sold_while_closed_is_checked_again_at_the_open(
        auth_client, user, underlyings, monkeypatch, django_capture_on_commit_callbacks, drained):
    portfolio = make_portfolio(user, cash=CASH, max_position_size_pct=100)
    monkeypatch.setattr("django.utils.timezone.now", lambda: SATURDAY)
    waiting = place(auth_client, portfolio, PUT_190, "sell", "1")
    assert waiting["status"] == "accepted" and waiting["execute_after"].startswith("2026-11-30T14:30")
    if drained:  # Bitcoin trades on Saturdays: $7,200 of it leaves too little for the put's margin
        assert place(auth_client, portfolio, "BTC-USD", "buy", "0.08")["status"] == "filled"
    before = holdings(portfolio)

    monkeypatch.setattr("django.utils.timezone.now", lambda: MONDAY_OPEN)
    updates = order_updates(portfolio, lambda: order_execute_due(order_id=waiting["id"], now=MONDAY_OPEN),
                            django_capture_on_commit_callbacks)

    order = Order.objects.get(pk=waiting["id"])
    if drained:
        assert order.status == "rejected" and order.filled_quantity == 0
        assert "option margin" in order.reject_reason and "is available" in order.reject_reason
        assert OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.REJECTED).exists()
        assert [(update["data"]["id"], update["change"]) for update in updates] == [(waiting["id"], "rejected")]
        assert updates[0]["data"]["reject_reason"] == order.reject_reason
        assert holdings(portfolio) == before  # no cash, no position moved
    else:
        bid = D(state.quote_read(PUT_190)["bid"])
        assert order.status == "filled" and order.average_fill_price == bid
        cash, positions = holdings(portfolio)
        assert positions == [(PUT_190, "short", D(1))] and cash > before[0]  # the premium came in


@pytest.mark.parametrize("drained", [True, False])
def test_a_resting_short_put_limit_is_checked_again_when_the_engine_fills_it(
        auth_client, user, underlyings, drained):
    portfolio = make_portfolio(user, cash=CASH, max_position_size_pct=100)
    auth_client.get("/api/options/chains/AAPL", {"expiry": "2026-12-18"})  # lists and quotes the contracts
    _, ask = (D(state.quote_read(PUT_190)[side]) for side in ("bid", "ask"))
    limit = ask + D("0.05")
    resting = place(auth_client, portfolio, PUT_190, "sell", "1", order_type="limit", limit_price=f"{limit:f}")
    assert resting["status"] == "accepted"
    if drained:
        assert place(auth_client, portfolio, "BTC-USD", "buy", "0.08")["status"] == "filled"
    # AAPL falls $5: the re-quoted put is bid above the limit, and the engine fires the order.
    publish("AAPL", bids=[("195.00", "500")], asks=[("195.02", "500")])
    option_quotes_refresh(now=NOW)
    assert D(state.quote_read(PUT_190)["bid"]) >= limit
    before = holdings(portfolio)

    order_fire(order_id=resting["id"], now=NOW)

    order = Order.objects.get(pk=resting["id"])
    if drained:
        assert order.status == "rejected" and "option margin" in order.reject_reason
        assert holdings(portfolio) == before
    else:
        assert order.status == "filled" and order.average_fill_price == limit
        assert holdings(portfolio)[1] == [(PUT_190, "short", D(1))]


@pytest.mark.parametrize("moment, aapl_open", [(NOW, True), (SATURDAY, False)])
def test_option_quotes_are_open_while_their_underlying_trades(underlyings, monkeypatch, moment, aapl_open):
    monkeypatch.setattr("django.utils.timezone.now", lambda: moment)

    for symbol in (PUT_190, "BTC-25DEC26-90000-C"):
        option_market_prepare(symbol)

    assert state.quote_read(PUT_190)["is_open"] is aapl_open  # NYSE hours
    assert state.quote_read("BTC-25DEC26-90000-C")["is_open"] is True  # crypto options trade around the clock
    assert state.book_read(PUT_190)["is_open"] is aapl_open
