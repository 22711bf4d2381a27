"""The orders, trades and positions endpoints: status codes and exact bodies, every refusal of
POST /api/orders, ownership (someone else's object is 404), and the worked numbers of the fills
behind them (the same hand-worked books as test_order_types). The clock is pinned to a Tuesday
15:00 UTC, when NYSE is open, since the views read it.
"""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.engine import OrderEngine
from orders.models import Order, Trade
from orders.services import order_fire
from orders.tests.books import (
    D,
    NOW,
    START_CASH,
    books_balance,  # noqa: F401 (autouse fixture)
    instruments,  # noqa: F401 (fixture)
    make_portfolio,
    publish,
    publish_eth,
)
from portfolios.models import LedgerEntry, Position

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch):
    moments = {"now": NOW}
    monkeypatch.setattr(timezone, "now", lambda: moments["now"])
    return moments


@pytest.fixture
def market(instruments, clock):
    publish_eth()
    publish("AAPL", bids=[("278.40", "500")], asks=[("278.50", "500")])


@pytest.fixture
def portfolio(user, market):
    return make_portfolio(user)


def post_order(client, portfolio, **fields):
    """POST /api/orders: a market buy of 1 ETH unless `fields` say otherwise (None leaves a field out)."""
    body = {"portfolio": str(portfolio.pk), "symbol": "ETH-USD", "side": "buy", "order_type": "market",
            "quantity": "1", **fields}
    return client.post("/api/orders", {name: value for name, value in body.items() if value is not None},
                       format="json")


def error_of(response, status):
    assert response.status_code == status, response.content
    return response.json()["error"]


def assert_cash_is_the_ledger(portfolio) -> Decimal:
    portfolio.refresh_from_db()
    assert portfolio.cash == sum(LedgerEntry.objects.filter(portfolio=portfolio).values_list("amount", flat=True))
    return portfolio.cash


# --- POST /api/orders --------------------------------------------------------------------------


def test_market_order_answers_201_with_the_filled_order(auth_client, portfolio):
    response = post_order(auth_client, portfolio, quantity="1.5")

    assert response.status_code == 201
    body = response.json()
    order = Order.objects.get()
    assert body == {
        "id": str(order.pk), "portfolio": str(portfolio.pk), "client_order_id": "", "symbol": "ETH-USD",
        "asset_class": "crypto_spot", "side": "buy", "order_type": "market", "time_in_force": "gtc",
        "status": "filled", "reject_reason": "", "quantity": "1.5000000000", "filled_quantity": "1.5000000000",
        "remaining_quantity": "0.0000000000", "average_fill_price": "2000.0000000000", "limit_price": None,
        "stop_price": None, "trail_amount": None, "trail_percent": None, "high_water_mark": None,
        "trigger_source": "last", "reduce_only": False, "post_only": False, "leverage": None, "margin_mode": "",
        "role": "single", "linked_order": None, "parent": None, "group_id": None, "position": None, "realism_profile": "frictionless",
        "arrival_price": "1999.5000000000", "latency_ms": 0, "execute_after": None, "expires_at": None, "tags": [], "lot_ids": [],
        "warnings": [], "fees_paid": "3.00000000", "triggered_at": None, "filled_at": "2026-11-24T15:00:02Z",
        "cancelled_at": None, "created_at": "2026-11-24T15:00:02Z", "updated_at": "2026-11-24T15:00:02Z",
    }
    assert assert_cash_is_the_ledger(portfolio) == START_CASH - D("3000") - D("3")


def test_client_order_id_makes_a_resubmission_answer_200_with_the_same_order(auth_client, portfolio):
    first = post_order(auth_client, portfolio, order_type="limit", limit_price="1900.00", client_order_id="mine-1")
    again = post_order(auth_client, portfolio, order_type="limit", limit_price="1900.00", client_order_id="mine-1")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"] and again.json()["client_order_id"] == "mine-1"
    assert Order.objects.count() == 1


def test_post_only_that_would_take_answers_201_rejected(auth_client, portfolio):
    response = post_order(auth_client, portfolio, order_type="limit", limit_price="2000.00", post_only=True)

    assert response.status_code == 201
    assert (response.json()["status"], response.json()["reject_reason"]) == (
        "rejected", "Post-only order would take liquidity.")
    assert not Trade.objects.exists()


def test_position_size_warning_is_returned_on_the_accepted_order(auth_client, user, market):
    portfolio = make_portfolio(user, modes={"max_position_size_pct": "warn"})

    # 700 × 2000.00 = 1,400,000 is 28 % of the 5,000,000 equity; the limit is 25 %
    response = post_order(auth_client, portfolio, quantity="700", order_type="limit", limit_price="2000.00")

    assert response.status_code == 201
    assert response.json()["warnings"] == [{"code": "risk_max_position_size_pct",
                                            "message": "The position would be 28.00% of equity; the limit is 25%."}]


def test_trailing_stop_exposes_its_high_water_mark(auth_client, portfolio):
    publish_eth(last="2000.00")
    post_order(auth_client, portfolio)

    response = post_order(auth_client, portfolio, side="sell", order_type="trailing_stop", trail_percent="2.5")

    # 2000.00 × 0.975 = 1950.00
    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["high_water_mark"], body["stop_price"], body["trail_percent"]) == (
        "pending_trigger", "2000.0000000000", "1950.0000000000", "2.5000")


def test_bracket_answers_the_entry_with_its_held_exits_as_legs(auth_client, portfolio):
    response = post_order(auth_client, portfolio, order_class="bracket", order_type="limit", quantity="2",
                          limit_price="1950.00", take_profit={"limit_price": "2100.00"},
                          stop_loss={"stop_price": "1900.00", "limit_price": "1890.00"})

    assert response.status_code == 201
    body = response.json()
    take_profit, stop = body["legs"]
    assert (body["role"], body["status"]) == ("entry", "accepted")
    assert [(leg["role"], leg["order_type"], leg["status"], leg["side"], leg["quantity"], leg["parent"])
            for leg in body["legs"]] == [
        ("take_profit", "limit", "held", "sell", "2.0000000000", body["id"]),
        ("stop_loss", "stop_limit", "held", "sell", "2.0000000000", body["id"]),
    ]
    assert (stop["stop_price"], stop["limit_price"]) == ("1900.0000000000", "1890.0000000000")
    assert take_profit["linked_order"] == stop["id"] and stop["linked_order"] == take_profit["id"]
    assert take_profit["group_id"] == stop["group_id"] == body["group_id"]


def test_oco_answers_both_legs(auth_client, portfolio):
    post_order(auth_client, portfolio)

    response = post_order(auth_client, portfolio, order_class="oco", side="sell", order_type=None,
                          take_profit={"limit_price": "2100.00"}, stop_loss={"trail_amount": "30.00"})

    assert response.status_code == 201
    body = response.json()
    assert [(leg["role"], leg["order_type"], leg["status"]) for leg in [body, *body["legs"]]] == [
        ("oco", "limit", "accepted"), ("oco", "trailing_stop", "pending_trigger")]
    assert body["linked_order"] == body["legs"][0]["id"]
    assert body["legs"][0]["stop_price"] == "1969.5000000000"  # last 1999.50 (the published mid) − 30.00


def test_oco_takes_order_type_limit_the_type_of_its_take_profit_leg(auth_client, portfolio):
    """The body other brokers' APIs take for an OCO (type limit, as its first leg is) is accepted."""
    post_order(auth_client, portfolio)

    response = post_order(auth_client, portfolio, order_class="oco", side="sell", order_type="limit",
                          take_profit={"limit_price": "2100.00"}, stop_loss={"stop_price": "1900.00"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert [(leg["role"], leg["order_type"]) for leg in [body, *body["legs"]]] == [("oco", "limit"), ("oco", "stop")]
    refused = post_order(auth_client, portfolio, order_class="oco", side="sell", order_type="stop",
                         take_profit={"limit_price": "2100.00"}, stop_loss={"stop_price": "1900.00"})
    assert error_of(refused, 400) == {
        "code": "not_allowed", "field": "order_type",
        "message": "An oco order's order_type, when given, is limit: the type of its take_profit leg."}


def test_oco_stop_leg_takes_the_requested_trigger_source(auth_client, portfolio):
    post_order(auth_client, portfolio)

    response = post_order(auth_client, portfolio, order_class="oco", side="sell", order_type=None,
                          trigger_source="bid_ask", take_profit={"limit_price": "2100.00"},
                          stop_loss={"stop_price": "1900.00"})

    assert response.status_code == 201
    assert response.json()["legs"][0]["trigger_source"] == "bid_ask"


def test_oco_refuses_an_expiry_without_gtd(auth_client, portfolio):
    response = post_order(auth_client, portfolio, order_class="oco", side="sell", order_type=None,
                          expires_at="2026-11-25T00:00:00Z", take_profit={"limit_price": "2100.00"},
                          stop_loss={"stop_price": "1900.00"})

    assert error_of(response, 400) == {"code": "not_allowed", "message": "Only GTD orders take expires_at.",
                                       "field": "expires_at"}
    assert not Order.objects.exists()


@pytest.mark.parametrize(("fields", "code", "field", "message"), [
    ({"order_type": "limit"}, "required", "limit_price", "A limit order needs limit_price."),
    ({"order_type": "stop"}, "required", "stop_price", "A stop order needs stop_price."),
    ({"order_type": "stop_limit", "stop_price": "1900.00"}, "required", "limit_price",
     "A stop_limit order needs limit_price."),
    ({"order_type": "trailing_stop"}, "required", "trail_amount",
     "A trailing stop needs exactly one of trail_amount or trail_percent."),
    ({"limit_price": "1900.00"}, "not_allowed", "limit_price", "A market order takes no limit_price."),
    ({"time_in_force": "gtd"}, "required", "expires_at", "A GTD order needs expires_at."),
    ({"post_only": True}, "not_allowed", "post_only", "Only limit orders can be post-only."),
    ({"order_class": "bracket"}, "required", "take_profit", "A bracket order needs take_profit."),
    ({"quantity": "0.00005"}, "invalid_lot_size", "quantity", "Quantity must be a multiple of the lot size 0.0001."),
    ({"order_type": "limit", "limit_price": "1999.005"}, "invalid_tick_size", "limit_price",
     "limit_price must be a multiple of the tick size 0.01."),
    ({"symbol": "NOPE-USD"}, "unknown_symbol", "symbol", "No tradable instrument 'NOPE-USD'."),
    ({"time_in_force": "day"}, "day_not_supported", "time_in_force",
     "DAY orders need an instrument with trading hours; use GTC or GTD for 24/7 markets."),
    ({"quantity": "2501"}, "insufficient_buying_power", "quantity",
     "Order needs about 5002000.00 of buying power; 5000000.00 is available."),
    ({"quantity": "700"}, "risk_max_position_size_pct", "quantity",
     "The position would be 28.00% of equity; the limit is 25%."),
    ({"side": "sell", "reduce_only": True}, "reduce_only_would_increase", "quantity",
     "A reduce-only order may only shrink an open position, never open or grow one."),
    ({"quantity": "abc"}, "invalid", "quantity", "A valid number is required."),
    ({"side": "hold"}, "invalid_choice", "side", '"hold" is not a valid choice.'),
    ({"status": "filled"}, "read_only_field", "status", "This field is read-only."),
    ({"margin": "10"}, "unknown_field", "margin", "Unknown field."),
    ({"leverage": "20"}, "leverage_not_allowed", "leverage", "leverage 20.00x exceeds the 10x maximum for crypto_spot"),
])
def test_refused_orders_answer_400_and_change_nothing(auth_client, portfolio, fields, code, field, message):
    response = post_order(auth_client, portfolio, **fields)

    assert error_of(response, 400) == {"code": code, "message": message, "field": field}
    assert not Order.objects.exists()
    assert assert_cash_is_the_ledger(portfolio) == START_CASH


def test_malformed_json_answers_400(auth_client, portfolio):
    response = auth_client.post("/api/orders", "{not json", content_type="application/json")

    assert error_of(response, 400)["code"] == "parse_error"


def test_another_users_portfolio_is_404(other_client, portfolio):
    response = post_order(other_client, portfolio)

    assert error_of(response, 404) == {"code": "not_found", "message": "Portfolio not found.", "field": "portfolio_id"}
    assert not Order.objects.exists()


AFTER_THE_CLOSE = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)  # 17:00 in New York


@pytest.mark.parametrize("time_in_force", ["ioc", "fok"])
def test_stock_ioc_and_fok_outside_nyse_hours_answer_400_market_closed(auth_client, portfolio, clock, time_in_force):
    clock["now"] = AFTER_THE_CLOSE

    response = post_order(auth_client, portfolio, symbol="AAPL", quantity="10", time_in_force=time_in_force)

    assert error_of(response, 400) == {
        "code": "market_closed", "field": "time_in_force",
        "message": "AAPL is outside its trading session; IOC and FOK orders cannot rest."}
    assert not Order.objects.exists()


def test_stock_market_order_outside_nyse_hours_waits_for_the_open(auth_client, portfolio, clock):
    clock["now"] = AFTER_THE_CLOSE

    response = post_order(auth_client, portfolio, symbol="AAPL", quantity="10")

    assert response.status_code == 201
    assert (response.json()["status"], response.json()["execute_after"]) == ("accepted", "2026-11-25T14:30:00Z")


# --- GET, PUT, DELETE /api/orders/{id} ---------------------------------------------------------


def test_order_detail_carries_its_history(auth_client, portfolio):
    order_id = post_order(auth_client, portfolio, order_type="limit", limit_price="1900.00").json()["id"]

    auth_client.put(f"/api/orders/{order_id}", {"limit_price": "1950.00", "quantity": "2"}, format="json")
    response = auth_client.get(f"/api/orders/{order_id}")

    assert response.status_code == 200
    body = response.json()
    assert (body["limit_price"], body["quantity"], body["status"]) == ("1950.0000000000", "2.0000000000", "accepted")
    assert [event["kind"] for event in body["history"]] == ["created", "modified"]
    change = body["history"][1]["detail"]
    assert {name: [D(value) for value in values] for name, values in change.items()} == {
        "limit_price": [D("1900"), D("1950")], "quantity": [D("1"), D("2")]}


def test_modification_that_makes_a_limit_marketable_executes_it(auth_client, portfolio):
    order_id = post_order(auth_client, portfolio, order_type="limit", limit_price="1900.00").json()["id"]

    response = auth_client.put(f"/api/orders/{order_id}", {"limit_price": "2000.00"}, format="json")

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["average_fill_price"]) == ("filled", "2000.0000000000")
    assert [event["kind"] for event in auth_client.get(f"/api/orders/{order_id}").json()["history"]] == [
        "created", "modified", "filled"]
    assert assert_cash_is_the_ledger(portfolio) == START_CASH - D("2000") - D("2")


def test_modification_refusals(auth_client, portfolio):
    order_id = post_order(auth_client, portfolio, order_type="limit", limit_price="1900.00").json()["id"]

    empty = auth_client.put(f"/api/orders/{order_id}", {}, format="json")
    foreign_field = auth_client.put(f"/api/orders/{order_id}", {"side": "sell"}, format="json")
    off_tick = auth_client.patch(f"/api/orders/{order_id}", {"limit_price": "1900.001"}, format="json")

    assert error_of(empty, 400)["code"] == "empty_change"
    assert error_of(foreign_field, 400) == {"code": "unknown_field", "message": "Unknown field.", "field": "side"}
    assert error_of(off_tick, 400)["code"] == "invalid_tick_size"
    assert Order.objects.get().limit_price == D("1900.00")


def test_raising_a_quantity_is_checked_like_placing_it(auth_client, portfolio):
    """Issue 20: a 1-unit limit modified to 1,000 skipped the position-size limit placement applies."""
    order_id = post_order(auth_client, portfolio, order_type="limit", limit_price="1900.00").json()["id"]
    placed_whole = post_order(auth_client, portfolio, order_type="limit", limit_price="1900.00", quantity="1000")

    raised = auth_client.put(f"/api/orders/{order_id}", {"quantity": "1000"}, format="json")

    assert error_of(placed_whole, 400)["code"] == "risk_max_position_size_pct"
    assert error_of(raised, 400) == {"code": "risk_max_position_size_pct", "field": "quantity",
                                     "message": "The position would be 38.00% of equity; the limit is 25%."}
    order = Order.objects.get()
    assert (order.quantity, order.status) == (D("1"), "accepted")
    assert [event.kind for event in order.events.all()] == ["created"]


def test_a_huge_quantity_is_refused_on_modification(auth_client, portfolio):
    order_id = post_order(auth_client, portfolio, order_type="limit", limit_price="1900.00").json()["id"]

    response = auth_client.put(f"/api/orders/{order_id}", {"quantity": "2147483648"}, format="json")

    assert error_of(response, 400)["code"] == "insufficient_buying_power"
    assert Order.objects.get().quantity == D("1")


def test_moving_a_limit_through_the_market_is_checked_at_the_new_price(auth_client, portfolio):
    order_id = post_order(auth_client, portfolio, order_type="limit", limit_price="1900.00",
                          quantity="600").json()["id"]  # 22.8% of equity at its limit

    response = auth_client.put(f"/api/orders/{order_id}", {"limit_price": "2200.00"}, format="json")

    assert error_of(response, 400) == {"code": "risk_max_position_size_pct", "field": "quantity",
                                       "message": "The position would be 26.40% of equity; the limit is 25%."}
    order = Order.objects.get()
    assert (order.limit_price, order.status, order.filled_quantity) == (D("1900"), "accepted", 0)
    assert not Trade.objects.exists()
    assert assert_cash_is_the_ledger(portfolio) == START_CASH


def test_a_modified_order_counts_what_it_has_filled_once(auth_client, portfolio):
    """2 of a 600 limit buy at 1900 fill as the market dips to it; raised to 657 in all, the
    position would be 657 × 1900 = 24.96% of equity, inside the 25% limit (counting the 2 filled
    twice, 25.04%)."""
    order_id = post_order(auth_client, portfolio, order_type="limit", limit_price="1900.00",
                          quantity="600").json()["id"]
    publish_eth(bids=[("1899.00", "10")], asks=[("1900.00", "2"), ("1905.00", "10")])
    order_fire(order_id=order_id, now=NOW)
    publish_eth()
    assert Order.objects.get().filled_quantity == D("2")

    raised = auth_client.put(f"/api/orders/{order_id}", {"quantity": "657"}, format="json")
    over = auth_client.put(f"/api/orders/{order_id}", {"quantity": "660"}, format="json")

    assert (raised.status_code, raised.json()["quantity"], raised.json()["status"]) == (
        200, "657.0000000000", "partially_filled")
    assert error_of(over, 400) == {"code": "risk_max_position_size_pct", "field": "quantity",
                                   "message": "The position would be 25.08% of equity; the limit is 25%."}


def test_lowering_a_quantity_is_not_refused_by_limits_the_order_already_breaks(auth_client, portfolio):
    order_id = post_order(auth_client, portfolio, order_type="limit", limit_price="1900.00",
                          quantity="600").json()["id"]
    portfolio.risk_settings = {**portfolio.risk_settings, "max_position_size_pct": 10}
    portfolio.save(update_fields=["risk_settings"])

    lowered = auth_client.put(f"/api/orders/{order_id}", {"quantity": "500"}, format="json")
    raised = auth_client.put(f"/api/orders/{order_id}", {"quantity": "550"}, format="json")

    assert (lowered.status_code, lowered.json()["quantity"]) == (200, "500.0000000000")
    assert error_of(raised, 400)["code"] == "risk_max_position_size_pct"


def test_cancel_answers_the_cancelled_order_and_refuses_a_second_cancel(auth_client, portfolio):
    order_id = post_order(auth_client, portfolio, order_type="limit", limit_price="1900.00").json()["id"]

    response = auth_client.delete(f"/api/orders/{order_id}")
    again = auth_client.delete(f"/api/orders/{order_id}")

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["cancelled_at"]) == ("cancelled", "2026-11-24T15:00:02Z")
    assert error_of(again, 409)["code"] == "order_not_open"
    modify_closed = auth_client.put(f"/api/orders/{order_id}", {"limit_price": "1950.00"}, format="json")
    assert error_of(modify_closed, 409)["code"] == "order_not_open"


def test_another_users_order_is_404_for_get_put_and_delete(auth_client, other_client, portfolio):
    order_id = post_order(auth_client, portfolio, order_type="limit", limit_price="1900.00").json()["id"]

    for method, body in [("get", None), ("put", {"limit_price": "1950.00"}), ("delete", None)]:
        response = getattr(other_client, method)(f"/api/orders/{order_id}", body, format="json")
        assert error_of(response, 404)["code"] == "not_found", method
    assert other_client.get("/api/orders").json()["results"] == []
    order = Order.objects.get()
    assert (order.status, order.limit_price) == ("accepted", D("1900.00"))


def test_order_list_filters_and_costs_the_same_queries_for_more_orders(auth_client, portfolio):
    def list_queries():
        with CaptureQueriesContext(connection) as queries:
            response = auth_client.get("/api/orders", {"portfolio": str(portfolio.pk)})
        assert response.status_code == 200
        return len(queries), response.json()["results"]

    post_order(auth_client, portfolio)
    post_order(auth_client, portfolio, order_type="limit", limit_price="1900.00")
    few, results = list_queries()
    for _ in range(4):
        post_order(auth_client, portfolio, order_type="limit", limit_price="1900.00")
    many, results = list_queries()

    assert few == many and len(results) == 6
    open_orders = auth_client.get("/api/orders", {"is_open": "true"}).json()["results"]
    assert {order["status"] for order in open_orders} == {"accepted"} and len(open_orders) == 5
    assert len(auth_client.get("/api/orders", {"status": "filled"}).json()["results"]) == 1


def test_position_list_costs_the_same_queries_for_more_positions(auth_client, portfolio):
    publish("SOL-USD", bids=[("99.90", "50")], asks=[("100.00", "50")])

    def list_queries():
        with CaptureQueriesContext(connection) as queries:
            response = auth_client.get("/api/positions")
        assert response.status_code == 200
        return len(queries), len(response.json()["results"])

    post_order(auth_client, portfolio)
    one = list_queries()
    post_order(auth_client, portfolio, symbol="SOL-USD")
    post_order(auth_client, portfolio, quantity="2")  # a second ETH lot
    two = list_queries()

    assert (one[1], two[1]) == (1, 2) and one[0] == two[0]


# --- trades ------------------------------------------------------------------------------------


def test_trades_explain_the_walk_vwap_slippage_latency_and_profile(auth_client, user, market, clock):
    import hashlib

    portfolio = make_portfolio(user, profile="realistic", latency=True)
    placed = post_order(auth_client, portfolio, quantity="4").json()
    assert placed["status"] == "accepted" and 50 <= placed["latency_ms"] <= 200
    digest = hashlib.sha256(f"realistic|1|1|{placed['id']}".encode()).digest()
    assert placed["latency_ms"] == 50 + int.from_bytes(digest[:8], "big") % 151
    clock["now"] = NOW + timedelta(milliseconds=placed["latency_ms"])
    OrderEngine().tick(now=clock["now"])

    response = auth_client.get("/api/trades", {"order": placed["id"]})

    assert response.status_code == 200
    trades = sorted(response.json()["results"], key=lambda trade: trade["price"])
    # slippage 0.0041 = 0.0001 + 4 / 100 × 0.1; see test_order_types for the walk
    assert [(D(trade["quantity"]), D(trade["price"]), D(trade["fee"]), D(trade["slippage"])) for trade in trades] == [
        (D("2"), D("2008.20"), D("4.0164"), D("16.40")), (D("2"), D("2009.21"), D("4.01842"), D("16.42"))]
    explanation = trades[0]["explanation"]
    assert explanation["profile"] == {"name": "realistic", "version": 1, "seed": 1}
    assert explanation["latency_ms"] == placed["latency_ms"]
    assert [(level["level_index"], D(level["book_price"]), D(level["fill_price"]), D(level["quantity"]))
            for level in explanation["levels"]] == [(0, D("2000"), D("2008.20"), D("2")),
                                                    (1, D("2001"), D("2009.21"), D("2"))]
    assert [trade["explanation"]["level"]["level_index"] for trade in trades] == [0, 1]
    # Each level's slippage cost is shown as its trade records it: money, 8 places.
    assert [level["slippage_cost"] for level in explanation["levels"]] == [trade["slippage"] for trade in trades] \
        == ["16.40000000", "16.42000000"]
    assert D(explanation["slippage_fraction_applied"]) == D("0.0041")
    assert D(explanation["available_liquidity"]) == D("100")
    assert D(explanation["vwap"]) == D("2008.705")
    assert D(explanation["mid_price"]) == D("1999.5")
    # 46.0365 bps over the mid: shown to 4 places, half-even
    expected_bps = ((D("2008.705") - D("1999.5")) / D("1999.5") * 10000).quantize(D("0.0001"))
    assert explanation["slippage_bps_vs_mid"] == "46.0365"
    assert D(explanation["slippage_bps_vs_mid"]) == expected_bps
    assert D(explanation["slippage_bps_vs_arrival"]) == expected_bps
    assert {trade["executed_at"] for trade in trades} == {
        (NOW + timedelta(milliseconds=placed["latency_ms"])).isoformat().replace("+00:00", "Z")}
    assert assert_cash_is_the_ledger(portfolio) == START_CASH - D("8034.82") - D("8.03482")


def test_a_resting_fill_explains_itself_with_the_same_profile_shape(auth_client, portfolio, clock):
    order_id = post_order(auth_client, portfolio, order_type="limit", limit_price="1990.00").json()["id"]
    publish_eth(bids=[("1988.00", "5")], asks=[("1989.00", "5")])
    clock["now"] = NOW + timedelta(seconds=1)
    OrderEngine().tick(now=clock["now"])

    trade = auth_client.get("/api/trades", {"order": order_id}).json()["results"][0]

    assert (trade["price"], trade["fee"], trade["liquidity"]) == ("1990.0000000000", "1.59200000", "maker")
    assert trade["explanation"]["profile"] == {"name": "frictionless", "version": 1, "seed": 0}
    assert D(trade["explanation"]["resting_fill"]["fill_quantity"]) == D("1")


def test_another_users_trades_are_not_listed(auth_client, other_client, portfolio):
    trade_id = str(Trade.objects.get(order_id=post_order(auth_client, portfolio).json()["id"]).pk)

    assert other_client.get("/api/trades").json()["results"] == []
    assert error_of(other_client.get(f"/api/trades/{trade_id}"), 404)["code"] == "not_found"
    assert auth_client.get(f"/api/trades/{trade_id}").json()["id"] == trade_id


# --- positions ---------------------------------------------------------------------------------


@pytest.fixture
def long_two(auth_client, portfolio):
    """Long 2 ETH bought at 2000.00 (frictionless, fee 4.00)."""
    post_order(auth_client, portfolio, quantity="2")
    return Position.objects.get(portfolio=portfolio, status="open")


def test_positions_list_and_detail_with_lots(auth_client, other_client, portfolio, long_two):
    post_order(auth_client, portfolio, quantity="1")  # a second lot, dollar-cost averaging

    listed = auth_client.get("/api/positions").json()["results"]
    detail = auth_client.get(f"/api/positions/{long_two.pk}")

    assert [position["id"] for position in listed] == [str(long_two.pk)]
    assert detail.status_code == 200
    body = detail.json()
    # 3 ETH marked at the 1999.00 bid against a 6000.00 cost
    assert (body["side"], body["quantity"], body["average_entry_price"], body["current_price"],
            body["market_value"], body["unrealized_pnl"], body["fees_paid"]) == (
        "long", "3.0000000000", "2000.0000000000", "1999.00", "5997.00000000", "-3.00000000", "6.00000000")
    assert [(lot["quantity"], lot["price"], lot["open_fee"]) for lot in body["lots"]] == [
        ("2.0000000000", "2000.0000000000", "4.00000000"), ("1.0000000000", "2000.0000000000", "2.00000000")]
    assert other_client.get("/api/positions").json()["results"] == []
    assert error_of(other_client.get(f"/api/positions/{long_two.pk}"), 404)["code"] == "not_found"
    auth_client.delete(f"/api/positions/{long_two.pk}")
    assert auth_client.get("/api/positions").json()["results"] == []
    closed = auth_client.get("/api/positions", {"status": "closed", "symbol": "ETH-USD"}).json()["results"]
    assert [(position["id"], position["status"], position["realized_pnl"]) for position in closed] == [
        (str(long_two.pk), "closed", "-3.00000000")]  # (1999 − 2000) × 3


def test_put_stop_loss_and_take_profit_become_linked_exit_orders(auth_client, portfolio, long_two):
    response = auth_client.put(f"/api/positions/{long_two.pk}", {"stop_loss": "1900.00", "take_profit": "2100.00"},
                               format="json")

    assert response.status_code == 200
    assert (response.json()["stop_loss"], response.json()["take_profit"]) == ("1900.0000000000", "2100.0000000000")
    exits = {order["role"]: order for order in auth_client.get("/api/orders", {"is_open": "true"}).json()["results"]}
    assert set(exits) == {"stop_loss", "take_profit"}
    assert (exits["stop_loss"]["order_type"], exits["stop_loss"]["stop_price"], exits["stop_loss"]["quantity"]) == (
        "stop", "1900.0000000000", "2.0000000000")
    assert (exits["take_profit"]["order_type"], exits["take_profit"]["limit_price"]) == ("limit", "2100.0000000000")
    assert exits["stop_loss"]["linked_order"] == exits["take_profit"]["id"]
    assert exits["stop_loss"]["position"] == exits["take_profit"]["position"] == str(long_two.pk)
    assert exits["stop_loss"]["reduce_only"] and exits["take_profit"]["reduce_only"]

    # moving only the stop replaces both exits and keeps the take-profit price
    moved = auth_client.put(f"/api/positions/{long_two.pk}", {"stop_loss": "1950.00"}, format="json")
    assert (moved.json()["stop_loss"], moved.json()["take_profit"]) == ("1950.0000000000", "2100.0000000000")
    assert Order.objects.filter(position=long_two, status="cancelled").count() == 2
    assert Order.objects.filter(position=long_two, status__in=["accepted", "pending_trigger"]).count() == 2


def test_put_a_stop_loss_above_the_bid_is_refused(auth_client, portfolio, long_two):
    response = auth_client.put(f"/api/positions/{long_two.pk}", {"stop_loss": "1999.00"}, format="json")

    assert error_of(response, 400) == {"code": "invalid_stop_loss", "field": "stop_loss",
                                       "message": "The stop-loss must be on the losing side of the current price."}
    assert not Order.objects.filter(position=long_two).exists()


def test_delete_closes_the_position_at_market_and_cancels_its_exits(auth_client, portfolio, long_two):
    auth_client.put(f"/api/positions/{long_two.pk}", {"stop_loss": "1900.00", "take_profit": "2100.00"},
                    format="json")

    response = auth_client.delete(f"/api/positions/{long_two.pk}")

    assert response.status_code == 202
    body = response.json()
    assert (body["side"], body["quantity"], body["status"], body["average_fill_price"], body["reduce_only"]) == (
        "sell", "2.0000000000", "filled", "1999.0000000000", True)
    long_two.refresh_from_db()
    assert (long_two.status, long_two.realized_pnl) == ("closed", D("-2"))  # (1999 − 2000) × 2
    assert set(Order.objects.filter(position=long_two).values_list("status", flat=True)) == {"cancelled"}
    assert error_of(auth_client.delete(f"/api/positions/{long_two.pk}"), 409)["code"] == "position_closed"
    assert assert_cash_is_the_ledger(portfolio) == START_CASH - D("4000") - D("4") + D("3998") - D("3.998")


def test_close_partial_sells_part_of_the_position(auth_client, portfolio, long_two):
    response = auth_client.post(f"/api/positions/{long_two.pk}/close-partial", {"quantity": "0.5"}, format="json")
    too_much = auth_client.post(f"/api/positions/{long_two.pk}/close-partial", {"quantity": "1.6"}, format="json")

    assert response.status_code == 202
    assert (response.json()["quantity"], response.json()["status"]) == ("0.5000000000", "filled")
    assert error_of(too_much, 400) == {"code": "exceeds_position", "message": "The position holds 1.5.",
                                       "field": "quantity"}
    long_two.refresh_from_db()
    assert (long_two.status, long_two.quantity, long_two.realized_pnl) == ("open", D("1.5"), D("-0.5"))


def test_position_size_is_the_quantity_that_risks_the_given_share_of_equity(auth_client, portfolio):
    response = auth_client.post("/api/positions/size", {
        "portfolio": str(portfolio.pk), "symbol": "ETH-USD", "entry_price": "2000.00", "stop_price": "1937.00",
        "risk_pct": "1"}, format="json")

    # 1 % of 5,000,000 = 50,000 at risk, 63.00 per ETH: 793.650793… rounded down to the 0.0001 lot
    assert response.status_code == 200
    body = response.json()
    assert D(body["quantity"]) == D("793.6507")
    assert D(body["risk_amount"]) == D("49999.9941")  # 793.6507 × 63
    assert D(body["risk_per_unit"]) == D("63")
    assert D(body["notional"]) == D("1587301.4")  # 793.6507 × 2000
    assert (D(body["equity"]), D(body["risk_pct"])) == (D("5000000"), D("1"))

    default_risk = auth_client.post("/api/positions/size", {
        "portfolio": str(portfolio.pk), "symbol": "ETH-USD", "entry_price": "2000.00", "stop_price": "1937.00"},
        format="json")
    assert D(default_risk.json()["quantity"]) == D("1587.3015")  # the default 2 %: 100,000 / 63


def test_position_size_for_someone_elses_portfolio_is_404(other_client, portfolio):
    response = other_client.post("/api/positions/size", {
        "portfolio": str(portfolio.pk), "symbol": "ETH-USD", "entry_price": "2000.00", "stop_price": "1937.00"},
        format="json")

    assert error_of(response, 404)["code"] == "not_found"


def test_another_users_position_cannot_be_changed_or_closed(other_client, portfolio, long_two):
    put = other_client.put(f"/api/positions/{long_two.pk}", {"stop_loss": "1900.00"}, format="json")
    delete = other_client.delete(f"/api/positions/{long_two.pk}")
    partial = other_client.post(f"/api/positions/{long_two.pk}/close-partial", {"quantity": "1"}, format="json")

    assert [error_of(response, 404)["code"] for response in (put, delete, partial)] == ["not_found"] * 3
    long_two.refresh_from_db()
    assert (long_two.status, long_two.quantity, long_two.stop_loss) == ("open", D("2"), None)
