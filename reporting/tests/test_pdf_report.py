"""The PDF report (GET /api/history/export?format=pdf): every page renders, every figure is the
one the analytics API answers for the same window, the charts are drawn in money and dates from
the API's daily rows, and the trade list's columns hold what they show."""
import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone
from matplotlib import dates as mdates
from pypdf import PdfReader
from reportlab.pdfbase.pdfmetrics import stringWidth

from orders.services import OrderRequest, order_place
from orders.tests.books import (
    D,
    NOW,
    books_balance,  # noqa: F401 (autouse fixture)
    instruments,  # noqa: F401 (fixture)
    make_portfolio,
    publish_eth,
)
from portfolios.models import EquitySnapshot, Portfolio
from reporting.exports import pdf

pytestmark = pytest.mark.django_db
OPENED = datetime(2026, 8, 31, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


def opened_at(portfolio, moment):
    Portfolio.objects.filter(pk=portfolio.pk).update(created_at=moment)
    EquitySnapshot.objects.filter(portfolio=portfolio, reason="opened").update(taken_at=moment)
    portfolio.refresh_from_db()
    return portfolio


def trade(user, portfolio, side, quantity):
    order_place(user=user, portfolio_id=portfolio.pk, request=OrderRequest(
        symbol="ETH-USD", side=side, order_type="market", quantity=D(quantity)))


@pytest.fixture
def history(user, instruments, clock):  # noqa: F811
    """Three months of equity (+1.00% in September, −2.00% in October), then a round trip in ETH
    that gains before fees and loses after them."""
    publish_eth()
    portfolio = opened_at(make_portfolio(user, profile="realistic"), OPENED)
    for taken_at, equity in ((datetime(2026, 10, 1, tzinfo=UTC), "5050000"),
                             (datetime(2026, 11, 1, tzinfo=UTC), "4949000")):
        EquitySnapshot.objects.create(portfolio=portfolio, taken_at=taken_at, equity=D(equity), cash=D(equity),
                                      invested=D("5000000"), reason=EquitySnapshot.Reason.SCHEDULED)
    trade(user, portfolio, "buy", "1")
    publish_eth(bids=[("2000.50", "10")], asks=[("2001.00", "10")])
    trade(user, portfolio, "sell", "1")
    return portfolio


def api(client, endpoint, portfolio, **params):
    response = client.get(f"/api/analytics/{endpoint}", {"portfolio": str(portfolio.pk), **params})
    assert response.status_code == 200, response.content
    return response.json()


def report_pages(client, portfolio, **params) -> list[str]:
    response = client.get("/api/history/export", {"format": "pdf", "portfolio": str(portfolio.pk), **params})
    assert response.status_code == 200, response.content
    reader = PdfReader(io.BytesIO(response.content))
    return [" ".join(page.extract_text().split()) for page in reader.pages]


def test_every_page_renders_with_its_sections(auth_client, history):
    pages = report_pages(auth_client, history)

    assert len(pages) == 3
    assert all(page.strip() for page in pages)
    assert "Performance report" in pages[0] and "Summary" in pages[0]
    assert "Equity curve" in pages[1] and "Drawdown" in pages[1]
    assert "Monthly returns" in pages[2] and "Trades" in pages[2] and "ETH-USD" in pages[2]


def test_every_summary_figure_is_the_analytics_apis(auth_client, history):
    # Given what the analytics API answers for the portfolio
    performance = api(auth_client, "performance", history)
    metrics = api(auth_client, "metrics", history)
    statistics = api(auth_client, "trades", history)["statistics"]

    # When the report is rendered
    summary = report_pages(auth_client, history)[0]

    # Then each figure on its summary page is the API's, in money, percent or a ratio
    expected = {
        "Equity at the window's end": pdf.money_text(performance["summary"]["end_equity"]),
        "Total return (time-weighted)": pdf.percent_text(performance["summary"]["time_weighted_return"]),
        "Annual volatility": pdf.percent_text(metrics["metrics"]["annual_volatility"]),
        "Sharpe ratio": pdf.ratio_text(metrics["metrics"]["sharpe_ratio"]),
        "Calmar ratio": pdf.ratio_text(metrics["metrics"]["calmar_ratio"]),
        "Max drawdown": pdf.percent_text(metrics["metrics"]["max_drawdown"]),
        "Closed positions": str(statistics["position_count"]),
        "Win rate (net of fees)": pdf.percent_text(statistics["win_rate"]),
        "Profit factor (net of fees)": pdf.ratio_text(statistics["profit_factor"]),
        "Expectancy per position (net of fees)": pdf.money_text(statistics["expectancy"]),
        "Days of history": str(performance["summary"]["days"]),
    }
    for label, value in expected.items():
        assert f"{label} {value}" in summary, label
    # The round trip gained before fees and lost after them: the report counts it as the API does, a loss.
    assert statistics["position_count"] == 1 and statistics["win_rate"] == "0.00000000"
    assert "Win rate (net of fees) 0.00%" in summary
    assert D(statistics["expectancy"]) < 0


def test_monthly_returns_are_the_apis_calendar_returns(auth_client, history):
    end = "2026-11-01T00:00:01Z"
    monthly = api(auth_client, "performance", history, end=end)["calendar_returns"]["monthly"]
    pages = report_pages(auth_client, history, end=end)

    assert [(row["period_start"], row["return"]) for row in monthly] == [
        ("2026-09-01", "0.01000000"), ("2026-10-01", "-0.02000000")]
    assert "2026 1.00% -2.00%" in pages[2]


def test_a_short_history_prints_the_caveat_instead_of_annualised_ratios(auth_client, history):
    start = "2026-11-20T00:00:00Z"
    metrics = api(auth_client, "metrics", history, start=start)
    summary = report_pages(auth_client, history, start=start)[0]

    assert metrics["annualisation"]["applied"] is False and metrics["metrics"]["calmar_ratio"] is None
    assert "Calmar ratio n/a (short history)" in summary
    assert "Sharpe ratio n/a (short history)" in summary
    assert "Short history" in summary


def test_charts_draw_the_apis_daily_equity_and_drawdown_against_dates(auth_client, user, history):
    daily = api(auth_client, "performance", history)["daily"]
    max_drawdown = api(auth_client, "metrics", history)["metrics"]["max_drawdown"]
    data = pdf.report_data(user=user, portfolio=history, start=None, end=None)

    assert data.equity.days == [date.fromisoformat(row["date"]) for row in daily]
    assert data.equity.values == [float(row["equity"]) for row in daily]
    assert data.drawdown.values == [float(row["drawdown"]) for row in daily]
    assert min(data.drawdown.values) == pytest.approx(float(max_drawdown), abs=1e-8)
    assert min(data.drawdown.values) < -0.019  # October's fall of 2% below September's peak
    for series in (data.equity, data.drawdown):
        axes = pdf.chart_figure(series).axes[0]
        left, right = (mdates.num2date(limit).date() for limit in axes.get_xlim())
        assert left <= series.days[0] and series.days[-1] <= right
        assert (right - left) < (series.days[-1] - series.days[0]) + timedelta(days=10)
        assert axes.yaxis.get_offset_text().get_text() == ""
        labels = [axes.yaxis.get_major_formatter()(tick, index) for index, tick in enumerate(axes.get_yticks())]
        pattern = r"-?\d+\.\d\d%" if series.unit == "percent" else r"-?\d{1,3}(,\d{3})*(\.\d\d)?"
        assert all(re.fullmatch(pattern, label) for label in labels), labels


def test_one_day_of_history_keeps_the_date_axis_to_days(user, instruments, clock):  # noqa: F811
    series = pdf.ChartSeries(title="Drawdown", days=[date(2026, 11, 24)], values=[-0.0001], unit="percent",
                             ylabel="Below the running peak")

    axes = pdf.chart_figure(series).axes[0]

    left, right = (mdates.num2date(limit).date() for limit in axes.get_xlim())
    assert (left, right) == (date(2026, 11, 23), date(2026, 11, 25))
    assert axes.get_ylim()[0] < -0.0001 <= axes.get_ylim()[1] == 0


def test_trade_list_columns_hold_an_option_symbol_and_their_widest_values():
    widest = {"Executed (UTC)": "2026-11-24 15:00:02", "Symbol": "AAPL  261218C00200000", "Side": "sell",
              "Quantity": "123456.12345678", "Price": "123456.1234567890", "Fee": "123,456.78",
              "P&L, gross": "-12,345,678.90"}
    for name, share in pdf.TRADE_COLUMNS:
        for text in (name, widest[name]):
            assert stringWidth(text, pdf.FONT, pdf.FONT_SIZE) + pdf.CELL_PADDING <= pdf.PAGE_WIDTH * share, text


def test_percentages_never_print_negative_zero():
    assert pdf.percent_text("-0.00000400") == "-0.0004%"
    assert pdf.percent_text("-0.00000000") == "0.00%"
    assert pdf.percent_text("0.01000000") == "1.00%"
    assert pdf.percent_text(None, undefined="n/a (short history)") == "n/a (short history)"
