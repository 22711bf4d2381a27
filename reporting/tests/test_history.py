"""GET /api/history/{orders,positions,trades}: everything the user ever traded, archived portfolios included."""
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from orders.models import Trade
from orders.services import OrderRequest, order_cancel, order_place
from portfolios.models import Position
from portfolios.services import portfolio_create

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 24, 15, 0, 2, tzinfo=UTC)  # just after the market_feed fixture's update


@pytest.fixture
def instant(user, market_feed):
    """A realistic portfolio with latency switched off: marketable orders fill in the call."""
    return portfolio_create(user=user, name="Instant", simulate_latency=False)


def test_history_endpoints_keep_everything_including_archived_portfolios(user, instant, auth_client, other_client,
                                                                         django_assert_max_num_queries):
    bought, _ = order_place(user=user, portfolio_id=instant.pk, now=NOW, request=OrderRequest(
        symbol="ETH-USD", side="buy", order_type="market", quantity=Decimal("1")))
    order_place(user=user, portfolio_id=instant.pk, now=NOW, request=OrderRequest(
        symbol="ETH-USD", side="sell", order_type="market", quantity=Decimal("1")))
    resting, _ = order_place(user=user, portfolio_id=instant.pk, now=NOW, request=OrderRequest(
        symbol="BTC-USD", side="buy", order_type="limit", quantity=Decimal("0.01"), limit_price=Decimal("1000.00")))
    order_cancel(user=user, order_id=resting.pk)
    auth_client.delete(f"/api/portfolio/{instant.pk}")  # archived: history stays

    with django_assert_max_num_queries(6):  # token, page, events, trades (+instruments): none per row
        orders = auth_client.get("/api/history/orders").json()["results"]
    positions = auth_client.get("/api/history/positions").json()["results"]
    trades = auth_client.get("/api/history/trades").json()["results"]

    assert [order["status"] for order in orders] == ["cancelled", "filled", "filled"]
    assert [event["kind"] for event in orders[0]["history"]] == ["created", "cancelled"]
    assert orders[2]["id"] == str(bought.pk)
    assert [fill["id"] for fill in orders[2]["fills"]] == [str(trade.pk) for trade in bought.trades.all()]
    assert [(position["symbol"], position["status"]) for position in positions] == [("ETH-USD", "closed")]
    assert Decimal(positions[0]["realized_pnl"]) == Position.objects.get(portfolio=instant).realized_pnl
    assert len(trades) == Trade.objects.filter(portfolio=instant).count() >= 2
    assert other_client.get("/api/history/orders").json()["results"] == []
