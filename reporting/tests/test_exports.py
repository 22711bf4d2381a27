"""GET /api/history/export: CSV and JSON round-trip to exactly what the history endpoints answer,
and refusals answer the error shape."""
import csv
import io
import json
from datetime import UTC, datetime

import pytest
from django.utils import timezone
from pypdf import PdfReader

from orders.services import OrderRequest, order_place
from orders.tests.books import (
    D,
    NOW,
    books_balance,  # noqa: F401 (autouse fixture)
    instruments,  # noqa: F401 (fixture)
    make_portfolio,
    publish_eth,
)
from portfolios.models import EquitySnapshot
from portfolios.services import portfolio_archive
from reporting.exports.formats import BYTE_ORDER_MARK, csv_cell

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


@pytest.fixture
def traded(user, instruments, clock):
    """Buy 2 ETH, buy 1, sell 3 (the position closes), in a portfolio named with a non-ASCII letter."""
    publish_eth()
    portfolio = make_portfolio(user)
    portfolio.name = "Crème momentum"
    portfolio.save(update_fields=["name"])
    for side, quantity, tags in (("buy", "2", ("momentum", "naïve")), ("buy", "1", ()), ("sell", "3", ("exit",))):
        order_place(user=user, portfolio_id=portfolio.pk, request=OrderRequest(
            symbol="ETH-USD", side=side, order_type="market", quantity=D(quantity), tags=tags))
    return portfolio


def download(client, **params):
    response = client.get("/api/history/export", params)
    assert response.status_code == 200, response.content
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def api_rows(client, path, **params):
    response = client.get(path, {"page_size": 1000, **params})
    assert response.status_code == 200
    return response.json()["results"]


HISTORY_PATHS = {"orders": "/api/history/orders", "trades": "/api/history/trades",
                 "positions": "/api/history/positions"}


@pytest.mark.parametrize("kind", ["orders", "trades", "positions"])
def test_json_export_is_what_the_history_endpoint_answers(auth_client, traded, kind):
    response, body = download(auth_client, format="json", kind=kind, portfolio=str(traded.pk))
    assert response["Content-Type"] == "application/json"
    exported = json.loads(body)
    assert exported == api_rows(auth_client, HISTORY_PATHS[kind], portfolio=str(traded.pk))
    assert len(exported) == {"orders": 3, "trades": 3, "positions": 1}[kind]


@pytest.mark.parametrize("kind", ["orders", "trades", "positions"])
def test_csv_export_reparses_to_the_api_values(auth_client, traded, kind):
    response, body = download(auth_client, format="csv", kind=kind, portfolio=str(traded.pk))
    text = body.decode("utf-8")
    assert text.startswith(BYTE_ORDER_MARK)
    assert response["Content-Disposition"] == f'attachment; filename="haunt-{kind}-cr-me-momentum-20261124.csv"'
    parsed = list(csv.DictReader(io.StringIO(text.removeprefix(BYTE_ORDER_MARK), newline="")))
    expected = api_rows(auth_client, HISTORY_PATHS[kind], portfolio=str(traded.pk))
    assert [list(row) for row in parsed[:1]] == [[name for name in expected[0] if name not in
                                                  ("history", "fills", "lots", "explanation")]]
    assert parsed == [{name: csv_cell(value) for name, value in row.items() if name in parsed[0]} for row in expected]


def test_csv_cells_keep_exact_decimals_iso_dates_and_json_lists(auth_client, traded):
    _, body = download(auth_client, format="csv", kind="orders", portfolio=str(traded.pk))
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8").removeprefix(BYTE_ORDER_MARK), newline="")))
    (first_buy,) = [row for row in rows if row["tags"] == '["momentum","naïve"]']
    assert first_buy["quantity"] == "2.0000000000"
    assert first_buy["average_fill_price"] == "2000.0000000000"
    assert first_buy["created_at"] == "2026-11-24T15:00:02Z"
    assert first_buy["linked_order"] == ""


def test_csv_trades_leave_the_explanation_to_the_json_export(auth_client, traded):
    _, csv_body = download(auth_client, format="csv", kind="trades", portfolio=str(traded.pk))
    _, json_body = download(auth_client, format="json", kind="trades", portfolio=str(traded.pk))

    lines = csv_body.decode("utf-8").removeprefix(BYTE_ORDER_MARK).splitlines()
    assert "explanation" not in lines[0].split(",")
    assert max(len(line) for line in lines) < 400  # no 1,000-character JSON blob in a row
    assert all(row["explanation"] for row in json.loads(json_body))


def test_ledger_export_needs_a_portfolio_and_matches_the_ledger_endpoint(auth_client, traded):
    response = auth_client.get("/api/history/export", {"format": "csv", "kind": "ledger"})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "portfolio"
    _, body = download(auth_client, format="json", kind="ledger", portfolio=str(traded.pk))
    assert json.loads(body) == api_rows(auth_client, f"/api/portfolio/{traded.pk}/ledger")


def test_date_range_and_symbol_filters(auth_client, traded):
    _, body = download(auth_client, format="json", kind="trades", symbol="ETH-USD", start="2026-11-24T15:00:02Z",
                       end="2026-11-24T15:00:03Z")
    assert len(json.loads(body)) == 3
    _, body = download(auth_client, format="json", kind="trades", end="2026-11-24T15:00:02Z")
    assert json.loads(body) == []
    _, body = download(auth_client, format="json", kind="trades", symbol="AAPL")
    assert json.loads(body) == []


def test_archived_portfolios_are_exported(auth_client, user, traded):
    portfolio_archive(user=user, portfolio_id=traded.pk)
    _, body = download(auth_client, format="json", kind="trades", portfolio=str(traded.pk))
    assert len(json.loads(body)) == 3


def test_another_users_portfolio_is_404_and_their_rows_are_not_exported(other_client, traded):
    response = other_client.get("/api/history/export", {"format": "csv", "kind": "trades", "portfolio": str(traded.pk)})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    _, body = download(other_client, format="json", kind="trades")
    assert json.loads(body) == []


@pytest.mark.parametrize(("params", "field"), [
    ({"format": "xml", "kind": "trades"}, "format"),
    ({"format": "csv"}, "kind"),
    ({"format": "pdf"}, "portfolio"),
    ({"format": "csv", "kind": "trades", "start": "2026-02-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "end"),
    ({"format": "csv", "kind": "trades", "colour": "red"}, "colour"),
])
def test_bad_queries_answer_400_naming_the_field(auth_client, traded, params, field):
    response = auth_client.get("/api/history/export", params)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["field"] == field


def test_csv_cell_rules():
    assert csv_cell(None) == ""
    assert csv_cell(True) == "true"
    assert csv_cell(D("0.10000000")) == "0.10000000"
    assert csv_cell("-12.5") == "-12.5"
    assert csv_cell("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    assert csv_cell({"b": 1, "a": [1, 2]}) == '{"a":[1,2],"b":1}'


def test_under_asgi_the_export_streams_from_an_asynchronous_iterator(user_and_token, traded):
    """Daphne serves the platform over ASGI, where Django would read a synchronous iterator into
    a list first; the export hands it an asynchronous one instead."""
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    async def fetch():
        client = AsyncClient()
        response = await client.get("/api/history/export", {"format": "json", "kind": "trades"},
                                    headers={"Authorization": f"Token {user_and_token[1].key}"})
        return response, b"".join([chunk async for chunk in response.streaming_content])

    response, body = async_to_sync(fetch)()
    assert response.status_code == 200 and response.is_async
    assert len(json.loads(body)) == 3
