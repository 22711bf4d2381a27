"""The analytics endpoints (spec §8, §14): hand-worked time-weighted returns with top-ups, metrics
against empyrical on the same series, trade statistics and attribution from real fills, windows,
ownership and the cache."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import empyrical
import numpy as np
import pandas as pd
import pytest
from django.utils import timezone

from haunt.market.models import Candle, Instrument
from orders.models import Trade
from orders.services import OrderRequest, order_place
from orders.tests.books import instruments, publish, publish_eth  # noqa: F401  (fixture: the traded instruments)
from portfolios.models import EquitySnapshot, Portfolio, Position
from portfolios.services import equity_snapshots_take_all, portfolio_create, portfolio_topup, portfolio_update
from reporting.analytics.selectors import AnalyticsQuery, analytics_trades_for_user

pytestmark = pytest.mark.django_db
D = Decimal
PLACES = D("0.00000001")
FILL_TIME = datetime(2026, 11, 24, 15, 0, 2, tzinfo=UTC)
HISTORY_START = datetime(2026, 6, 1, tzinfo=UTC)  # a Monday, long before the fills above
HISTORY_DAYS = 60


def fraction(value: Decimal) -> str:
    return f"{value.quantize(PLACES):f}"


def get(client, endpoint, portfolio, **params):
    return client.get(f"/api/analytics/{endpoint}", {"portfolio": str(portfolio.pk), **params})


def buy(user, portfolio, symbol, quantity, side="buy", tags=()):
    order, _ = order_place(user=user, portfolio_id=portfolio.pk, now=FILL_TIME, request=OrderRequest(
        symbol=symbol, side=side, order_type="market", quantity=D(quantity), tags=tuple(tags)))
    return order


def opened_before_the_fills(portfolio):
    """Date the portfolio's opening a day before FILL_TIME, so fills at that fixed instant (when
    NYSE is open) fall inside its track record whatever the time of day the tests run."""
    opened = FILL_TIME - timedelta(days=1)
    Portfolio.objects.filter(pk=portfolio.pk).update(created_at=opened)
    EquitySnapshot.objects.filter(portfolio=portfolio, reason="opened").update(taken_at=opened)
    portfolio.refresh_from_db()
    return portfolio


@pytest.fixture
def trader(user, instruments):  # noqa: F811
    return opened_before_the_fills(portfolio_create(
        user=user, name="Trader", starting_balance=D("5000000"), realism_profile="frictionless",
        simulate_latency=False))


# --------------------------------------------------------------------------- time-weighted return


def test_topup_is_not_profit(auth_client, user, trader):
    # Given a portfolio of cash only, topped up by 1,000,000
    portfolio_topup(user=user, portfolio_id=trader.pk, amount=D("1000000"))

    # When its performance is read
    body = get(auth_client, "performance", trader).json()

    # Then equity grew by the deposit, but neither profit nor return counts it
    assert body["summary"] == {
        "start_equity": "5000000.00000000", "end_equity": "6000000.00000000", "net_cash_flow": "1000000.00000000",
        "profit": "0.00000000", "time_weighted_return": "0.00000000", "benchmark_return": None, "days": 1,
    }
    snapshot = EquitySnapshot.objects.filter(portfolio=trader).latest("taken_at")
    assert (snapshot.reason, snapshot.cash_flow, snapshot.equity) == ("topup", D("1000000"), D("6000000"))


def test_time_weighted_return_chains_around_a_topup(auth_client, user, trader):
    # Given 10 ETH bought at the 2000 ask and marked at the 1999 bid
    publish_eth()
    buy(user, trader, "ETH-USD", "10")
    fee = Trade.objects.get(portfolio=trader).fee
    cash = D("5000000") - D("20000") - fee
    equity_after_fill = cash + 10 * D("1999")
    # …the bid rises to 2099 (scheduled snapshot), 1,000,000 is added, and the bid rises to 2199
    publish_eth(bids=[("2099.00", "5")], asks=[("2100.00", "5")])
    equity_snapshots_take_all(now=timezone.now())
    equity_before_topup = cash + 10 * D("2099")
    portfolio_topup(user=user, portfolio_id=trader.pk, amount=D("1000000"))
    publish_eth(bids=[("2199.00", "5")], asks=[("2200.00", "5")])
    equity_snapshots_take_all(now=timezone.now())
    final_equity = cash + D("1000000") + 10 * D("2199")

    # When its performance is read
    body = get(auth_client, "performance", trader).json()

    # Then each period's return excludes the deposit and the periods chain
    growth = (equity_after_fill / D("5000000")) * (equity_before_topup / equity_after_fill) \
        * ((equity_before_topup + D("1000000") - D("1000000")) / equity_before_topup) \
        * (final_equity / (equity_before_topup + D("1000000")))
    summary = body["summary"]
    assert summary["time_weighted_return"] == fraction(growth - 1)
    assert summary["end_equity"] == fraction(final_equity)
    assert summary["profit"] == fraction(final_equity - D("5000000") - D("1000000"))
    assert body["daily"][-1]["cumulative_return"] == fraction(growth - 1)
    assert body["conventions"]["periods_per_year"] == 365  # crypto only
    assert body["conventions"]["benchmark"] == "BTC-USD"


# --------------------------------------------------------------------------- metrics against empyrical


@pytest.fixture
def daily_history(user, trader):
    """60 day closes of a random equity path from HISTORY_START with a 1,000,000 top-up on day 20
    and a 250,000 withdrawal on day 40, and SOL-USD hourly candles closing each day as the benchmark.
    Returns (expected daily returns, benchmark daily returns)."""
    rng = np.random.default_rng(11)
    returns = rng.normal(0.001, 0.02, HISTORY_DAYS)
    flows = np.zeros(HISTORY_DAYS)
    flows[19], flows[39] = 1_000_000.0, -250_000.0
    equity = [D("5000000")]
    snapshots = []
    for day in range(HISTORY_DAYS):
        value = (equity[-1] * D(str(1 + returns[day])) + D(str(flows[day]))).quantize(PLACES)
        equity.append(value)
        snapshots.append(EquitySnapshot(
            portfolio=trader, taken_at=HISTORY_START + timedelta(days=day + 1), equity=value, cash=value,
            invested=D("5000000"), cash_flow=D(str(flows[day])), reason=EquitySnapshot.Reason.DAY_CLOSE))
    Portfolio.objects.filter(pk=trader.pk).update(created_at=HISTORY_START)
    EquitySnapshot.objects.filter(portfolio=trader).update(taken_at=HISTORY_START)
    EquitySnapshot.objects.bulk_create(snapshots)
    # The exact return of each day from the rounded equities the snapshots hold.
    expected = np.array([float((equity[day + 1] - D(str(flows[day]))) / equity[day] - 1)
                         for day in range(HISTORY_DAYS)])

    solana = Instrument.objects.get(symbol="SOL-USD")
    closes = 150 * np.cumprod(1 + rng.normal(0.0, 0.03, HISTORY_DAYS + 1))
    Candle.objects.bulk_create([
        Candle(instrument=solana, resolution=Candle.Resolution.HOUR,
               start=HISTORY_START + timedelta(days=day - 1, hours=23),
               open=D("150"), high=D("1000"), low=D("1"), close=D(f"{close:.2f}"), volume=D("1"))
        for day, close in enumerate(closes)
    ])
    rounded = np.array([float(f"{close:.2f}") for close in closes])
    portfolio_update(user=user, portfolio_id=trader.pk, benchmark_symbol="SOL-USD", risk_free_rate=D("0.04"))
    # A real ETH position makes the portfolio crypto-only (365 periods a year); it fills after the window.
    publish_eth()
    buy(user, trader, "ETH-USD", "1")
    return expected, rounded[1:] / rounded[:-1] - 1


def test_metrics_match_empyrical(auth_client, trader, daily_history):
    returns, benchmark = daily_history
    end = (HISTORY_START + timedelta(days=HISTORY_DAYS)).isoformat()

    body = get(auth_client, "metrics", trader, end=end).json()

    series = pd.Series(returns, index=pd.date_range("2026-06-01", periods=HISTORY_DAYS, tz="UTC"))
    factor = pd.Series(benchmark, index=series.index)
    risk_free = 1.04 ** (1 / 365) - 1
    alpha, beta = empyrical.alpha_beta(series, factor, risk_free=risk_free, annualization=365)
    expected = {
        "cumulative_return": empyrical.cum_returns_final(series),
        "annual_return": empyrical.annual_return(series, annualization=365),
        "annual_volatility": empyrical.annual_volatility(series, annualization=365),
        "sharpe_ratio": empyrical.sharpe_ratio(series, risk_free=risk_free, annualization=365),
        "sortino_ratio": empyrical.sortino_ratio(series, required_return=risk_free, annualization=365),
        "downside_risk": empyrical.downside_risk(series, required_return=risk_free, annualization=365),
        "calmar_ratio": empyrical.calmar_ratio(series, annualization=365),
        "max_drawdown": empyrical.max_drawdown(series),
        "alpha": alpha,
        "beta": beta,
        "r_squared": np.corrcoef(returns, benchmark)[0, 1] ** 2,
        "information_ratio": empyrical.excess_sharpe(series, factor) * np.sqrt(365),
    }
    metrics = body["metrics"]
    for name, value in expected.items():
        assert float(metrics[name]) == pytest.approx(value, rel=1e-7, abs=1e-8), name
    assert metrics["observations"] == HISTORY_DAYS
    assert body["conventions"]["periods_per_year"] == 365
    assert body["conventions"]["annual_risk_free_rate"] == "0.04000000"
    assert body["conventions"]["benchmark"] == "SOL-USD"
    episodes = body["drawdown"]["episodes"]
    assert min(float(episode["depth"]) for episode in episodes) == pytest.approx(expected["max_drawdown"], abs=1e-8)


@pytest.mark.parametrize(("days", "annualised"), [(29, False), (30, True)])
def test_annualised_figures_wait_for_thirty_daily_returns(auth_client, trader, daily_history, days, annualised):
    # Given a window of 29 or 30 daily returns
    end = (HISTORY_START + timedelta(days=days)).isoformat()

    # When its metrics are read
    body = get(auth_client, "metrics", trader, end=end).json()

    # Then the annualised figures show only from 30 on, and a short window says why they are null
    metrics = body["metrics"]
    assert metrics["observations"] == days
    for name in ("annual_return", "annual_volatility", "sharpe_ratio", "sortino_ratio", "downside_risk",
                 "calmar_ratio", "alpha", "information_ratio"):
        assert (metrics[name] is not None) is annualised, name
    assert metrics["cumulative_return"] is not None and metrics["max_drawdown"] is not None
    assert body["annualisation"]["minimum_observations"] == 30
    assert body["annualisation"]["applied"] is annualised
    assert (body["annualisation"]["note"] is None) is annualised


def test_performance_window_and_benchmark(auth_client, trader, daily_history):
    returns, benchmark = daily_history
    start = HISTORY_START + timedelta(days=10)
    end = HISTORY_START + timedelta(days=30)

    body = get(auth_client, "performance", trader, start=start.isoformat(), end=end.isoformat()).json()

    # The window holds days 10 to 29 (the snapshot at `start` closes day 9 and is the base).
    window = returns[10:30]
    assert body["summary"]["days"] == 20
    assert [row["date"] for row in body["daily"]][:2] == ["2026-06-11", "2026-06-12"]
    assert float(body["summary"]["time_weighted_return"]) == pytest.approx(np.prod(1 + window) - 1, abs=1e-8)
    assert float(body["summary"]["benchmark_return"]) == pytest.approx(np.prod(1 + benchmark[10:30]) - 1, abs=1e-8)
    assert float(body["summary"]["net_cash_flow"]) == 1_000_000.0
    monthly = body["calendar_returns"]["monthly"]
    assert [row["period_start"] for row in monthly] == ["2026-06-01"]
    assert float(monthly[0]["return"]) == pytest.approx(np.prod(1 + window) - 1, abs=1e-8)
    trailing = body["period_returns"]["portfolio"]
    assert float(trailing["trailing_7_days"]) == pytest.approx(np.prod(1 + returns[23:30]) - 1, abs=1e-8)
    assert trailing["trailing_30_days"] is None  # the window holds only 20 days


def test_risk_free_rate_from_the_query(auth_client, trader, daily_history):
    returns, _ = daily_history
    end = (HISTORY_START + timedelta(days=HISTORY_DAYS)).isoformat()

    body = get(auth_client, "metrics", trader, end=end, risk_free_rate="0").json()

    series = pd.Series(returns)
    assert body["conventions"]["annual_risk_free_rate"] == "0.00000000"
    assert float(body["metrics"]["sharpe_ratio"]) == pytest.approx(
        empyrical.sharpe_ratio(series, annualization=365), rel=1e-7)


# --------------------------------------------------------------------------- trades and attribution


def test_trade_statistics_by_closed_position(auth_client, user, trader):
    # Given an ETH round trip that gains (buy at 2000, sell at 2099) and a SOL one that loses
    publish_eth()
    buy(user, trader, "ETH-USD", "2")
    publish_eth(bids=[("2099.00", "5")], asks=[("2100.00", "5")])
    buy(user, trader, "ETH-USD", "2", side="sell")
    publish("SOL-USD", bids=[("150.00", "100")], asks=[("150.10", "100")])
    buy(user, trader, "SOL-USD", "10")
    publish("SOL-USD", bids=[("140.00", "100")], asks=[("140.10", "100")])
    buy(user, trader, "SOL-USD", "10", side="sell")

    body = get(auth_client, "trades", trader).json()

    positions = {position.instrument.symbol: position
                 for position in Position.objects.filter(portfolio=trader).select_related("instrument")}
    assert positions["ETH-USD"].realized_pnl == D("198")  # 2 × (2099 − 2000), before fees
    assert positions["SOL-USD"].realized_pnl == D("-101")  # 10 × (140 − 150.10)
    net = {symbol: position.realized_pnl - position.fees_paid for symbol, position in positions.items()}
    statistics = body["statistics"]
    assert (statistics["position_count"], statistics["win_count"], statistics["loss_count"]) == (2, 1, 1)
    assert statistics["win_rate"] == "0.50000000"
    assert statistics["largest_win"] == fraction(net["ETH-USD"])
    assert statistics["largest_loss"] == fraction(-net["SOL-USD"])
    assert statistics["profit_factor"] == fraction(net["ETH-USD"] / -net["SOL-USD"])
    assert statistics["expectancy"] == fraction((net["ETH-USD"] + net["SOL-USD"]) / 2)
    assert statistics["average_holding_seconds"] == "0.00000000"  # every fill at FILL_TIME


def test_attribution_by_instrument_asset_class_and_tag(auth_client, user, trader):
    publish_eth()
    buy(user, trader, "ETH-USD", "2", tags=["momentum"])
    publish_eth(bids=[("2099.00", "5")], asks=[("2100.00", "5")])
    buy(user, trader, "ETH-USD", "2", side="sell", tags=["momentum", "swing"])
    publish("AAPL", bids=[("200.00", "100")], asks=[("200.05", "100")])
    buy(user, trader, "AAPL", "10")

    body = get(auth_client, "attribution", trader).json()

    # ETH: closed, 2 × (2099 − 2000) realized. AAPL: open, bought at the 200.05 ask and marked at
    # the 200.00 bid, 10 × −0.05 unrealized; the order has no tag.
    eth_fees = sum(Trade.objects.filter(instrument__symbol="ETH-USD").values_list("fee", flat=True), D(0))
    aapl_fee = Trade.objects.get(instrument__symbol="AAPL").fee
    rows = {row["symbol"]: row for row in body["by_instrument"]}
    assert rows["ETH-USD"]["price_move"] == "198.00000000"
    assert rows["ETH-USD"]["fees"] == fraction(eth_fees)
    assert rows["ETH-USD"]["net_pnl"] == fraction(D("198") - eth_fees)
    assert rows["ETH-USD"]["contribution"] == fraction((D("198") - eth_fees) / D("5000000"))
    assert (rows["AAPL"]["asset_class"], rows["AAPL"]["items"], rows["AAPL"]["price_move"]) == (
        "stock", 2, "-0.50000000")  # the fill and the open position
    assert rows["AAPL"]["net_pnl"] == fraction(D("-0.5") - aapl_fee)
    classes = {row["asset_class"]: row["net_pnl"] for row in body["by_asset_class"]}
    assert classes == {"crypto_spot": fraction(D("198") - eth_fees), "stock": fraction(D("-0.5") - aapl_fee)}
    tags = {row["tag"]: (row["items"], row["price_move"]) for row in body["by_strategy_tag"]}
    assert tags == {"momentum": (2, "198.00000000"), "swing": (1, "198.00000000"), "untagged": (2, "-0.50000000")}
    assert body["total"]["net_pnl"] == fraction(D("198") - eth_fees - D("0.5") - aapl_fee)
    assert body["capital"] == "5000000.00000000"
    # Over the whole track record (no top-ups) the attribution reconciles with the equity's change.
    assert body["total"]["net_pnl"] == get(auth_client, "performance", trader).json()["summary"]["profit"]


# --------------------------------------------------------------------------- access, input, cache


@pytest.mark.parametrize("endpoint", ["performance", "metrics", "attribution", "trades"])
def test_someone_elses_portfolio_is_404(other_client, trader, endpoint):
    response = get(other_client, endpoint, trader)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("params, field, code", [
    ({"portfolio": None}, "portfolio", "required"),
    ({"portfolio": "not-a-uuid"}, "portfolio", "invalid"),
    ({"start": "2026-11-02T00:00:00Z", "end": "2026-11-01T00:00:00Z"}, "start", "invalid_range"),
    ({"benchmark": "SPY"}, "benchmark", "unknown_field"),
])
def test_bad_query_is_400(auth_client, trader, params, field, code):
    query = {key: value for key, value in {"portfolio": str(trader.pk), **params}.items() if value is not None}
    response = auth_client.get("/api/analytics/metrics", query)
    assert response.status_code == 400
    assert (response.json()["error"]["field"], response.json()["error"]["code"]) == (field, code)


def test_cached_until_a_new_trade(user, trader, django_assert_num_queries):
    publish_eth()
    query = AnalyticsQuery()
    first = analytics_trades_for_user(user=user, portfolio_id=trader.pk, query=query)
    with django_assert_num_queries(1):  # the ownership check only: the payload comes from the cache
        assert analytics_trades_for_user(user=user, portfolio_id=trader.pk, query=query) == first

    buy(user, trader, "ETH-USD", "1")
    buy(user, trader, "ETH-USD", "1", side="sell")

    assert first["statistics"]["position_count"] == 0
    after = analytics_trades_for_user(user=user, portfolio_id=trader.pk, query=query)
    assert after["statistics"]["position_count"] == 1


def test_day_close_snapshot_is_taken_once_a_day(trader):
    midnight = datetime(2026, 11, 25, tzinfo=UTC)

    assert equity_snapshots_take_all(now=midnight + timedelta(seconds=1), reason="day_close") == 1
    assert equity_snapshots_take_all(now=midnight + timedelta(minutes=3), reason="day_close") == 0

    assert EquitySnapshot.objects.filter(portfolio=trader, reason="day_close").count() == 1


def test_embedded_scheduler_runs_the_day_close_job(trader):
    from haunt.scheduler import beat_entries

    task, schedule = beat_entries()["snapshot-equity-day-close"]
    task.apply()  # what the in-process scheduler does when the entry is due

    assert (task.name, schedule.hour, schedule.minute) == ("portfolios.snapshot_equity_day_close", {0}, {0})
    assert EquitySnapshot.objects.filter(portfolio=trader, reason="day_close").count() == 1


def test_fresh_portfolio_has_no_figures_yet(auth_client, trader):
    performance = get(auth_client, "performance", trader).json()
    metrics = get(auth_client, "metrics", trader).json()
    attribution = get(auth_client, "attribution", trader).json()

    assert performance["summary"]["days"] == 0 and performance["daily"] == []
    assert performance["period_returns"] is None
    assert performance["calendar_returns"] == {"weekly": [], "monthly": [], "quarterly": [], "yearly": []}
    assert metrics["metrics"]["observations"] == 0 and metrics["metrics"]["sharpe_ratio"] is None
    assert metrics["drawdown"]["episodes"] == []
    assert attribution["by_instrument"] == [] and attribution["total"]["net_pnl"] == "0.00000000"


def test_slippage_is_a_cost_apart_from_the_price_move(auth_client, user, instruments):  # noqa: F811
    publish_eth()
    realistic = opened_before_the_fills(
        portfolio_create(user=user, name="Realistic", starting_balance=D("5000000"), simulate_latency=False))
    buy(user, realistic, "ETH-USD", "20")  # walks past the first ask level
    publish_eth(bids=[("1999.00", "5"), ("1998.00", "5"), ("1997.00", "95")])
    buy(user, realistic, "ETH-USD", "20", side="sell")
    assert not Position.objects.filter(portfolio=realistic, status="open").exists()

    total = get(auth_client, "attribution", realistic).json()["total"]

    trades = Trade.objects.filter(portfolio=realistic)
    slippage = sum((trade.slippage for trade in trades), D(0))
    realized = sum((trade.realized_pnl for trade in trades), D(0))
    fees = sum((trade.fee for trade in trades), D(0))
    assert slippage > 0
    assert total["slippage"] == fraction(slippage)
    assert total["price_move"] == fraction(realized + slippage)
    assert total["net_pnl"] == fraction(realized - fees)


def test_a_reset_starts_a_new_track_record(auth_client, user, trader):
    from orders.services import portfolio_reset_trading

    # Given a closed ETH round trip and an open position, both a minute before the reset (crypto
    # trades at any hour, so the fills can be dated by the real clock the reset reads)
    publish_eth()
    a_minute_ago = timezone.now() - timedelta(minutes=1)
    for side, quantity in (("buy", "2"), ("sell", "2"), ("buy", "1")):
        order_place(user=user, portfolio_id=trader.pk, now=a_minute_ago, request=OrderRequest(
            symbol="ETH-USD", side=side, order_type="market", quantity=D(quantity)))
    assert get(auth_client, "trades", trader).json()["statistics"]["position_count"] == 1
    portfolio_reset_trading(user=user, portfolio_id=trader.pk)
    trader.refresh_from_db()

    performance = get(auth_client, "performance", trader).json()
    trades = get(auth_client, "trades", trader).json()

    assert performance["start"] == trader.last_reset_at.isoformat().replace("+00:00", "Z")
    assert performance["summary"]["start_equity"] == "5000000.00000000"
    assert performance["summary"]["days"] == 0
    assert trades["statistics"]["position_count"] == 0  # neither the closed nor the wiped position


def test_embedded_scheduler_leaves_out_an_entry_without_a_task(settings, capfd):
    from haunt.scheduler import beat_entries

    settings.CELERY_BEAT_SCHEDULE = {**settings.CELERY_BEAT_SCHEDULE,
                                     "typo": {"task": "portfolios.no_such_task", "schedule": 60.0}}

    entries = beat_entries()

    assert "typo" not in entries and "snapshot-equity-day-close" in entries
    assert "names no registered task 'portfolios.no_such_task'" in capfd.readouterr().err


def test_a_stock_portfolio_counts_nyse_sessions(auth_client, user, trader):
    # Given a portfolio holding a stock, with day closes from Friday 2026-07-31 to Tuesday 2026-08-04:
    # +1% on Friday, +2% over Saturday and Sunday together, +1% on Monday, nothing on Tuesday
    publish("AAPL", bids=[("200.00", "100")], asks=[("200.05", "100")])
    buy(user, trader, "AAPL", "1")
    start = datetime(2026, 7, 31, tzinfo=UTC)
    Portfolio.objects.filter(pk=trader.pk).update(created_at=start)
    EquitySnapshot.objects.filter(portfolio=trader, reason="opened").update(taken_at=start)
    closes = [D("5050000"), D("5100500"), D("5151000"), D("5202510"), D("5202510")]  # Sat, Sun, Mon, Tue, Wed 00:00
    EquitySnapshot.objects.bulk_create([
        EquitySnapshot(portfolio=trader, taken_at=start + timedelta(days=day + 1), equity=equity, cash=equity,
                       invested=D("5000000"), reason=EquitySnapshot.Reason.DAY_CLOSE)
        for day, equity in enumerate(closes)])

    body = get(auth_client, "performance", trader, end="2026-08-05T00:00:00Z").json()

    # Then the weekend's P&L lands on Monday's session and a year has 252 periods
    assert body["conventions"]["periods_per_year"] == 252
    assert body["conventions"]["calendar"] == "NYSE trading sessions"
    assert [(row["date"], row["return"]) for row in body["daily"]] == [
        ("2026-07-31", "0.01000000"),
        ("2026-08-03", fraction(D("5202510") / D("5050000") - 1)),  # Saturday + Sunday + Monday
        ("2026-08-04", "0.00000000"),
    ]


def test_trades_and_attribution_windows(auth_client, user, trader):
    # Given an ETH round trip executed at FILL_TIME
    publish_eth()
    buy(user, trader, "ETH-USD", "1")
    buy(user, trader, "ETH-USD", "1", side="sell")
    before, after = FILL_TIME - timedelta(hours=1), FILL_TIME + timedelta(hours=1)

    # Then a window ending before it holds nothing, and one around it holds both fills
    empty = {"start": (before - timedelta(hours=1)).isoformat(), "end": before.isoformat()}
    around = {"start": before.isoformat(), "end": after.isoformat()}
    assert get(auth_client, "trades", trader, **empty).json()["statistics"]["position_count"] == 0
    assert get(auth_client, "attribution", trader, **empty).json()["by_instrument"] == []
    assert get(auth_client, "trades", trader, **around).json()["statistics"]["position_count"] == 1
    attribution = get(auth_client, "attribution", trader, **around).json()
    assert attribution["by_instrument"][0]["items"] == 2
    assert attribution["conventions"]["marked_at"] is None


def test_position_charges_are_attributed_to_their_instrument(auth_client, user, trader):
    from django.db import transaction

    from derivatives.models import Liquidation
    from portfolios.selectors import portfolio_get
    from portfolios.services import ledger_post

    # Given an open ETH position charged 5 of funding (booked against the position) and a 12.50
    # liquidation fee (booked against its liquidation record), and a borrow fee naming nothing
    publish_eth()
    buy(user, trader, "ETH-USD", "1")
    position = Position.objects.get(portfolio=trader)
    liquidation = Liquidation.objects.create(
        position=position, portfolio=trader, kind="partial", margin_mode="cross", side="long", quantity=D("0.1"),
        mark_price=D("1999"), margin_ratio=D("1.01"), realized_pnl=D("0"), fee=D("12.5"))
    with transaction.atomic():
        locked = portfolio_get(portfolio_id=trader.pk, for_update=True)
        ledger_post(portfolio=locked, amount=D("-5"), kind="funding", reference=str(position.pk))
        ledger_post(portfolio=locked, amount=D("-12.5"), kind="liquidation", reference=str(liquidation.pk))
        ledger_post(portfolio=locked, amount=D("-1"), kind="borrow_fee", reference="not-a-position")
        locked.save(update_fields=["cash", "updated_at"])

    body = get(auth_client, "attribution", trader).json()

    rows = {row["symbol"]: row for row in body["by_instrument"]}
    assert (rows["ETH-USD"]["funding"], rows["ETH-USD"]["liquidation_penalties"]) == ("5.00000000", "12.50000000")
    assert (rows["unassigned"]["borrow_fees"], rows["unassigned"]["items"]) == ("1.00000000", 1)
    assert body["total"]["liquidation_penalties"] == "12.50000000"


def test_funding_paid_counts_against_a_closed_position(auth_client, user, trader):
    publish_eth()
    buy(user, trader, "ETH-USD", "1")
    Position.objects.filter(portfolio=trader).update(funding_paid=D("7"))  # as derivatives' funding_pay books it
    buy(user, trader, "ETH-USD", "1", side="sell")

    statistics = get(auth_client, "trades", trader).json()["statistics"]

    position = Position.objects.get(portfolio=trader)
    assert position.realized_pnl == D("-1")  # bought at the 2000 ask, sold at the 1999 bid
    assert statistics["largest_loss"] == fraction(1 + position.fees_paid + 7)


def test_migration_books_earlier_topups_with_the_next_snapshot(user, trader):
    import importlib

    from django.apps import apps

    # Given snapshots from before top-ups were snapshotted: invested rose by 250,000 between two
    # of them, and a reset brought it back down (a new track record, not a withdrawal)
    migration = importlib.import_module("portfolios.migrations.0005_analytics_settings_and_cash_flow")
    opened = EquitySnapshot.objects.get(portfolio=trader)
    rows = [(1, "scheduled", "5000000"), (2, "scheduled", "5250000"), (3, "fill", "5250000"), (4, "reset", "5000000")]
    EquitySnapshot.objects.bulk_create([
        EquitySnapshot(portfolio=trader, taken_at=opened.taken_at + timedelta(hours=hour), equity=D(invested),
                       cash=D(invested), invested=D(invested), reason=reason) for hour, reason, invested in rows])

    migration.cash_flow_from_invested(apps, None)

    snapshots = EquitySnapshot.objects.filter(portfolio=trader).order_by("taken_at")
    assert list(snapshots.values_list("cash_flow", flat=True)) == [0, 0, D("250000"), 0, 0]
