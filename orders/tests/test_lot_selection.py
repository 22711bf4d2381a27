"""Specific lot identification: a closing order's `lot_ids` close those lots first, the rest follows
the portfolio's cost basis method; HIFO as a portfolio setting; refusals change nothing."""
import pytest
from django.utils import timezone

from orders.models import Order
from orders.services import OrderRequest, order_place
from orders.tests.books import (
    D,
    NOW,
    books_balance,  # noqa: F401 (autouse fixture)
    instruments,  # noqa: F401 (fixture)
    make_portfolio,
    publish,
)
from portfolios.models import LotDisposal, PositionLot

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


def buy_at(user, portfolio, ask, quantity):
    publish("ETH-USD", bids=[(f"{D(ask) - 1}", "100")], asks=[(ask, "100")])
    order_place(user=user, portfolio_id=portfolio.pk, request=OrderRequest(
        symbol="ETH-USD", side="buy", order_type="market", quantity=D(quantity)))


@pytest.fixture
def three_lots(user, instruments):
    """Lots of 1 ETH bought at 2000, 2600 and 2300, in that order."""
    portfolio = make_portfolio(user)
    for ask in ("2000", "2600", "2300"):
        buy_at(user, portfolio, ask, "1")
    publish("ETH-USD", bids=[("2400", "100")], asks=[("2401", "100")])
    return portfolio, list(PositionLot.objects.order_by("opened_at", "pk"))


def sell(client, portfolio, quantity, **fields):
    """POST a market sell of `quantity` ETH; a field given as None is left out."""
    body = {"portfolio": str(portfolio.pk), "symbol": "ETH-USD", "side": "sell", "order_type": "market",
            "quantity": quantity, **fields}
    return client.post("/api/orders", {name: value for name, value in body.items() if value is not None},
                       format="json")


def closed_prices(order_id):
    return [disposal.open_price for disposal in LotDisposal.objects.filter(trade__order_id=order_id).order_by("pk")]


def test_named_lots_close_first_then_the_portfolio_method(auth_client, three_lots):
    portfolio, (cheap, dear, middle) = three_lots
    response = sell(auth_client, portfolio, "2", lot_ids=[middle.pk])
    assert response.status_code == 201, response.content
    assert response.json()["lot_ids"] == [middle.pk]
    # The 2300 lot as named, then FIFO for the rest: the 2000 lot.
    assert closed_prices(response.json()["id"]) == [D("2300"), D("2000")]


def test_hifo_portfolio_closes_the_dearest_lot_first(auth_client, three_lots):
    portfolio, _ = three_lots
    response = auth_client.patch(f"/api/portfolio/{portfolio.pk}", {"cost_basis_method": "hifo"}, format="json")
    assert (response.status_code, response.json()["cost_basis_method"]) == (200, "hifo")
    order_id = sell(auth_client, portfolio, "2").json()["id"]
    assert closed_prices(order_id) == [D("2600"), D("2300")]


@pytest.mark.parametrize(("fields", "method", "code"), [
    ({"lot_ids": [999999]}, "fifo", "unknown_lot"),
    ({"lot_ids": "first"}, "fifo", "not_a_list"),
    ({"lot_ids": ["LOT"]}, "fifo", "invalid"),
    ("named", "average", "lots_not_selectable"),
    ({"lot_ids": "named", "side": "buy"}, "fifo", "nothing_to_close"),
])
def test_refused_lot_selections_change_nothing(auth_client, three_lots, fields, method, code):
    portfolio, lots = three_lots
    portfolio.cost_basis_method = method
    portfolio.save(update_fields=["cost_basis_method"])
    named = {"lot_ids": [lots[0].pk]}
    fields = named if fields == "named" else {**fields, **(named if fields.get("lot_ids") == "named" else {})}
    before = Order.objects.count()
    response = sell(auth_client, portfolio, "1", **fields)
    assert response.status_code == 400, response.content
    assert (response.json()["error"]["code"], response.json()["error"]["field"].split(".")[0]) == (code, "lot_ids")
    assert Order.objects.count() == before


def test_only_simple_orders_name_lots(auth_client, three_lots):
    portfolio, lots = three_lots
    response = sell(auth_client, portfolio, "1", lot_ids=[lots[0].pk], order_class="oco",
                    take_profit={"limit_price": "3000"}, stop_loss={"stop_price": "1500"}, order_type=None)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "not_allowed")
