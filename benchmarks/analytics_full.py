"""Full portfolio analytics for a large portfolio (spec §8; target: under 200 ms).

The portfolio has 5 years of history with an equity snapshot at each of 100,000 fills and at
every UTC midnight, 60 top-ups and withdrawals, 100,000 closed positions and 100,000 fills over
200 instruments, 6 asset classes and 10 strategy tags, and 5 years of hourly benchmark candles.
One run builds the four payloads the analytics endpoints return, exactly as they do
(reporting.analytics.reports: time-weighted returns, daily resampling, benchmark alignment, period,
calendar and trailing returns, every risk metric, drawdown episodes, trade statistics, attribution
with the cost breakdown, and the decimal-string formatting), then renders them to JSON. Loading
the arrays from the database is not included: the endpoint caches its payload per portfolio
version, so that cost is paid once per new fill.

Run: .venv/bin/python benchmarks/analytics_full.py [--repeat N] [--calendar nyse]
"""

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from haunt.market.calendars import calendar_for  # noqa: E402
from reporting.analytics import kernels, reports  # noqa: E402
from reporting.analytics.reports import (  # noqa: E402
    BenchmarkHistory,
    ClosedPositions,
    Conventions,
    EquityHistory,
    PnlItems,
)

YEARS = 5
TRADE_COUNT = 100_000
FLOW_COUNT = 60
INSTRUMENT_COUNT = 200
ASSET_CLASSES = ["crypto_spot", "stock", "etf", "perpetual", "option", "forex"]
STRATEGY_TAGS = np.array([f"strategy-{number}" for number in range(10)])
START = np.datetime64("2020-01-01T00:00:00", "s")
STARTING_EQUITY = 5_000_000.0
ANNUAL_RISK_FREE = 0.04
MICROSECONDS = 1_000_000


def build_portfolio(seed: int = 2024) -> dict:
    rng = np.random.default_rng(seed)
    day_count = YEARS * 365 + 1
    span_seconds = day_count * kernels.SECONDS_PER_DAY
    start_second = START.astype(np.int64)

    trade_seconds = start_second + np.sort(rng.integers(1, span_seconds, TRADE_COUNT))
    midnight_seconds = start_second + np.arange(day_count + 1) * kernels.SECONDS_PER_DAY
    snapshot_seconds = np.unique(np.concatenate((trade_seconds, midnight_seconds)))

    # Each flow is booked with a snapshot taken when it happened, as the service records them.
    flow_snapshot = np.sort(rng.choice(np.arange(1, snapshot_seconds.size), FLOW_COUNT, replace=False))
    flow_amounts = rng.choice([-1.0, 1.0], FLOW_COUNT, p=[0.3, 0.7]) * rng.uniform(10_000, 500_000, FLOW_COUNT)
    cash_flow = np.zeros(snapshot_seconds.size)
    cash_flow[flow_snapshot] = flow_amounts

    snapshot_gap_days = np.diff(snapshot_seconds, prepend=snapshot_seconds[0]) / kernels.SECONDS_PER_DAY
    market = rng.normal(0.0004 * snapshot_gap_days, 0.015 * np.sqrt(snapshot_gap_days))
    equity = np.empty(snapshot_seconds.size)
    equity[0] = STARTING_EQUITY
    for index in range(1, equity.size):  # setup only; the flows make the recurrence sequential
        equity[index] = equity[index - 1] * (1 + market[index]) + cash_flow[index]

    bar_ends = start_second + np.arange(1, day_count * 24 + 1) * 3600
    benchmark_closes = 100 * np.cumprod(1 + rng.normal(0.00002, 0.007, bar_ends.size))

    pnl = rng.normal(150.0, 4_000.0, TRADE_COUNT)
    pnl[rng.random(TRADE_COUNT) < 0.02] = 0.0
    fees = np.abs(rng.normal(12.0, 4.0, TRADE_COUNT))
    slippage = np.abs(rng.normal(6.0, 3.0, TRADE_COUNT))
    funding = rng.normal(1.0, 5.0, TRADE_COUNT)
    borrow_fees = np.where(rng.random(TRADE_COUNT) < 0.1, rng.uniform(0, 20, TRADE_COUNT), 0.0)
    liquidation_penalties = np.where(rng.random(TRADE_COUNT) < 0.005, rng.uniform(100, 5000, TRADE_COUNT), 0.0)
    price_move = pnl + fees + slippage + funding + borrow_fees + liquidation_penalties
    # One or two order tags per fill, exploded into (row, tag) pairs as the service passes them.
    second_tag = rng.random(TRADE_COUNT) < 0.2
    tag_rows = np.concatenate((np.arange(TRADE_COUNT), np.flatnonzero(second_tag)))
    tag_codes = rng.integers(0, STRATEGY_TAGS.size, tag_rows.size)

    return {
        "history": EquityHistory(times_us=snapshot_seconds * MICROSECONDS, equity=equity, cash_flow=cash_flow),
        "benchmark": BenchmarkHistory(symbol="SPY", bar_end_seconds=bar_ends, closes=benchmark_closes),
        "closed": ClosedPositions(net_pnl=pnl - fees, holding_seconds=rng.exponential(6 * 3600, TRADE_COUNT)),
        "items": PnlItems(
            instrument=rng.integers(0, INSTRUMENT_COUNT, TRADE_COUNT),
            symbols=[f"SYMBOL-{number}" for number in range(INSTRUMENT_COUNT)],
            asset_classes=[ASSET_CLASSES[number % len(ASSET_CLASSES)] for number in range(INSTRUMENT_COUNT)],
            costs=np.column_stack((price_move, fees, slippage, funding, borrow_fees, liquidation_penalties)),
            tag_rows=tag_rows,
            tag_codes=tag_codes,
            tags=STRATEGY_TAGS.tolist(),
        ),
    }


def conventions_for(calendar: str) -> Conventions:
    if calendar == "nyse":
        nyse = calendar_for("stock")
        session_days = np.array([session.close.astimezone(dt.UTC).date()
                                 for year in range(2020, 2020 + YEARS + 2) for session in nyse.sessions_in_year(year)],
                                dtype="datetime64[D]")
        periods_per_year = kernels.TRADING_PERIODS_PER_YEAR
    else:
        session_days, periods_per_year = None, kernels.CRYPTO_PERIODS_PER_YEAR
    return Conventions(currency="USD", periods_per_year=periods_per_year, annual_risk_free_rate=ANNUAL_RISK_FREE,
                       session_days=session_days, benchmark_symbol="SPY",
                       track_record_start=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))


def full_analytics(portfolio: dict, conventions: Conventions, stage_seconds: dict[str, list[float]]) -> dict:
    clock = time.perf_counter
    payloads: dict[str, dict] = {}

    def stage(name: str, started: float) -> float:
        now = clock()
        stage_seconds.setdefault(name, []).append(now - started)
        return now

    started = clock()
    payloads["performance"] = reports.performance_report(
        portfolio["history"], benchmark=portfolio["benchmark"], conventions=conventions)
    started = stage("performance payload", started)
    payloads["metrics"] = reports.metrics_report(
        portfolio["history"], benchmark=portfolio["benchmark"], conventions=conventions)
    started = stage("metrics payload", started)
    payloads["trades"] = reports.trades_report(portfolio["closed"])
    started = stage("trades payload", started)
    payloads["attribution"] = reports.attribution_report(portfolio["items"], capital=STARTING_EQUITY)
    started = stage("attribution payload", started)
    for payload in payloads.values():
        json.dumps(payload)
    stage("JSON rendering (x4)", started)
    return payloads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--calendar", choices=["crypto", "nyse"], default="crypto",
                        help="crypto: every calendar day, 365 a year; nyse: trading sessions, 252 a year")
    arguments = parser.parse_args()

    portfolio = build_portfolio()
    conventions = conventions_for(arguments.calendar)
    print(
        f"portfolio: {portfolio['history'].equity.size:,} equity snapshots over {YEARS} years, "
        f"{FLOW_COUNT} cash flows, {TRADE_COUNT:,} closed positions and fills, "
        f"{portfolio['benchmark'].closes.size:,} benchmark bars; calendar: {arguments.calendar}"
    )
    full_analytics(portfolio, conventions, {})  # warm-up: first-call imports and allocations

    stage_seconds: dict[str, list[float]] = {}
    totals = []
    for _ in range(arguments.repeat):
        started = time.perf_counter()
        payloads = full_analytics(portfolio, conventions, stage_seconds)
        totals.append(time.perf_counter() - started)

    print(
        f"full analytics (4 payloads), {arguments.repeat} runs: median {statistics.median(totals) * 1e3:.1f} ms, "
        f"min {min(totals) * 1e3:.1f} ms, max {max(totals) * 1e3:.1f} ms (target < 200 ms)"
    )
    for name, seconds in stage_seconds.items():
        print(f"  {name:<40} median {statistics.median(seconds) * 1e3:7.2f} ms")
    metrics = payloads["metrics"]
    trades = payloads["trades"]["statistics"]
    print(
        f"check: {len(payloads['performance']['daily'])} daily returns, "
        f"{len(metrics['drawdown']['episodes'])} drawdown episodes, max drawdown {metrics['metrics']['max_drawdown']}, "
        f"Sharpe {metrics['metrics']['sharpe_ratio']}, beta {metrics['metrics']['beta']}, "
        f"win rate {trades['win_rate']}, profit factor {trades['profit_factor']}, "
        f"{len(payloads['attribution']['by_instrument'])} instruments attributed"
    )


if __name__ == "__main__":
    main()
