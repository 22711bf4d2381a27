"""The PDF performance report of one portfolio (spec §12 "Export Formats": PDF reports).

Sections: summary metrics, equity curve, drawdown, monthly returns, trade list. Every figure is
one the analytics API answers for the same window (``reporting.analytics.selectors``: performance,
metrics and trade statistics), printed from its decimal strings, so the report and
``/api/analytics/*`` never disagree; the trade list is the window's fills. Charts are drawn with
matplotlib's Agg canvas (no display, no pyplot global state), axes in money or percent against
dates; the document is laid out with reportlab.

``portfolio_report_pdf`` reads; ``report_data`` turns the analytics payloads into what the report
shows; ``render_report`` only formats what it is given.
"""
from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone
from matplotlib import dates as mdates
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Image, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from haunt.api.formatting import trimmed_decimal_text
from orders.models import Trade
from portfolios.models import Portfolio
from portfolios.selectors import portfolio_get_for_user
from reporting.analytics.selectors import (
    AnalyticsQuery,
    analytics_metrics_for_user,
    analytics_performance_for_user,
    analytics_trades_for_user,
)

# The trade list shows the latest trades up to this many; the CSV export carries them all.
PDF_TRADE_LIMIT = 1000
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
FONT = "Helvetica"
FONT_SIZE = 8
CELL_PADDING = 12  # reportlab's default left plus right padding of a table cell (6 + 6), in points
# The trade list's columns and their shares of the page width: wide enough for a 21-character
# OCC option symbol ("AAPL  261218C00200000") and a 10-decimal price at FONT_SIZE.
TRADE_COLUMNS = (("Executed (UTC)", 0.17), ("Symbol", 0.21), ("Side", 0.055), ("Quantity", 0.155),
                 ("Price", 0.17), ("Fee", 0.11), ("P&L, gross", 0.13))
PAGE_WIDTH = A4[0] - 30 * mm


@dataclass(frozen=True)
class ChartSeries:
    """One chart: a value per day, drawn against dates; ``unit`` is "money" or "percent" (fractions)."""

    title: str
    days: list[dt.date]
    values: list[float]
    unit: str
    ylabel: str


@dataclass(frozen=True)
class ReportData:
    title: str
    subtitle: str
    summary: list[tuple[str, str]]
    caveats: list[str]
    equity: ChartSeries
    drawdown: ChartSeries
    monthly: dict[int, dict[int, str]]   # year → month (1-12) → return text
    yearly: dict[int, str]               # year → compounded return text
    trades: list[list[str]]
    trade_count: int


def portfolio_report_pdf(*, user, portfolio_id, start: dt.datetime | None = None,
                         end: dt.datetime | None = None) -> tuple[Portfolio, bytes]:
    """The report of one of the user's portfolios (archived included) over [start, end)."""
    portfolio = portfolio_get_for_user(user=user, portfolio_id=portfolio_id)
    return portfolio, render_report(report_data(user=user, portfolio=portfolio, start=start, end=end))


def report_data(*, user, portfolio: Portfolio, start: dt.datetime | None, end: dt.datetime | None) -> ReportData:
    query = AnalyticsQuery(start=start, end=end)
    performance = analytics_performance_for_user(user=user, portfolio_id=portfolio.pk, query=query)
    metrics = analytics_metrics_for_user(user=user, portfolio_id=portfolio.pk, query=query)
    statistics = analytics_trades_for_user(user=user, portfolio_id=portfolio.pk, query=query)["statistics"]
    summary = performance["summary"]
    ratios = metrics["metrics"]
    currency = portfolio.base_currency
    benchmark = performance["conventions"]["benchmark"]
    short = "n/a (short history)" if not metrics["annualisation"]["applied"] else "n/a"

    trades = Trade.objects.filter(portfolio=portfolio).select_related("instrument")
    if start is not None:
        trades = trades.filter(executed_at__gte=start)
    if end is not None:
        trades = trades.filter(executed_at__lt=end)
    trade_count = trades.count()
    latest = list(trades.order_by("-executed_at", "-pk")[:PDF_TRADE_LIMIT])[::-1]

    net_closed = _difference(statistics["gross_profit"], statistics["gross_loss"])
    rows = [
        ("Base currency", currency),
        ("Cost basis method", portfolio.get_cost_basis_method_display()),
        ("Equity at the window's start", money_text(summary["start_equity"])),
        ("Equity at the window's end", money_text(summary["end_equity"])),
        ("Net top-ups and withdrawals", money_text(summary["net_cash_flow"])),
        ("Profit (end − start − top-ups)", money_text(summary["profit"])),
        ("Total return (time-weighted)", percent_text(summary["time_weighted_return"])),
        (f"Benchmark return ({benchmark})", percent_text(summary["benchmark_return"])),
        ("Days of history", str(summary["days"])),
        ("Annual return", percent_text(ratios["annual_return"], undefined=short)),
        ("Annual volatility", percent_text(ratios["annual_volatility"], undefined=short)),
        ("Sharpe ratio", ratio_text(ratios["sharpe_ratio"], undefined=short)),
        ("Sortino ratio", ratio_text(ratios["sortino_ratio"], undefined=short)),
        ("Calmar ratio", ratio_text(ratios["calmar_ratio"], undefined=short)),
        ("Max drawdown", percent_text(ratios["max_drawdown"])),
        ("Current drawdown", percent_text(ratios["current_drawdown"])),
        ("Closed positions", str(statistics["position_count"])),
        ("Win rate (net of fees)", percent_text(statistics["win_rate"])),
        ("Profit factor (net of fees)", ratio_text(statistics["profit_factor"])),
        ("Expectancy per position (net of fees)", money_text(statistics["expectancy"])),
        ("P&L of closed positions (net of fees)", money_text(net_closed)),
        ("Average holding time", duration_text(statistics["average_holding_seconds"])),
        ("Trades (fills)", str(trade_count)),
    ]
    caveats = [note for note in (metrics["annualisation"]["note"],) if note]
    caveats.append("Win rate, profit factor and expectancy count each closed position's P&L net of its trading "
                   "fees, borrow fees and funding, as GET /api/analytics/trades does.")

    daily = performance["daily"]
    days = [dt.date.fromisoformat(row["date"]) for row in daily]
    monthly: dict[int, dict[int, str]] = {}
    for row in performance["calendar_returns"]["monthly"]:
        first_day = dt.date.fromisoformat(row["period_start"])
        monthly.setdefault(first_day.year, {})[first_day.month] = percent_text(row["return"])
    yearly = {dt.date.fromisoformat(row["period_start"]).year: percent_text(row["return"])
              for row in performance["calendar_returns"]["yearly"]}
    period = f"{_day(start) or 'the start of the track record'} to {_day(end) or 'now'}"
    return ReportData(
        title=f"Performance report: {portfolio.name}",
        subtitle=f"Portfolio {portfolio.pk}, {period}. Generated {timezone.now():%Y-%m-%d %H:%M} UTC. "
                 f"Amounts in {currency}.",
        summary=rows, caveats=caveats,
        equity=ChartSeries(title="Equity curve", days=days, values=[float(row["equity"]) for row in daily],
                           unit="money", ylabel=f"Equity at the day close ({currency})"),
        drawdown=ChartSeries(title="Drawdown", days=days, values=[float(row["drawdown"]) for row in daily],
                             unit="percent", ylabel="Below the running peak"),
        monthly=monthly, yearly=yearly, trade_count=trade_count,
        trades=[[f"{trade.executed_at:%Y-%m-%d %H:%M:%S}", trade.instrument.symbol, trade.side,
                 trimmed_decimal_text(trade.quantity), trimmed_decimal_text(trade.price), money_text(trade.fee),
                 money_text(trade.realized_pnl)] for trade in latest],
    )


def render_report(data: ReportData) -> bytes:
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=A4, title=data.title, author="Haunt Paper Trading",
                                 leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm, bottomMargin=15 * mm)
    width = PAGE_WIDTH
    story = [Paragraph(data.title, styles["Title"]), Paragraph(data.subtitle, styles["Normal"]), Spacer(1, 6 * mm),
             Paragraph("Summary", styles["Heading2"]),
             _table([["Metric", "Value"], *data.summary], [width * 0.6, width * 0.4])]
    story += [Paragraph(caveat, styles["Italic"]) for caveat in data.caveats]
    story += [PageBreak()]
    for series in (data.equity, data.drawdown):
        story += [Paragraph(series.title, styles["Heading2"]), _image(chart_figure(series), width)]
    story += [PageBreak(), Paragraph("Monthly returns", styles["Heading2"]),
              _monthly_table(data.monthly, data.yearly, width), Spacer(1, 6 * mm),
              Paragraph("Trades", styles["Heading2"])]
    if data.trade_count > len(data.trades):
        story.append(Paragraph(f"The latest {len(data.trades)} of {data.trade_count} trades; the CSV export has "
                               "them all.", styles["Normal"]))
    if data.trades:
        story.append(_table([[name for name, _ in TRADE_COLUMNS], *data.trades],
                            [width * share for _, share in TRADE_COLUMNS], repeat_header=True))
        story.append(Paragraph("P&L, gross: the realized P&L of the fill's P&L before fees; the fee is beside it.",
                               styles["Italic"]))
    else:
        story.append(Paragraph("No trades in this period.", styles["Normal"]))
    document.build(story)
    return buffer.getvalue()


def chart_figure(series: ChartSeries) -> Figure:
    """The chart of one series: dates on x (padded around a single day, so matplotlib does not widen
    it to years), money with thousands separators or percent on y, never an offset such as ``+5e6``."""
    figure = Figure(figsize=(7.5, 3.0), dpi=110)
    axes = figure.add_subplot()
    if series.days:
        first, last = series.days[0], series.days[-1]
        padding = max(dt.timedelta(days=1), (last - first) / 50)
        axes.set_xlim(first - padding, last + padding)
        axes.plot(series.days, series.values, color="#2b6cb0", linewidth=1.2,
                  marker="o" if len(series.days) < 3 else None, markersize=3)
        if series.unit == "percent":
            axes.fill_between(series.days, series.values, 0, color="#e53e3e", alpha=0.3)
            axes.set_ylim(top=0, bottom=min(min(series.values) * 1.1, -0.001))
    else:
        axes.text(0.5, 0.5, "No history yet", ha="center", va="center", transform=axes.transAxes)
        axes.set_yticks([])
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    axes.yaxis.set_major_formatter(FuncFormatter(_percent_tick if series.unit == "percent" else _money_tick))
    axes.set_ylabel(series.ylabel)
    axes.grid(True, linewidth=0.3)
    figure.tight_layout()
    return figure


def _image(figure: Figure, width: float) -> Image:
    png = io.BytesIO()
    FigureCanvasAgg(figure).print_png(png)
    png.seek(0)
    return Image(png, width=width, height=width * 0.4)


def _money_tick(value: float, _position) -> str:
    return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"


def _percent_tick(value: float, _position) -> str:
    return f"{value * 100:.2f}%"


def _table(rows: list[list[str]], widths: list[float], *, repeat_header: bool = False,
           font_size: int = FONT_SIZE) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1 if repeat_header else 0)
    table.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#2d3748")),
        ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("FONTSIZE", (0, 0), (-1, -1), font_size),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#cbd5e0")),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f7fafc")]),
    ]))
    return table


def _monthly_table(monthly: dict[int, dict[int, str]], yearly: dict[int, str], width: float) -> Table | Paragraph:
    if not monthly:
        return Paragraph("Not enough equity history for monthly returns.", getSampleStyleSheet()["Normal"])
    rows = [["Year", *MONTHS, "Year"]]
    for year in sorted(monthly):
        months = monthly[year]
        rows.append([str(year), *[months.get(month, "") for month in range(1, 13)], yearly.get(year, "")])
    return _table(rows, [width / 14] * 14, font_size=FONT_SIZE - 1)


def money_text(value: str | None) -> str:
    """An API amount (decimal string) to cents with thousands separators; "n/a" when undefined."""
    return "n/a" if value is None else f"{Decimal(value):,.2f}"


def percent_text(value: str | None, *, undefined: str = "n/a") -> str:
    """An API fraction as a percentage with 2 decimals; one too small for 2 shows 4, never "-0.00%"."""
    if value is None:
        return undefined
    percent = Decimal(value) * 100
    places = 4 if percent and abs(percent) < Decimal("0.005") else 2
    text = f"{percent:.{places}f}"
    return f"{text.removeprefix('-') if not Decimal(text) else text}%"


def ratio_text(value: str | None, *, undefined: str = "n/a") -> str:
    return undefined if value is None else f"{Decimal(value):.2f}"


def duration_text(seconds: str | None) -> str:
    if seconds is None:
        return "n/a"
    span = dt.timedelta(seconds=round(float(seconds)))
    return f"{span.days} d {span.seconds // 3600} h {span.seconds % 3600 // 60} min"


def _difference(minuend: str | None, subtrahend: str | None) -> str | None:
    return None if minuend is None or subtrahend is None else f"{Decimal(minuend) - Decimal(subtrahend):f}"


def _day(moment: dt.datetime | None) -> str | None:
    return None if moment is None else f"{moment:%Y-%m-%d}"
