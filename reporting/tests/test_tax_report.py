"""GET /api/history/tax over real fills: the lots each cost basis method closes, the one-year
boundary, a short sale, a wash sale, the CSV and TXF files, ownership.

ETH is bought and sold at the touch of books published for each step (frictionless profile):
  2025-03-15 15:00 buy 2 @ 2000 (lot A)      2025-06-01 buy 1 @ 2500 (lot B)
  2026-03-15 16:00 sell 1 @ 2400              2026-03-16 16:00 sell 1 @ 2400
  2026-03-20 buy 1 @ 2300 (lot C: within 30 days of both sales)
Exactly one year after A is 2026-03-15 (short-term); 2026-03-16 is long-term.
"""
import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from orders.models import Trade
from orders.services import OrderRequest, order_place
from orders.tests.books import (
    books_balance,  # noqa: F401 (autouse fixture)
    instruments,  # noqa: F401 (fixture)
    make_portfolio,
    publish,
)
from reporting.exports.formats import BYTE_ORDER_MARK

pytestmark = pytest.mark.django_db
D = Decimal


def trade_at(user, portfolio, moment, side, quantity, price):
    # The side this trade takes is at `price`; the other side is a dollar away.
    bid, ask = (D(price) - 1, D(price)) if side == "buy" else (D(price), D(price) + 1)
    publish("ETH-USD", bids=[(f"{bid}", "100")], asks=[(f"{ask}", "100")])
    order_place(user=user, portfolio_id=portfolio.pk, now=moment, request=OrderRequest(
        symbol="ETH-USD", side=side, order_type="market", quantity=D(quantity)))
    return Trade.objects.get(portfolio=portfolio, executed_at=moment)


STEPS = [(datetime(2025, 3, 15, 15, tzinfo=UTC), "buy", "2", "2000"),
         (datetime(2025, 6, 1, 15, tzinfo=UTC), "buy", "1", "2500"),
         (datetime(2026, 3, 15, 16, tzinfo=UTC), "sell", "1", "2400"),
         (datetime(2026, 3, 16, 16, tzinfo=UTC), "sell", "1", "2400"),
         (datetime(2026, 3, 20, 15, tzinfo=UTC), "buy", "1", "2300")]


@pytest.fixture
def history(user, instruments):
    def run(method):
        portfolio = make_portfolio(user)
        portfolio.cost_basis_method = method
        portfolio.save(update_fields=["cost_basis_method"])
        trades = [trade_at(user, portfolio, *step) for step in STEPS]
        return portfolio, trades
    return run


def tax_rows(client, portfolio, **params):
    response = client.get("/api/history/tax", {"portfolio": str(portfolio.pk), **params})
    assert response.status_code == 200, response.content
    return response.json()


def money(value: Decimal) -> str:
    return f"{value.quantize(D('1e-8')):f}"


def test_fifo_sells_lot_a_short_term_at_one_year_and_long_term_a_day_later(auth_client, history):
    portfolio, (buy_a, _, sell_1, sell_2, _) = history("fifo")
    report = tax_rows(auth_client, portfolio, year=2026)
    first, second = report["rows"]
    a_fee_per_unit = buy_a.fee / 2
    # Proceeds 2400 − sell fee, basis 2000 + half of A's buying fee; no loss, so no wash sale.
    assert (first["date_acquired"], first["date_sold"], first["term"], first["box"]) == (
        "2025-03-15", "2026-03-15", "short", "A")
    assert (first["proceeds"], first["cost_basis"]) == (money(2400 - sell_1.fee), money(2000 + a_fee_per_unit))
    assert first["gain_or_loss"] == money(400 - sell_1.fee - a_fee_per_unit)
    assert (second["date_acquired"], second["date_sold"], second["term"], second["box"]) == (
        "2025-03-15", "2026-03-16", "long", "D")
    assert second["proceeds"] == money(2400 - sell_2.fee)
    assert [row["adjustment_code"] for row in report["rows"]] == ["", ""]
    assert report["cost_basis_method"] == "fifo" and report["years"] == [2026]
    assert report["totals"]["A"]["count"] == 1 and report["totals"]["D"]["count"] == 1


@pytest.mark.parametrize("method", ["lifo", "hifo"])
def test_lifo_and_hifo_sell_lot_b_at_a_loss_that_lot_c_washes(auth_client, history, method):
    portfolio, (buy_a, buy_b, sell_1, sell_2, _) = history(method)
    first, second = tax_rows(auth_client, portfolio, year=2026)["rows"]
    # B (2500, the newest and the dearest) goes first: loss = 2500 + B fee − (2400 − sell fee).
    loss = 2500 + buy_b.fee - (2400 - sell_1.fee)
    assert (first["date_acquired"], first["term"], first["adjustment_code"], first["is_wash_sale"]) == (
        "2025-06-01", "short", "W", True)
    assert first["adjustment_amount"] == money(loss)
    assert first["gain_or_loss"] == money(D(0))
    # Then one unit of A, held a year and a day: long-term gain.
    assert (second["date_acquired"], second["term"], second["box"]) == ("2025-03-15", "long", "D")
    assert second["gain_or_loss"] == money(2400 - sell_2.fee - 2000 - buy_a.fee / 2)


def test_average_cost_sells_at_the_average_with_the_oldest_dates(auth_client, history):
    portfolio, (buy_a, buy_b, sell_1, _, _) = history("average")
    first = tax_rows(auth_client, portfolio, year=2026)["rows"][0]
    # Average of 2 @ 2000 and 1 @ 2500 = 6500 / 3; the oldest lot's date, so one year exactly: short-term.
    assert (first["date_acquired"], first["term"]) == ("2025-03-15", "short")
    # The basis is that price (stored to 10 places) plus a third of both buying fees (the average
    # fee per unit, stored to 8).
    price = (D(6500) / 3).quantize(D("1e-10"))
    fee_share = ((buy_a.fee + buy_b.fee) / 3).quantize(D("1e-8"))
    assert D(first["cost_basis"]) == (price + fee_share).quantize(D("1e-8"))


def test_year_filter_csv_and_txf(auth_client, history):
    portfolio, (_, _, sell_1, sell_2, _) = history("fifo")
    assert tax_rows(auth_client, portfolio, year=2025)["rows"] == []
    response = auth_client.get("/api/history/tax", {"portfolio": str(portfolio.pk), "year": 2026, "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="haunt-tax-frictionless-false-2026-')
    text = response.content.decode("utf-8")
    assert text.startswith(BYTE_ORDER_MARK)
    rows = list(csv.DictReader(io.StringIO(text.removeprefix(BYTE_ORDER_MARK), newline="")))
    assert [(row["box"], row["date_acquired"], row["date_sold"]) for row in rows] == [
        ("A", "2025-03-15", "2026-03-15"), ("D", "2025-03-15", "2026-03-16")]
    assert rows[0]["proceeds"] == f"{(2400 - sell_1.fee).quantize(D('0.01')):f}"
    txf = auth_client.get("/api/history/tax", {"portfolio": str(portfolio.pk), "year": 2026, "format": "txf"})
    lines = txf.content.decode("utf-8").split("\r\n")
    assert lines[0] == "V042" and lines[1] == "AHaunt Paper Trading"
    assert lines[4:11] == ["TD", "N321", "C1", "L1", "P1 ETH-USD", "D03/15/2025", "D03/15/2026"]
    assert lines[15:22] == ["TD", "N323", "C1", "L1", "P1 ETH-USD", "D03/15/2025", "D03/16/2026"]
    assert lines[23] == f"${(2400 - sell_2.fee).quantize(D('0.01')):f}"


def test_a_short_sale_is_flagged_short_term_and_dated_at_the_cover(auth_client, user, instruments):
    portfolio = make_portfolio(user)
    short = trade_at(user, portfolio, datetime(2025, 5, 1, 15, tzinfo=UTC), "sell", "1", "1999")
    cover = trade_at(user, portfolio, datetime(2025, 5, 10, 15, tzinfo=UTC), "buy", "1", "1800")
    (row,) = tax_rows(auth_client, portfolio)["rows"]
    assert (row["is_short_sale"], row["term"], row["date_acquired"], row["date_sold"]) == (
        True, "short", "2025-05-10", "2025-05-10")
    assert (row["proceeds"], row["cost_basis"]) == (money(1999 - short.fee), money(1800 + cover.fee))
    assert row["description"] == "1 ETH-USD (short sale)"


def test_another_users_portfolio_is_404_and_bad_queries_400(auth_client, other_client, history):
    portfolio, _ = history("fifo")
    response = other_client.get("/api/history/tax", {"portfolio": str(portfolio.pk)})
    assert response.status_code == 404
    response = auth_client.get("/api/history/tax", {"portfolio": str(portfolio.pk), "format": "pdf"})
    assert (response.status_code, response.json()["error"]["field"]) == (400, "format")
    response = auth_client.get("/api/history/tax", {})
    assert (response.status_code, response.json()["error"]["field"]) == (400, "portfolio")
