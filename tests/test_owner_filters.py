"""A filter naming someone else's portfolio, order, trade or position answers 404 on every list,
as the same id in a path does (docs/api-conventions.md, "Other people's data is not found").
tests/test_access_control.py tries every such parameter the schema lists; these pin the answers."""
import pytest

from orders.tests.books import instruments, make_portfolio, publish_eth  # noqa: F401 (fixture)
from orders.models import Order, Trade
from portfolios.models import Position
from reporting.journal.services import journal_entry_create

pytestmark = pytest.mark.django_db

PORTFOLIO_FILTERED_LISTS = ["/api/orders", "/api/trades", "/api/positions", "/api/history/orders",
                            "/api/history/positions", "/api/history/trades", "/api/journal"]


@pytest.fixture
def alices(user, instruments, auth_client):
    publish_eth()
    portfolio = make_portfolio(user)
    for side in ("buy", "sell", "buy"):  # a closed position for the history, and an open one
        auth_client.post("/api/orders", {"portfolio": str(portfolio.pk), "symbol": "ETH-USD", "side": side,
                                         "order_type": "market", "quantity": "1"}, format="json")
    journal_entry_create(user=user, portfolio_id=portfolio.pk, title="Why I bought")
    return {"portfolio": portfolio.pk, "order": Order.objects.first().pk, "trade": Trade.objects.first().pk,
            "position": Position.objects.first().pk}


@pytest.mark.parametrize("path", PORTFOLIO_FILTERED_LISTS)
def test_someone_elses_portfolio_as_a_filter_is_404(path, alices, auth_client, other_client):
    own = auth_client.get(path, {"portfolio": str(alices["portfolio"])})
    foreign = other_client.get(path, {"portfolio": str(alices["portfolio"])})

    assert own.status_code == 200 and own.json()["results"]
    assert foreign.status_code == 404
    assert foreign.json()["error"] == {"code": "not_found", "message": "Portfolio not found.", "field": "portfolio_id"}


@pytest.mark.parametrize("path, name", [("/api/trades", "order"), ("/api/history/trades", "order"),
                                        ("/api/journal", "order"), ("/api/journal", "trade"),
                                        ("/api/journal", "position"), ("/api/derivatives/margin-history", "position")])
def test_someone_elses_order_trade_or_position_as_a_filter_is_404(path, name, alices, auth_client, other_client):
    assert auth_client.get(path, {name: str(alices[name])}).status_code == 200
    assert other_client.get(path, {name: str(alices[name])}).json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("path", PORTFOLIO_FILTERED_LISTS)
def test_an_empty_portfolio_filter_is_no_filter_and_a_malformed_one_is_400(path, alices, auth_client):
    assert auth_client.get(path, {"portfolio": ""}).json()["results"]
    malformed = auth_client.get(path, {"portfolio": "not-a-uuid"})
    assert malformed.status_code == 400 and malformed.json()["error"]["field"] == "portfolio"
