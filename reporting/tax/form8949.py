"""Realized gains and losses for tax reporting (spec §12 "Tax Reporting"), in the shape of IRS
Form 8949, with the Form 8949 CSV and the TXF V042 file TurboTax imports.

Plain Decimal functions and frozen dataclasses: no Django, no clock, no settings. The tax service
loads a portfolio's lot disposals and lot openings, calls ``form8949_rows`` and hands the rows to
``form8949_csv`` or ``txf_document``. The rows keep exact amounts; only the two file formats
round, to cents (half-even), because Form 8949 and TXF are in dollars and cents.

One row is one disposal: part or all of one lot closed by one fill (``portfolios.lots``):

- Proceeds and cost basis carry the commissions (Form 8949 instructions, column (e)): long,
  proceeds = ``close × q × m − close fee``, basis = ``open × q × m + open fee``; a short sale's
  proceeds are the short sale (``open × q × m − open fee``) and its basis the cover
  (``close × q × m + close fee``).
- Dates: a long reports the lot's opening as date acquired and the closing fill as date sold. A
  short sale reports the cover date in both columns: the date the property delivered to close
  it was acquired, and the date it was delivered (Form 8949 instructions, columns (b) and (c)).
  The tax year is the year of the date sold.
- Term: long-term when held more than one year (``lots.held_more_than_one_year``: bought
  2025-03-15, sold 2026-03-15 is short-term, sold 2026-03-16 long-term); a short sale is always
  short-term (Publication 550, "Short Sales").
- Box: A/B/C for short-term, D/E/F for long-term, by how the basis was reported on Form 1099-B
  (``BasisReporting``). TXF reference numbers follow the box: 321/711/712 and 323/713/714.
- Wash sales (``lots.wash_sales``): a loss disposal washed by an opening of the same symbol on the
  same side within 30 days before or after the sale gets code W and the disallowed loss as a
  positive adjustment in column (g), so gain or loss (h) = proceeds − basis + adjustment. The
  disallowed loss is added to the basis of the replacement lot's later disposals, per share
  washed, in the order those shares are sold. The replacement's holding period is not extended.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from haunt.api.formatting import decimal_text, trimmed_decimal_text
from portfolios import lots
from portfolios.lots import LotOpening, PositionSide

ZERO = Decimal(0)
CENT = Decimal("0.01")
WASH_SALE_CODE = "W"


class Term(StrEnum):
    SHORT = "short"
    LONG = "long"


class BasisReporting(StrEnum):
    """How Form 1099-B reported the basis; it picks the Form 8949 box."""

    REPORTED = "reported"          # box A (short-term) / D (long-term)
    NOT_REPORTED = "not_reported"  # box B / E
    NO_1099B = "no_1099b"          # box C / F


BOXES = {
    (Term.SHORT, BasisReporting.REPORTED): "A",
    (Term.SHORT, BasisReporting.NOT_REPORTED): "B",
    (Term.SHORT, BasisReporting.NO_1099B): "C",
    (Term.LONG, BasisReporting.REPORTED): "D",
    (Term.LONG, BasisReporting.NOT_REPORTED): "E",
    (Term.LONG, BasisReporting.NO_1099B): "F",
}
# TXF V042 reference numbers for Form 8949 Part I boxes A/B/C and Part II boxes D/E/F.
TXF_REFERENCE_NUMBERS = {"A": 321, "B": 711, "C": 712, "D": 323, "E": 713, "F": 714}


@dataclass(frozen=True, slots=True)
class LotSale:
    """One stored disposal: ``quantity`` of lot ``lot_id`` closed at ``closed_at``."""

    sale_id: str
    lot_id: str
    symbol: str
    side: PositionSide
    quantity: Decimal
    open_price: Decimal
    close_price: Decimal
    opened_at: datetime
    closed_at: datetime
    open_fee: Decimal = ZERO
    close_fee: Decimal = ZERO
    contract_multiplier: Decimal = Decimal(1)


@dataclass(frozen=True, slots=True)
class Form8949Row:
    sale_id: str
    symbol: str
    description: str
    quantity: Decimal
    date_acquired: date
    date_sold: date
    proceeds: Decimal
    cost_basis: Decimal
    adjustment_code: str
    adjustment_amount: Decimal
    gain_or_loss: Decimal
    term: Term
    box: str
    is_short_sale: bool
    is_wash_sale: bool
    opened_at: datetime
    closed_at: datetime

    @property
    def tax_year(self) -> int:
        return self.date_sold.year


def proceeds_and_basis(sale: LotSale) -> tuple[Decimal, Decimal]:
    """Form 8949 columns (d) and (e), commissions included (see the module docstring)."""
    opening_value = sale.open_price * sale.quantity * sale.contract_multiplier
    closing_value = sale.close_price * sale.quantity * sale.contract_multiplier
    if sale.side is PositionSide.LONG:
        return closing_value - sale.close_fee, opening_value + sale.open_fee
    return opening_value - sale.open_fee, closing_value + sale.close_fee


def term_of(sale: LotSale) -> Term:
    if sale.side is PositionSide.SHORT:
        return Term.SHORT
    is_long = lots.held_more_than_one_year(acquired_at=sale.opened_at, disposed_at=sale.closed_at)
    return Term.LONG if is_long else Term.SHORT


def form8949_rows(
    *, sales: Sequence[LotSale], openings: Mapping[str, Sequence[LotOpening]],
    reporting: BasisReporting = BasisReporting.REPORTED,
) -> list[Form8949Row]:
    """Every sale as a Form 8949 row, in sale order, wash sales flagged and carried into the
    replacement lots' basis. ``openings`` maps each symbol to every lot the portfolio opened in
    it (with its original quantity): the candidate replacements."""
    reporting = BasisReporting(reporting)
    by_symbol: dict[str, list[LotSale]] = defaultdict(list)
    for sale in sales:
        by_symbol[sale.symbol].append(sale)

    rows = []
    for symbol, symbol_sales in by_symbol.items():
        symbol_sales.sort(key=lambda sale: (sale.closed_at, sale.sale_id))
        disposals = [_as_disposal(sale) for sale in symbol_sales]
        washes = lots.wash_sales(disposals=disposals, openings=openings.get(symbol, ()))
        # Per replacement lot, the disallowed losses waiting for its shares: [quantity, per share, after].
        carried: dict[str, list[list]] = defaultdict(list)
        for sale, wash in zip(symbol_sales, washes, strict=True):
            if wash is not None:
                per_share = wash.disallowed_loss / wash.washed_quantity
                for lot_id, quantity in wash.replacements:
                    carried[lot_id].append([quantity, per_share, sale.closed_at])
        for sale, wash in zip(symbol_sales, washes, strict=True):
            added_basis = _take_carried(carried[sale.lot_id], quantity=sale.quantity, sold_at=sale.closed_at)
            rows.append(_row(sale, wash=wash, added_basis=added_basis, reporting=reporting))
    rows.sort(key=lambda row: (row.closed_at, row.sale_id))
    return rows


def _as_disposal(sale: LotSale) -> lots.Disposal:
    proceeds, basis = proceeds_and_basis(sale)
    sign = 1 if sale.side is PositionSide.LONG else -1
    gross = sign * (sale.close_price - sale.open_price) * sale.quantity * sale.contract_multiplier
    return lots.Disposal(
        lot_id=sale.lot_id, side=sale.side, quantity=sale.quantity, open_price=sale.open_price,
        close_price=sale.close_price, opened_at=sale.opened_at, closed_at=sale.closed_at, realized_pnl=gross,
        open_fee=sale.open_fee, close_fee=sale.close_fee, proceeds=proceeds, cost_basis=basis,
        holding_seconds=int((sale.closed_at - sale.opened_at).total_seconds()),
        is_long_term=term_of(sale) is Term.LONG,
    )


def _take_carried(pending: list[list], *, quantity: Decimal, sold_at: datetime) -> Decimal:
    """Basis added to a sale of ``quantity`` replacement shares: the disallowed losses of wash
    sales made before it, share by share, oldest first."""
    added = ZERO
    for entry in pending:
        if quantity == 0:
            break
        available, per_share, washed_at = entry
        if available == 0 or washed_at > sold_at:
            continue
        taken = min(available, quantity)
        added += taken * per_share
        entry[0] = available - taken
        quantity -= taken
    return added


def _row(sale: LotSale, *, wash: lots.WashSale | None, added_basis: Decimal, reporting: BasisReporting) -> Form8949Row:
    proceeds, basis = proceeds_and_basis(sale)
    basis += added_basis
    term = term_of(sale)
    is_short = sale.side is PositionSide.SHORT
    adjustment = wash.disallowed_loss if wash is not None else ZERO
    acquired = sale.closed_at.date() if is_short else sale.opened_at.date()
    return Form8949Row(
        sale_id=sale.sale_id, symbol=sale.symbol,
        description=f"{trimmed_decimal_text(sale.quantity)} {sale.symbol}" + (" (short sale)" if is_short else ""),
        quantity=sale.quantity, date_acquired=acquired, date_sold=sale.closed_at.date(), proceeds=proceeds,
        cost_basis=basis, adjustment_code=WASH_SALE_CODE if wash is not None else "", adjustment_amount=adjustment,
        gain_or_loss=proceeds - basis + adjustment, term=term, box=BOXES[term, reporting], is_short_sale=is_short,
        is_wash_sale=wash is not None, opened_at=sale.opened_at, closed_at=sale.closed_at,
    )


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True)
class TaxSummary:
    proceeds: Decimal
    cost_basis: Decimal
    adjustments: Decimal
    gain_or_loss: Decimal
    count: int


def summarize(rows: Sequence[Form8949Row]) -> dict[str, TaxSummary]:
    """Totals per box (Form 8949 line 2 for each box checked), exact."""
    totals: dict[str, TaxSummary] = {}
    for box in sorted({row.box for row in rows}):
        in_box = [row for row in rows if row.box == box]
        totals[box] = TaxSummary(
            proceeds=sum((row.proceeds for row in in_box), ZERO),
            cost_basis=sum((row.cost_basis for row in in_box), ZERO),
            adjustments=sum((row.adjustment_amount for row in in_box), ZERO),
            gain_or_loss=sum((row.gain_or_loss for row in in_box), ZERO),
            count=len(in_box),
        )
    return totals


FORM8949_COLUMNS = [
    "box", "term", "description", "date_acquired", "date_sold", "proceeds", "cost_basis", "adjustment_code",
    "adjustment_amount", "gain_or_loss", "is_short_sale", "is_wash_sale", "symbol", "quantity", "sale_id",
]


def form8949_csv(rows: Sequence[Form8949Row]) -> str:
    """Form 8949 columns (a)–(h) plus the flags, amounts in cents; (h) = (d) − (e) + (g) holds
    on the rounded amounts too, because (h) is computed from them."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(FORM8949_COLUMNS)
    for row in rows:
        proceeds, basis, adjustment = cents(row.proceeds), cents(row.cost_basis), cents(row.adjustment_amount)
        writer.writerow([
            row.box, row.term.value, row.description, row.date_acquired.isoformat(), row.date_sold.isoformat(),
            decimal_text(proceeds), decimal_text(basis), row.adjustment_code,
            decimal_text(adjustment) if row.adjustment_code else "", decimal_text(proceeds - basis + adjustment),
            "true" if row.is_short_sale else "false", "true" if row.is_wash_sale else "false", row.symbol,
            trimmed_decimal_text(row.quantity), row.sale_id,
        ])
    return buffer.getvalue()


def txf_document(rows: Sequence[Form8949Row], *, exported_on: date, program: str) -> str:
    """A TXF V042 file: the header, then one record format 5 per row (reference number by box,
    description, dates acquired and sold, cost basis, proceeds, disallowed wash-sale loss)."""
    lines = ["V042", f"A{program}", f"D{_txf_date(exported_on)}", "^"]
    for row in rows:
        lines += [
            "TD", f"N{TXF_REFERENCE_NUMBERS[row.box]}", "C1", "L1", f"P{row.description}",
            f"D{_txf_date(row.date_acquired)}", f"D{_txf_date(row.date_sold)}",
            "$" + decimal_text(row.cost_basis, 2), "$" + decimal_text(row.proceeds, 2),
            "$" + decimal_text(row.adjustment_amount, 2) if row.adjustment_code else "$",
            "^",
        ]
    return "\r\n".join(lines) + "\r\n"


def _txf_date(day: date) -> str:
    return day.strftime("%m/%d/%Y")
