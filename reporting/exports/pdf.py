"""The PDF performance report of one portfolio (spec §12 "Export Formats": PDF reports).

Sections: summary metrics, equity curve, drawdown, monthly returns, trade list. The numbers come
from ``reporting.analytics.kernels`` over the portfolio's equity snapshots (time-weighted, so top-ups
are not counted as return) and its closed positions; charts are drawn with matplotlib's Agg
canvas (no display, no pyplot global state) and the document is laid out with reportlab.

``portfolio_report_pdf`` reads; ``render_report`` only formats what it is given.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np
from django.utils import timezone
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Image, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from haunt.api.formatting import trimmed_decimal_text
from haunt.market.models import AssetClass
from orders.models import Trade
from portfolios.models import EquitySnapshot, Portfolio, Position
from portfolios.selectors import portfolio_get_for_user
from portfolios.valuation import portfolio_equity
from reporting.analytics import kernels

# The trade list shows the latest trades up to this many; the CSV export carries them all.
PDF_TRADE_LIMIT = 1000
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class ReportData:
    title: str
    subtitle: str
    summary: list[tuple[str, str]]
    equity_times: np.ndarray        # datetime64[s]
    equity: np.ndarray              # float, base currency
    drawdown_days: np.ndarray       # datetime64[D]
    drawdown: np.ndarray            # negative fractions
    monthly: dict[int, dict[int, float]]   # year → month (1-12) → return
    trades: list[list[str]]
    trade_count: int


def portfolio_report_pdf(*, user, portfolio_id, start: datetime | None = None, end: datetime | None = None) -> tuple[Portfolio, bytes]:
    """The report of one of the user's portfolios (archived included) over [start, end)."""
    portfolio = portfolio_get_for_user(user=user, portfolio_id=portfolio_id)
    return portfolio, render_report(report_data(portfolio=portfolio, start=start, end=end))


def report_data(*, portfolio: Portfolio, start: datetime | None, end: datetime | None) -> ReportData:
    snapshots = EquitySnapshot.objects.filter(portfolio=portfolio).order_by("taken_at", "pk")
    trades = Trade.objects.filter(portfolio=portfolio).select_related("instrument")
    positions = Position.objects.filter(portfolio=portfolio, status=Position.Status.CLOSED)
    if start is not None:
        snapshots, trades = snapshots.filter(taken_at__gte=start), trades.filter(executed_at__gte=start)
        positions = positions.filter(closed_at__gte=start)
    if end is not None:
        snapshots, trades = snapshots.filter(taken_at__lt=end), trades.filter(executed_at__lt=end)
        positions = positions.filter(closed_at__lt=end)

    rows = list(snapshots.values_list("taken_at", "equity", "invested"))
    times = np.array([taken_at.replace(tzinfo=None) for taken_at, _, _ in rows], dtype="datetime64[s]")
    equity = np.array([float(value) for _, value, _ in rows], dtype=np.float64)
    invested = np.array([float(value) for _, _, value in rows], dtype=np.float64)
    # A change of `invested` between snapshots is a top-up, stamped with the snapshot that holds it.
    flow_index = np.flatnonzero(np.diff(invested)) + 1
    returns = kernels.time_weighted_returns(times=times, equity=equity, flow_times=times[flow_index],
                                              flow_amounts=np.diff(invested)[flow_index - 1])
    days, daily = kernels.resample_daily(period_end_times=times[1:], returns=returns)
    asset_classes = set(trades.values_list("instrument__asset_class", flat=True).distinct())
    periods_per_year = kernels.daily_periods_per_year(
        is_crypto_only=bool(asset_classes) and asset_classes <= {AssetClass.CRYPTO_SPOT, AssetClass.PERPETUAL})
    metrics = kernels.risk_metrics(daily, periods_per_year=periods_per_year)
    closed = list(positions.values_list("realized_pnl", "opened_at", "closed_at"))
    statistics = kernels.trade_statistics(
        realized_pnl=np.array([float(pnl) for pnl, _, _ in closed], dtype=np.float64),
        holding_seconds=np.array([(closed_at - opened_at).total_seconds() for _, opened_at, closed_at in closed],
                                 dtype=np.float64))

    wealth = kernels.cum_returns(daily, starting_value=1.0)
    drawdown = wealth / np.maximum.accumulate(wealth) - 1.0 if wealth.size else wealth
    month_days, month_returns = kernels.aggregate_returns(days, daily, convert_to=kernels.ReturnPeriod.MONTHLY)
    monthly: dict[int, dict[int, float]] = {}
    for first_day, value in zip(month_days.astype("datetime64[D]").tolist(), month_returns.tolist(), strict=True):
        monthly.setdefault(first_day.year, {})[first_day.month] = value

    trade_count = trades.count()
    latest = list(trades.order_by("-executed_at", "-pk")[:PDF_TRADE_LIMIT])[::-1]
    currency = portfolio.base_currency
    summary = [
        ("Base currency", currency),
        ("Equity now", _money(portfolio_equity(portfolio))),
        ("Invested (starting balance + top-ups)", _money(portfolio.starting_balance + portfolio.total_topups)),
        ("Realized P&L (all time)", _money(portfolio.realized_pnl)),
        ("Cost basis method", portfolio.get_cost_basis_method_display()),
        ("Total return (time-weighted)", _percent(metrics.cumulative_return)),
        ("Annual return", _percent(metrics.annual_return)),
        ("Annual volatility", _percent(metrics.annual_volatility)),
        ("Sharpe ratio", _ratio(metrics.sharpe_ratio)),
        ("Sortino ratio", _ratio(metrics.sortino_ratio)),
        ("Calmar ratio", _ratio(metrics.calmar_ratio)),
        ("Max drawdown", _percent(metrics.max_drawdown)),
        ("Closed positions", str(statistics.position_count)),
        ("Win rate", _percent(statistics.win_rate)),
        ("Profit factor", _ratio(statistics.profit_factor)),
        ("Expectancy per position", _ratio(statistics.expectancy)),
        ("Trades (fills)", str(trade_count)),
    ]
    period = f"{_day(start) or 'start'} to {_day(end) or 'now'}"
    return ReportData(
        title=f"Performance report: {portfolio.name}",
        subtitle=f"Portfolio {portfolio.pk}, {period}. Generated {timezone.now():%Y-%m-%d %H:%M} UTC.",
        summary=summary, equity_times=times, equity=equity, drawdown_days=days, drawdown=drawdown,
        monthly=monthly, trade_count=trade_count,
        trades=[[f"{trade.executed_at:%Y-%m-%d %H:%M:%S}", trade.instrument.symbol, trade.side,
                 trimmed_decimal_text(trade.quantity), trimmed_decimal_text(trade.price), _money(trade.fee),
                 _money(trade.realized_pnl)] for trade in latest],
    )


def render_report(data: ReportData) -> bytes:
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=A4, title=data.title, author="Haunt Paper Trading",
                                 leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm, bottomMargin=15 * mm)
    width = A4[0] - 30 * mm
    story = [Paragraph(data.title, styles["Title"]), Paragraph(data.subtitle, styles["Normal"]), Spacer(1, 6 * mm),
             Paragraph("Summary", styles["Heading2"]), _table([["Metric", "Value"], *data.summary], [width * 0.6, width * 0.4]),
             PageBreak(),
             Paragraph("Equity curve", styles["Heading2"]),
             _chart(data.equity_times, data.equity, ylabel="Equity", width=width),
             Paragraph("Drawdown", styles["Heading2"]),
             _chart(data.drawdown_days, data.drawdown * 100, ylabel="Drawdown (%)", width=width, fill=True),
             PageBreak(),
             Paragraph("Monthly returns", styles["Heading2"]), _monthly_table(data.monthly, width)]
    story += [Spacer(1, 6 * mm), Paragraph("Trades", styles["Heading2"])]
    if data.trade_count > len(data.trades):
        story.append(Paragraph(f"The latest {len(data.trades)} of {data.trade_count} trades; the CSV export has "
                               "them all.", styles["Normal"]))
    if data.trades:
        story.append(_table([["Executed (UTC)", "Symbol", "Side", "Quantity", "Price", "Fee", "Realized P&L"],
                             *data.trades], [width * share for share in (0.2, 0.13, 0.07, 0.14, 0.16, 0.13, 0.17)],
                            repeat_header=True))
    else:
        story.append(Paragraph("No trades in this period.", styles["Normal"]))
    document.build(story)
    return buffer.getvalue()


def _table(rows: list[list[str]], widths: list[float], *, repeat_header: bool = False) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1 if repeat_header else 0)
    table.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#2d3748")),
        ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
        ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#cbd5e0")),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f7fafc")]),
    ]))
    return table


def _monthly_table(monthly: dict[int, dict[int, float]], width: float) -> Table | Paragraph:
    if not monthly:
        return Paragraph("Not enough equity history for monthly returns.", getSampleStyleSheet()["Normal"])
    rows = [["Year", *MONTHS, "Year"]]
    for year in sorted(monthly):
        months = monthly[year]
        compounded = math.prod(1.0 + value for value in months.values() if not math.isnan(value)) - 1.0
        rows.append([str(year), *[_percent(months[month]) if month in months else "" for month in range(1, 13)],
                     _percent(compounded)])
    return _table(rows, [width / 14] * 14)


def _chart(x: np.ndarray, y: np.ndarray, *, ylabel: str, width: float, fill: bool = False) -> Image:
    figure = Figure(figsize=(7.5, 3.0), dpi=110)
    axes = figure.add_subplot()
    if x.size:
        dates = x.astype("datetime64[s]").astype(datetime)
        axes.plot(dates, y, color="#2b6cb0", linewidth=1.2)
        if fill:
            axes.fill_between(dates, y, 0, color="#e53e3e", alpha=0.3)
    else:
        axes.text(0.5, 0.5, "No history yet", ha="center", va="center", transform=axes.transAxes)
    axes.set_ylabel(ylabel)
    axes.grid(True, linewidth=0.3)
    figure.autofmt_xdate()
    figure.tight_layout()
    png = io.BytesIO()
    FigureCanvasAgg(figure).print_png(png)
    png.seek(0)
    return Image(png, width=width, height=width * 0.4)


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _percent(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value * 100:.2f}%"


def _ratio(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.2f}"


def _day(moment: datetime | None) -> str | None:
    return None if moment is None else f"{moment:%Y-%m-%d}"
