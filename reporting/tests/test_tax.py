"""Form 8949 rows, wash sales, TXF and CSV (spec §12 "Tax Reporting"): hand-worked examples, no database.

Long: proceeds = close × q − close fee, basis = open × q + open fee; short sale: proceeds = open × q
− open fee, basis = close × q + close fee; gain (h) = proceeds − basis + wash-sale adjustment.
"""
import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from portfolios import lots
from portfolios.lots import CostBasisMethod, Fill, LotOpening, PositionSide, Side, apply_fill
from reporting.tax.form8949 import BasisReporting, LotSale, Term, form8949_csv, form8949_rows, summarize, txf_document

D = Decimal
LONG, SHORT = PositionSide.LONG, PositionSide.SHORT


def utc(year, month, day, hour=15):
    return datetime(year, month, day, hour, tzinfo=UTC)


def sale(sale_id, lot_id, *, quantity, open_price, close_price, opened_at, closed_at, side=LONG, open_fee="0",
         close_fee="0", symbol="AAPL"):
    return LotSale(sale_id=sale_id, lot_id=lot_id, symbol=symbol, side=side, quantity=D(quantity),
                   open_price=D(open_price), close_price=D(close_price), opened_at=opened_at, closed_at=closed_at,
                   open_fee=D(open_fee), close_fee=D(close_fee))


def opening(lot_id, quantity, opened_at, side=LONG):
    return LotOpening(lot_id=lot_id, side=side, quantity=D(quantity), opened_at=opened_at)


@pytest.mark.parametrize(("sold_on", "term", "box"), [
    (utc(2026, 3, 15), Term.SHORT, "A"),   # exactly one year: short-term
    (utc(2026, 3, 16), Term.LONG, "D"),    # one year and a day: long-term
])
def test_one_year_held_is_short_term_and_a_day_more_is_long_term(sold_on, term, box):
    # Bought 10 @ 100 (fee 1) on 2025-03-15, sold @ 120 (fee 2): proceeds 1198, basis 1001, gain 197.
    rows = form8949_rows(sales=[sale("s1", "l1", quantity="10", open_price="100", close_price="120",
                                     opened_at=utc(2025, 3, 15, 9), closed_at=sold_on, open_fee="1", close_fee="2")],
                         openings={"AAPL": [opening("l1", "10", utc(2025, 3, 15, 9))]})
    (row,) = rows
    assert (row.term, row.box) == (term, box)
    assert (row.date_acquired, row.date_sold) == (date(2025, 3, 15), sold_on.date())
    assert (row.proceeds, row.cost_basis, row.gain_or_loss) == (D(1198), D(1001), D(197))
    assert (row.adjustment_code, row.is_wash_sale, row.is_short_sale) == ("", False, False)


def test_basis_reporting_picks_the_box():
    rows = form8949_rows(sales=[sale("s1", "l1", quantity="1", open_price="1", close_price="2",
                                     opened_at=utc(2024, 1, 2), closed_at=utc(2025, 6, 1))],
                         openings={}, reporting=BasisReporting.NO_1099B)
    assert rows[0].box == "F"


def test_short_sale_is_short_term_dated_at_the_cover_and_flagged():
    # Short 5 @ 50 (fee 1) on 2024-01-10, covered @ 40 (fee 1) on 2025-02-10, more than a year later:
    # proceeds 250 − 1 = 249, basis 200 + 1 = 201, gain 48; still short-term; both dates the cover's.
    rows = form8949_rows(sales=[sale("s1", "l1", side=SHORT, quantity="5", open_price="50", close_price="40",
                                     opened_at=utc(2024, 1, 10), closed_at=utc(2025, 2, 10), open_fee="1",
                                     close_fee="1")],
                         openings={"AAPL": [opening("l1", "5", utc(2024, 1, 10), SHORT)]})
    (row,) = rows
    assert (row.term, row.box, row.is_short_sale) == (Term.SHORT, "A", True)
    assert (row.date_acquired, row.date_sold) == (date(2025, 2, 10), date(2025, 2, 10))
    assert (row.proceeds, row.cost_basis, row.gain_or_loss) == (D(249), D(201), D(48))
    assert row.description == "5 AAPL (short sale)"


def test_wash_sale_disallows_the_loss_and_carries_it_into_the_replacement_basis():
    # Bought 10 @ 100 on 06-01, sold 10 @ 90 on 06-20: loss 100. Bought 10 @ 92 on 07-05, 15 days
    # later: a wash sale. Row 1: W, adjustment 100, h = 900 − 1000 + 100 = 0. The replacement sold
    # @ 95 on 09-01: basis 920 + 100 = 1020, proceeds 950, loss 70 (no purchase within 30 days).
    rows = form8949_rows(
        sales=[sale("s1", "l1", quantity="10", open_price="100", close_price="90",
                    opened_at=utc(2025, 6, 1), closed_at=utc(2025, 6, 20)),
               sale("s2", "l2", quantity="10", open_price="92", close_price="95",
                    opened_at=utc(2025, 7, 5), closed_at=utc(2025, 9, 1))],
        openings={"AAPL": [opening("l1", "10", utc(2025, 6, 1)), opening("l2", "10", utc(2025, 7, 5))]})
    first, second = rows
    assert (first.adjustment_code, first.adjustment_amount, first.gain_or_loss, first.is_wash_sale) == (
        "W", D(100), D(0), True)
    assert (second.adjustment_code, second.cost_basis, second.proceeds, second.gain_or_loss) == (
        "", D(1020), D(950), D(-70))


def test_partial_replacement_washes_that_share_of_the_loss_and_a_purchase_31_days_later_none():
    # Loss of 100 on 10 shares; 4 shares bought back 30 days after: 4/10 × 100 = 40 disallowed.
    washed = form8949_rows(
        sales=[sale("s1", "l1", quantity="10", open_price="100", close_price="90",
                    opened_at=utc(2025, 6, 1), closed_at=utc(2025, 6, 20))],
        openings={"AAPL": [opening("l1", "10", utc(2025, 6, 1)), opening("l2", "4", utc(2025, 7, 20))]})
    assert (washed[0].adjustment_amount, washed[0].gain_or_loss) == (D(40), D(-60))
    clean = form8949_rows(
        sales=[sale("s1", "l1", quantity="10", open_price="100", close_price="90",
                    opened_at=utc(2025, 6, 1), closed_at=utc(2025, 6, 20))],
        openings={"AAPL": [opening("l1", "10", utc(2025, 6, 1)), opening("l2", "4", utc(2025, 7, 21))]})
    assert (clean[0].adjustment_code, clean[0].gain_or_loss) == ("", D(-100))


def test_purchase_of_another_symbol_washes_nothing():
    rows = form8949_rows(
        sales=[sale("s1", "l1", quantity="10", open_price="100", close_price="90",
                    opened_at=utc(2025, 6, 1), closed_at=utc(2025, 6, 20))],
        openings={"AAPL": [opening("l1", "10", utc(2025, 6, 1))], "MSFT": [opening("m1", "10", utc(2025, 6, 21))]})
    assert rows[0].is_wash_sale is False


def _sales_from_fills(fills, method):
    """Run fills through portfolios.lots and turn the disposals into LotSales."""
    side, held, sales, openings = None, (), [], []
    for number, each in enumerate(fills):
        outcome = apply_fill(side_of_position=side, lots=held, fill=each, method=method, new_lot_id=f"f{number}")
        for index, disposal in enumerate(outcome.disposals):
            sales.append(LotSale(
                sale_id=f"f{number}.{index}", lot_id=disposal.lot_id, symbol="ETH", side=disposal.side,
                quantity=disposal.quantity, open_price=disposal.open_price, close_price=disposal.close_price,
                opened_at=disposal.opened_at, closed_at=disposal.closed_at, open_fee=disposal.open_fee,
                close_fee=disposal.close_fee))
        if outcome.opened_lot is not None:
            openings.append(LotOpening(lot_id=outcome.opened_lot.lot_id, side=outcome.position_side,
                                       quantity=outcome.opened_lot.quantity, opened_at=each.executed_at))
        side, held = outcome.position_side, outcome.lots
    return form8949_rows(sales=sales, openings={"ETH": openings})


# Three buys, then one sale of 12 on 2026-02-01 @ 130 that takes lots partly:
#   f0: 10 @ 100 on 2025-01-10 (long-term at the sale), f1: 5 @ 140 on 2025-06-01, f2: 5 @ 120 on 2025-12-01.
BUYS = [Fill(side=Side.BUY, quantity=D(10), price=D(100), executed_at=utc(2025, 1, 10)),
        Fill(side=Side.BUY, quantity=D(5), price=D(140), executed_at=utc(2025, 6, 1)),
        Fill(side=Side.BUY, quantity=D(5), price=D(120), executed_at=utc(2025, 12, 1))]
SELL_12 = Fill(side=Side.SELL, quantity=D(12), price=D(130), executed_at=utc(2026, 2, 1))


@pytest.mark.parametrize(("method", "expected"), [
    # FIFO: 10 of f0 (long, gain 300), 2 of f1 (short, loss 20).
    (CostBasisMethod.FIFO, [(Term.LONG, D(10), D(1000), D(300)), (Term.SHORT, D(2), D(280), D(-20))]),
    # LIFO: 5 of f2 (gain 50), 5 of f1 (loss 50), 2 of f0 (long, gain 60).
    (CostBasisMethod.LIFO, [(Term.SHORT, D(5), D(600), D(50)), (Term.SHORT, D(5), D(700), D(-50)),
                            (Term.LONG, D(2), D(200), D(60))]),
    # HIFO: f1 @ 140 first (loss 50), then f2 @ 120 (gain 50), then 2 of f0 (gain 60).
    (CostBasisMethod.HIFO, [(Term.SHORT, D(5), D(700), D(-50)), (Term.SHORT, D(5), D(600), D(50)),
                            (Term.LONG, D(2), D(200), D(60))]),
    # Average: every lot at (1000 + 700 + 600) / 20 = 115, taken oldest first: 10 of f0, 2 of f1.
    (CostBasisMethod.AVERAGE, [(Term.LONG, D(10), D(1150), D(150)), (Term.SHORT, D(2), D(230), D(30))]),
])
def test_cost_basis_methods_split_a_partial_sale_into_terms(method, expected):
    rows = _sales_from_fills([*BUYS, SELL_12], method)
    assert [(row.term, row.quantity, row.cost_basis, row.gain_or_loss) for row in rows] == expected
    assert sum((row.proceeds for row in rows), D(0)) == D(12) * 130


def test_summary_totals_per_box():
    rows = _sales_from_fills([*BUYS, SELL_12], CostBasisMethod.FIFO)
    totals = summarize(rows)
    assert (totals["D"].proceeds, totals["D"].cost_basis, totals["D"].gain_or_loss) == (D(1300), D(1000), D(300))
    assert (totals["A"].proceeds, totals["A"].cost_basis, totals["A"].gain_or_loss) == (D(260), D(280), D(-20))


def test_form8949_csv_is_in_cents_and_adds_up():
    # 3 @ 10.005 bought, sold @ 9.0049: proceeds 27.0147 → 27.01, basis 30.015 → 30.02 (half-even).
    rows = form8949_rows(sales=[sale("s1", "l1", quantity="3", open_price="10.005", close_price="9.0049",
                                     opened_at=utc(2025, 1, 2), closed_at=utc(2025, 1, 3))], openings={})
    parsed = list(csv.DictReader(io.StringIO(form8949_csv(rows))))
    assert parsed == [{
        "box": "A", "term": "short", "description": "3 AAPL", "date_acquired": "2025-01-02",
        "date_sold": "2025-01-03", "proceeds": "27.01", "cost_basis": "30.02", "adjustment_code": "",
        "adjustment_amount": "", "gain_or_loss": "-3.01", "is_short_sale": "false", "is_wash_sale": "false",
        "symbol": "AAPL", "quantity": "3", "sale_id": "s1"}]


def test_txf_document_uses_record_format_5_with_refnums_by_box():
    rows = form8949_rows(
        sales=[sale("s1", "l1", quantity="10", open_price="100", close_price="90",
                    opened_at=utc(2025, 6, 1), closed_at=utc(2025, 6, 20)),
               sale("s2", "l0", quantity="2", open_price="50", close_price="80",
                    opened_at=utc(2023, 1, 5), closed_at=utc(2025, 6, 21))],
        openings={"AAPL": [opening("l1", "10", utc(2025, 6, 1)), opening("l2", "10", utc(2025, 6, 25))]})
    text = txf_document(rows, exported_on=date(2026, 1, 15), program="Haunt Paper Trading")
    assert text.split("\r\n") == [
        "V042", "AHaunt Paper Trading", "D01/15/2026", "^",
        "TD", "N321", "C1", "L1", "P10 AAPL", "D06/01/2025", "D06/20/2025", "$1000.00", "$900.00", "$100.00", "^",
        "TD", "N323", "C1", "L1", "P2 AAPL", "D01/05/2023", "D06/21/2025", "$100.00", "$160.00", "$", "^",
        "",
    ]


def test_selection_preferring_takes_named_lots_then_the_method_order():
    held = [lots.Lot(lot_id="a", quantity=D(5), price=D(100), opened_at=utc(2025, 1, 1)),
            lots.Lot(lot_id="b", quantity=D(5), price=D(90), opened_at=utc(2025, 1, 2)),
            lots.Lot(lot_id="c", quantity=D(5), price=D(110), opened_at=utc(2025, 1, 3))]
    selection = lots.selection_preferring(side_of_position=LONG, lots=held, lot_ids=["b", "gone"],
                                          closing_quantity=D(8), method=CostBasisMethod.LIFO)
    assert selection == (("b", D(5)), ("c", D(3)))
    with pytest.raises(lots.InvalidLotOperation):
        lots.selection_preferring(side_of_position=LONG, lots=held, lot_ids=["b"], closing_quantity=D(1),
                                  method=CostBasisMethod.AVERAGE)
