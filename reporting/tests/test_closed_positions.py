"""A closed position keeps its record (spec §14 History): its size, average entry and exit,
holding time, fees and realized P&L gross and net of its costs, as the history shows it."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from orders.services import OrderRequest, order_place
from orders.tests.books import (
    NOW,
    books_balance,  # noqa: F401 (autouse fixture)
    instruments,  # noqa: F401 (fixture)
    make_portfolio,
    publish,
)
from portfolios.models import Portfolio, Position

pytestmark = pytest.mark.django_db


@pytest.fixture
def round_trip(user, instruments, monkeypatch):  # noqa: F811
    """Buy 2 ETH at 2000, sell 1 at 2010, buy 1 at 2030, sell 2 at 2040 (FIFO: the position closes)."""
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    portfolio = make_portfolio(user)
    # Opened the day before, so the fills at NOW fall inside its analytics track record.
    Portfolio.objects.filter(pk=portfolio.pk).update(created_at=NOW - timedelta(days=1))
    for side, quantity, price in (("buy", "2", "2000"), ("sell", "1", "2010"), ("buy", "1", "2030"),
                                  ("sell", "2", "2040")):
        spread = Decimal("0.5")  # the side the order takes is at `price`
        bid, ask = (Decimal(price) - spread, price) if side == "buy" else (price, Decimal(price) + spread)
        publish("ETH-USD", bids=[(str(bid), "10")], asks=[(str(ask), "10")])
        order_place(user=user, portfolio_id=portfolio.pk, request=OrderRequest(
            symbol="ETH-USD", side=side, order_type="market", quantity=Decimal(quantity)))
    return portfolio


def test_a_closed_position_keeps_its_size_entry_and_exit(round_trip):
    position = Position.objects.get(portfolio=round_trip)

    # Closed 1 lot of 2000 at 2010, then 1 of 2000 and 1 of 2030 at 2040.
    assert (position.status, position.quantity) == ("closed", 0)
    assert position.closed_quantity == 3
    assert position.average_entry_price == Decimal("2010")  # (2000 + 2000 + 2030) / 3, not the last lots' 2015
    assert position.average_exit_price == Decimal("2030")   # (2010 + 2040 + 2040) / 3
    assert position.realized_pnl == Decimal("60")           # 10 + 40 + 10, before fees


def test_the_history_shows_the_record_with_gross_and_net_realized_pnl(auth_client, round_trip):
    (row,) = auth_client.get("/api/history/positions", {"portfolio": str(round_trip.pk)}).json()["results"]

    assert row["quantity"] == "0.0000000000" and row["closed_quantity"] == "3.0000000000"
    assert (row["average_entry_price"], row["average_exit_price"]) == ("2010.0000000000", "2030.0000000000")
    assert row["holding_seconds"] == 0 and row["closed_at"] is not None
    # Fees: 0.1% of 4000 + 2010 + 2030 + 4080 = 12.12; net = 60 gross − 12.12.
    assert (row["realized_pnl"], row["fees_paid"], row["net_realized_pnl"]) == (
        "60.00000000", "12.12000000", "47.88000000")
    assert [(lot["original_quantity"], lot["price"]) for lot in row["lots"]] == [
        ("2.0000000000", "2000.0000000000"), ("1.0000000000", "2030.0000000000")]


def test_the_history_and_analytics_agree_on_net_realized_pnl(auth_client, round_trip):
    (row,) = auth_client.get("/api/history/positions", {"portfolio": str(round_trip.pk)}).json()["results"]
    statistics = auth_client.get("/api/analytics/trades", {"portfolio": str(round_trip.pk)}).json()["statistics"]

    assert statistics["position_count"] == 1
    assert statistics["gross_profit"] == row["net_realized_pnl"] == "47.88000000"


def test_a_partly_closed_position_shows_its_realized_pnl_so_far_gross_and_net(auth_client, user, round_trip):
    publish("ETH-USD", bids=[("2100", "10")], asks=[("2100.5", "10")])
    order_place(user=user, portfolio_id=round_trip.pk, request=OrderRequest(
        symbol="ETH-USD", side="buy", order_type="market", quantity=Decimal("2")))
    publish("ETH-USD", bids=[("2110", "10")], asks=[("2110.5", "10")])
    order_place(user=user, portfolio_id=round_trip.pk, request=OrderRequest(
        symbol="ETH-USD", side="sell", order_type="market", quantity=Decimal("1")))

    (row,) = auth_client.get("/api/positions", {"portfolio": str(round_trip.pk)}).json()["results"]

    # Bought 2 at 2100.5, sold 1 at 2110: 9.5 gross; fees 4.201 + 2.11.
    assert (row["status"], row["closed_quantity"], row["average_exit_price"]) == ("open", "0.0000000000", None)
    assert (row["realized_pnl"], row["net_realized_pnl"]) == ("9.50000000", "3.18900000")
