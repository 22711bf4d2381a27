"""The tax report of one portfolio (spec §12 "Tax Reporting"): its lot disposals as Form 8949 rows
(``reporting.tax.form8949``), by tax year, under the cost basis method each disposal was made with.

Amounts are in each instrument's quote currency (USD for the US stocks, ETFs and USD crypto
pairs), as the lots store them. Wash sales are matched over the portfolio's whole history before
a year is picked, so a December loss washed by a January purchase is flagged in December.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from portfolios.lots import LotOpening, PositionSide
from portfolios.models import LotDisposal, Portfolio, PositionLot
from portfolios.selectors import portfolio_get_for_user
from reporting.tax.form8949 import BasisReporting, Form8949Row, LotSale, TaxSummary, form8949_rows, summarize


@dataclass(frozen=True)
class TaxReport:
    portfolio: Portfolio
    year: int | None
    basis_reporting: BasisReporting
    rows: list[Form8949Row]
    totals: dict[str, TaxSummary]
    years: list[int]


def tax_report_for_user(*, user, portfolio_id, year: int | None = None,
                        basis_reporting: BasisReporting = BasisReporting.REPORTED) -> TaxReport:
    """Every disposal of the user's portfolio (archived included), or those sold in ``year``."""
    portfolio = portfolio_get_for_user(user=user, portfolio_id=portfolio_id)
    disposals = (LotDisposal.objects.filter(lot__position__portfolio=portfolio)
                 .select_related("lot__position__instrument").order_by("closed_at", "pk"))
    sales = [LotSale(
        sale_id=str(disposal.pk), lot_id=str(disposal.lot_id), symbol=disposal.lot.position.instrument.symbol,
        side=PositionSide(disposal.lot.position.side), quantity=disposal.quantity, open_price=disposal.open_price,
        close_price=disposal.close_price, opened_at=disposal.opened_at, closed_at=disposal.closed_at,
        open_fee=disposal.open_fee, close_fee=disposal.close_fee,
        contract_multiplier=disposal.lot.position.instrument.contract_multiplier,
    ) for disposal in disposals]
    openings: dict[str, list[LotOpening]] = defaultdict(list)
    for lot_id, side, symbol, quantity, opened_at in PositionLot.objects.filter(position__portfolio=portfolio).values_list(
            "pk", "position__side", "position__instrument__symbol", "original_quantity", "opened_at"):
        openings[symbol].append(LotOpening(lot_id=str(lot_id), side=PositionSide(side), quantity=quantity,
                                           opened_at=opened_at))
    rows = form8949_rows(sales=sales, openings=openings, reporting=basis_reporting)
    years = sorted({row.tax_year for row in rows})
    if year is not None:
        rows = [row for row in rows if row.tax_year == year]
    return TaxReport(portfolio=portfolio, year=year, basis_reporting=BasisReporting(basis_reporting), rows=rows,
                     totals=summarize(rows), years=years)
