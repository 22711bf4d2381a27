"""A closed position keeps its record (spec §14 History): its size, average entry and exit,
holding time, fees and realized P&L gross and net of its costs, as the history shows it."""
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
from portfolios.models import Position

pytestmark = pytest.mark.django_db


@pytest.fixture
def round_trip(user, instruments, monkeypatch):  # noqa: F811
    """Buy 2 ETH at 2000, sell 1 at 2010, buy 1 at 2030, sell 2 at 2040 (FIFO: the position closes)."""
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    portfolio = make_portfolio(user)
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
