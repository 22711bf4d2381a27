from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portfolios.models import LedgerEntry, Portfolio

pytestmark = pytest.mark.django_db


def create(client, **body):
    return client.post("/api/portfolio", {"name": "Main", **body}, format="json")


def test_create_answers_the_portfolio_with_five_million(auth_client, instruments):
    response = create(auth_client, description="first", cost_basis_method="average", strategy_tags=["momentum"])

    assert response.status_code == 201
    body = response.json()
    assert body["starting_balance"] == "5000000.00000000"
    assert body["current_balance"] == "5000000.00000000"
    assert body["equity"] == "5000000.00000000"
    assert body["margin_available"] == "5000000.00000000"
    assert body["return_pct"] == "0.0000"
    assert body["cost_basis_method"] == "average"
    assert body["strategy_tags"] == ["momentum"]
    assert body["visibility"] == "private"
    assert body["is_competition"] is False and body["competition"] is None


def test_list_shows_only_own_active_portfolios(auth_client, other_client, instruments):
    mine = create(auth_client).json()["id"]
    archived = create(auth_client, name="Old").json()["id"]
    create(other_client, name="Theirs")
    auth_client.delete(f"/api/portfolio/{archived}")

    active = auth_client.get("/api/portfolio").json()["results"]
    everything = auth_client.get("/api/portfolio?archived=true").json()["results"]

    assert [item["id"] for item in active] == [mine]
    assert {item["id"] for item in everything} == {mine, archived}


def test_another_users_portfolio_is_404_everywhere(auth_client, other_client, instruments):
    portfolio_id = create(auth_client).json()["id"]

    for method, path, body in [
        ("get", f"/api/portfolio/{portfolio_id}", None),
        ("put", f"/api/portfolio/{portfolio_id}", {"name": "mine now"}),
        ("delete", f"/api/portfolio/{portfolio_id}", None),
        ("post", f"/api/portfolio/{portfolio_id}/reset", None),
        ("post", f"/api/portfolio/{portfolio_id}/topup", {"amount": "1"}),
        ("post", f"/api/portfolio/{portfolio_id}/clone", {}),
        ("get", f"/api/portfolio/{portfolio_id}/ledger", None),
    ]:
        response = getattr(other_client, method)(path, body, format="json")
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["code"] == "not_found"

    portfolio = Portfolio.objects.get(pk=portfolio_id)
    assert portfolio.name == "Main" and not portfolio.is_archived and portfolio.cash == Decimal("5000000")
    assert Portfolio.objects.count() == 1


def test_malformed_and_unknown_ids_are_404(auth_client):
    assert auth_client.get("/api/portfolio/not-a-uuid").status_code == 404
    assert auth_client.get("/api/portfolio/6c03011e-2db1-4438-9593-1622db0ac427").status_code == 404


def test_cash_and_balances_cannot_be_mass_assigned(auth_client, instruments):
    portfolio_id = create(auth_client).json()["id"]

    for field, value in [("current_balance", "1e9"), ("cash", "1"), ("realized_pnl", "5"), ("starting_balance", "9")]:
        response = auth_client.put(f"/api/portfolio/{portfolio_id}", {field: value}, format="json")
        assert response.status_code == 400
        assert response.json()["error"] == {"code": "read_only_field", "message": "This field is read-only.", "field": field}

    on_create = create(auth_client, current_balance="99999999")
    assert on_create.status_code == 400 and on_create.json()["error"]["field"] == "current_balance"
    portfolio = Portfolio.objects.get(pk=portfolio_id)
    assert portfolio.cash == Decimal("5000000") and portfolio.starting_balance == Decimal("5000000")


def test_update_changes_settings_and_merges_risk(auth_client, instruments):
    portfolio_id = create(auth_client).json()["id"]

    response = auth_client.put(f"/api/portfolio/{portfolio_id}", {
        "name": "Swing", "visibility": "public",
        "risk_settings": {"max_open_positions": 5, "modes": {"max_open_positions": "warn"}},
        "default_leverage": {"stock": "2.5"},
    }, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Swing" and body["visibility"] == "public"
    assert body["risk_settings"]["max_open_positions"] == 5
    assert body["risk_settings"]["modes"]["max_open_positions"] == "warn"
    assert body["risk_settings"]["max_position_size_pct"] == "25"
    assert body["default_leverage"]["stock"] == "2.5"
    assert body["default_leverage"]["crypto_spot"] == "1"


@pytest.mark.parametrize("risk, field", [
    ({"max_position_size_pct": "0.5"}, "risk_settings.max_position_size_pct"),
    ({"max_position_size_pct": "101"}, "risk_settings.max_position_size_pct"),
    ({"daily_loss_limit_pct": "51"}, "risk_settings.daily_loss_limit_pct"),
    ({"max_open_positions": 0}, "risk_settings.max_open_positions"),
    ({"max_open_positions": 101}, "risk_settings.max_open_positions"),
    ({"risk_per_trade_pct": "0.05"}, "risk_settings.risk_per_trade_pct"),
    ({"drawdown_stop_pct": "4"}, "risk_settings.drawdown_stop_pct"),
    ({"correlation_warning_threshold": "0.96"}, "risk_settings.correlation_warning_threshold"),
    ({"max_open_positions": "many"}, "risk_settings.max_open_positions"),
    ({"modes": {"max_open_positions": "ignore"}}, "risk_settings.modes.max_open_positions"),
    ({"max_leverage": "3"}, "risk_settings.max_leverage"),
])
def test_out_of_range_risk_settings_are_rejected_and_change_nothing(auth_client, instruments, risk, field):
    portfolio_id = create(auth_client).json()["id"]
    before = Portfolio.objects.get(pk=portfolio_id).risk_settings

    response = auth_client.put(f"/api/portfolio/{portfolio_id}", {"risk_settings": risk}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    assert Portfolio.objects.get(pk=portfolio_id).risk_settings == before


@pytest.mark.parametrize("leverage, field", [
    ({"stock": "5"}, "default_leverage.stock"),
    ({"crypto_spot": "11"}, "default_leverage.crypto_spot"),
    ({"perpetual": "101"}, "default_leverage.perpetual"),
    ({"forex": "0.5"}, "default_leverage.forex"),
    ({"option": "2"}, "default_leverage.option"),
])
def test_leverage_above_the_class_maximum_is_rejected(auth_client, instruments, leverage, field):
    response = create(auth_client, default_leverage=leverage)

    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    assert Portfolio.objects.count() == 0


@pytest.mark.parametrize("body, field, code", [
    ({"name": ""}, "name", "blank"),
    ({"name": 12345678901234567890 * 10**90}, "name", "max_length"),
    ({"base_currency": "DOGE"}, "base_currency", "invalid_choice"),
    ({"cost_basis_method": "specific"}, "cost_basis_method", "invalid_choice"),
    ({"starting_balance": "-5"}, "starting_balance", "min_value"),
    ({"starting_balance": "abc"}, "starting_balance", "invalid"),
    ({"strategy_tags": "momentum"}, "strategy_tags", "not_a_list"),
    ({"risk_settings": "strict"}, "risk_settings", "invalid"),
])
def test_wrong_types_and_values_give_the_error_shape(auth_client, instruments, body, field, code):
    response = auth_client.post("/api/portfolio", {"name": "ok", **body}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    assert response.json()["error"]["code"] == code
    assert Portfolio.objects.count() == 0


def test_bad_json_is_a_400_parse_error(auth_client):
    response = auth_client.generic("POST", "/api/portfolio", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    assert Portfolio.objects.count() == 0


def test_topup_reset_and_ledger(auth_client, instruments):
    portfolio_id = create(auth_client).json()["id"]

    topped = auth_client.post(f"/api/portfolio/{portfolio_id}/topup", {"amount": "1000000"}, format="json")
    assert topped.status_code == 200
    assert topped.json()["current_balance"] == "6000000.00000000"
    assert topped.json()["total_topups"] == "1000000.00000000"
    assert topped.json()["return_pct"] == "0.0000"  # a deposit is not a return

    reset = auth_client.post(f"/api/portfolio/{portfolio_id}/reset")
    assert reset.status_code == 200 and reset.json()["current_balance"] == "5000000.00000000"

    ledger = auth_client.get(f"/api/portfolio/{portfolio_id}/ledger").json()["results"]
    assert [(entry["kind"], entry["amount"], entry["balance_after"]) for entry in ledger] == [
        ("reset", "-1000000.00000000", "5000000.00000000"),
        ("topup", "1000000.00000000", "6000000.00000000"),
        ("deposit", "5000000.00000000", "5000000.00000000"),
    ]
    only_topups = auth_client.get(f"/api/portfolio/{portfolio_id}/ledger?kind=topup").json()["results"]
    assert [entry["kind"] for entry in only_topups] == ["topup"]


def test_topup_reads_the_positions_once_for_snapshot_push_and_response(auth_client, instruments):
    portfolio_id = create(auth_client).json()["id"]

    with CaptureQueriesContext(connection) as queries:
        topped = auth_client.post(f"/api/portfolio/{portfolio_id}/topup", {"amount": "1000"}, format="json")

    position_reads = [query["sql"] for query in queries.captured_queries
                      if query["sql"].startswith("SELECT") and 'FROM "portfolios_position"' in query["sql"]]
    assert topped.status_code == 200 and topped.json()["current_balance"] == "5001000.00000000"
    assert len(position_reads) == 1


@pytest.mark.parametrize("amount, code", [("0", "min_value"), ("-1", "min_value"), ("1e13", "max_value"),
                                          ("0.000000001", "max_decimal_places"), (None, "null")])
def test_invalid_topups_change_nothing(auth_client, instruments, amount, code):
    portfolio_id = create(auth_client).json()["id"]

    response = auth_client.post(f"/api/portfolio/{portfolio_id}/topup", {"amount": amount}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code and response.json()["error"]["field"] == "amount"
    assert LedgerEntry.objects.filter(portfolio_id=portfolio_id).count() == 1


def test_archive_is_a_soft_delete_and_blocks_changes(auth_client, instruments):
    portfolio_id = create(auth_client).json()["id"]

    assert auth_client.delete(f"/api/portfolio/{portfolio_id}").status_code == 204
    detail = auth_client.get(f"/api/portfolio/{portfolio_id}")
    topup = auth_client.post(f"/api/portfolio/{portfolio_id}/topup", {"amount": "1"}, format="json")

    assert detail.status_code == 200 and detail.json()["is_archived"] is True
    assert topup.status_code == 409 and topup.json()["error"]["code"] == "portfolio_archived"


def test_clone_answers_a_new_portfolio(auth_client, instruments):
    portfolio_id = create(auth_client, cost_basis_method="lifo").json()["id"]

    response = auth_client.post(f"/api/portfolio/{portfolio_id}/clone", {"name": "Copy"}, format="json")

    assert response.status_code == 201
    assert response.json()["name"] == "Copy" and response.json()["cost_basis_method"] == "lifo"
    assert response.json()["id"] != portfolio_id


def test_list_is_cursor_paginated_without_extra_queries(auth_client, instruments, django_assert_max_num_queries):
    for index in range(5):
        create(auth_client, name=f"P{index}")

    first = auth_client.get("/api/portfolio?page_size=2").json()
    second = auth_client.get(first["next"]).json()
    with django_assert_max_num_queries(3):  # auth token, page, nothing per row
        auth_client.get("/api/portfolio?page_size=50")

    assert len(first["results"]) == 2 and len(second["results"]) == 2
    assert not {item["id"] for item in first["results"]} & {item["id"] for item in second["results"]}


def test_every_endpoint_needs_authentication(api_client, portfolio):
    for path in ["/api/portfolio", f"/api/portfolio/{portfolio.pk}", f"/api/portfolio/{portfolio.pk}/ledger",
                 "/api/auth/me", "/api/market/instruments", "/api/market/quotes/BTC-USD"]:
        response = api_client.get(path)
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "not_authenticated"


def test_leverage_and_risk_values_are_plain_decimal_strings(auth_client, instruments):
    response = create(auth_client, default_leverage={"perpetual": "20", "stock": "2.50"},
                      risk_settings={"max_position_size_pct": "20.0000", "correlation_warning_threshold": "0.80"})

    assert response.status_code == 201
    assert response.json()["default_leverage"]["perpetual"] == "20"
    assert response.json()["default_leverage"]["stock"] == "2.5"
    assert response.json()["risk_settings"]["max_position_size_pct"] == "20"
    assert response.json()["risk_settings"]["correlation_warning_threshold"] == "0.8"


def test_margin_available_is_what_an_order_can_still_spend(auth_client, user):
    from orders.services import OrderRequest, order_place
    from orders.tests.books import make_portfolio, publish_eth
    from haunt.market.services import instruments_sync
    from haunt.market.universe import spec_by_symbol

    instruments_sync((spec_by_symbol("ETH-USD"),))
    publish_eth()  # bids 1999 (5), asks 2000 (2), 2001 (3), 2002 (95)
    portfolio = make_portfolio(user)  # frictionless: fills at the touch, crypto taker fee 0.10 %
    order_place(user=user, portfolio_id=portfolio.pk, request=OrderRequest(
        symbol="ETH-USD", side="buy", order_type="market", quantity=Decimal("2")))

    body = auth_client.get(f"/api/portfolio/{portfolio.pk}").json()
    # The long's 4,000 (and its 4.00 fee) are spent; its value still counts in equity.
    assert Decimal(body["margin_available"]) == Decimal("5000000") - Decimal("4000") - Decimal("4")
    assert Decimal(body["equity"]) > Decimal(body["margin_available"])
