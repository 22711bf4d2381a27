"""Full portfolio analytics for a large portfolio (spec §8; target: under 200 ms).

The portfolio has 5 years of history with an equity snapshot at each of 100,000 trades and at
every UTC midnight, 60 deposits and withdrawals, and 100,000 closed positions over 200
instruments, 6 asset classes and 10 strategy tags. One run computes everything the analytics
page shows: time-weighted returns, daily returns, every risk metric against a benchmark, period,
calendar and rolling returns for the portfolio and the benchmark, drawdown episodes, trade
statistics, and attribution by instrument, asset class and tag with the cost breakdown.

Run: .venv/bin/python benchmarks/analytics_full.py [--repeat N]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from portfolios import analytics  # noqa: E402

YEARS = 5
TRADE_COUNT = 100_000
FLOW_COUNT = 60
INSTRUMENT_COUNT = 200
ASSET_CLASS_COUNT = 6
STRATEGY_TAGS = np.array([f"strategy-{number}" for number in range(10)])
START = np.datetime64("2020-01-01T00:00:00", "s")
STARTING_EQUITY = 5_000_000.0
ANNUAL_RISK_FREE = 0.04


def build_portfolio(seed: int = 2024) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    day_count = YEARS * 365 + 1
    span_seconds = day_count * analytics.SECONDS_PER_DAY
    start_second = START.astype(np.int64)

    trade_seconds = start_second + np.sort(rng.integers(1, span_seconds, TRADE_COUNT))
    midnight_seconds = start_second + np.arange(day_count + 1) * analytics.SECONDS_PER_DAY
    snapshot_seconds = np.unique(np.concatenate((trade_seconds, midnight_seconds)))

    # Each flow is stamped with a snapshot taken when it happened, as the service records them.
    flow_snapshot = np.sort(rng.choice(np.arange(1, snapshot_seconds.size), FLOW_COUNT, replace=False))
    flow_amounts = rng.choice([-1.0, 1.0], FLOW_COUNT, p=[0.3, 0.7]) * rng.uniform(10_000, 500_000, FLOW_COUNT)
    flow_per_snapshot = np.zeros(snapshot_seconds.size)
    flow_per_snapshot[flow_snapshot] = flow_amounts

    snapshot_gap_days = np.diff(snapshot_seconds, prepend=snapshot_seconds[0]) / analytics.SECONDS_PER_DAY
    market = rng.normal(0.0004 * snapshot_gap_days, 0.015 * np.sqrt(snapshot_gap_days))
    equity = np.empty(snapshot_seconds.size)
    equity[0] = STARTING_EQUITY
    for index in range(1, equity.size):  # setup only; the flows make the recurrence sequential
        equity[index] = equity[index - 1] * (1 + market[index]) + flow_per_snapshot[index]

    pnl = rng.normal(150.0, 4_000.0, TRADE_COUNT)
    pnl[rng.random(TRADE_COUNT) < 0.02] = 0.0
    fees = np.abs(rng.normal(12.0, 4.0, TRADE_COUNT))
    slippage = np.abs(rng.normal(6.0, 3.0, TRADE_COUNT))
    funding = rng.normal(1.0, 5.0, TRADE_COUNT)
    borrow_fees = np.where(rng.random(TRADE_COUNT) < 0.1, rng.uniform(0, 20, TRADE_COUNT), 0.0)
    liquidation_penalties = np.where(rng.random(TRADE_COUNT) < 0.005, rng.uniform(100, 5000, TRADE_COUNT), 0.0)
    price_move = pnl + fees + slippage + funding + borrow_fees + liquidation_penalties

    return {
        "snapshot_times": snapshot_seconds,
        "equity": equity,
        "flow_times": snapshot_seconds[flow_snapshot],
        "flow_amounts": flow_amounts,
        "benchmark_daily": rng.normal(0.0006, 0.035, day_count),
        "realized_pnl": pnl,
        "holding_seconds": rng.exponential(6 * 3600, TRADE_COUNT),
        "instrument_ids": rng.integers(0, INSTRUMENT_COUNT, TRADE_COUNT),
        "asset_class_ids": rng.integers(0, ASSET_CLASS_COUNT, TRADE_COUNT),
        "strategy_tags": STRATEGY_TAGS[rng.integers(0, STRATEGY_TAGS.size, TRADE_COUNT)],
        "cost_columns": np.column_stack((price_move, fees, slippage, funding, borrow_fees, liquidation_penalties)),
    }


def full_analytics(portfolio: dict[str, np.ndarray], stage_seconds: dict[str, list[float]]) -> dict[str, object]:
    clock = time.perf_counter
    results: dict[str, object] = {}

    def stage(name: str, started: float) -> float:
        now = clock()
        stage_seconds.setdefault(name, []).append(now - started)
        return now

    started = clock()
    periodic = analytics.time_weighted_returns(
        times=portfolio["snapshot_times"],
        equity=portfolio["equity"],
        flow_times=portfolio["flow_times"],
        flow_amounts=portfolio["flow_amounts"],
    )
    days, daily = analytics.resample_daily(period_end_times=portfolio["snapshot_times"][1:], returns=periodic)
    started = stage("twr + daily resample", started)

    benchmark = portfolio["benchmark_daily"][: daily.size]
    periods_per_year = analytics.daily_periods_per_year(is_crypto_only=True)
    risk_free = analytics.risk_free_per_period(annual_rate=ANNUAL_RISK_FREE, periods_per_year=periods_per_year)
    results["risk"] = analytics.risk_metrics(
        daily, factor_returns=benchmark, risk_free=risk_free, periods_per_year=periods_per_year
    )
    started = stage("risk metrics", started)

    for label, series in (("portfolio", daily), ("benchmark", benchmark)):
        results[f"{label}_period_returns"] = analytics.period_returns(days, series, as_of=days[-1])
        results[f"{label}_calendar"] = {
            period: analytics.aggregate_returns(days, series, convert_to=period) for period in analytics.ReturnPeriod
        }
        results[f"{label}_rolling"] = {
            window: analytics.rolling_returns(days, series, window_days=window) for window in (7, 30, 90, 365)
        }
    started = stage("period, calendar, rolling returns (x2)", started)

    close_times = np.concatenate(([days[0]], days + np.timedelta64(1, "D"))).astype("datetime64[s]")
    wealth = np.concatenate(([1.0], analytics.cum_returns(daily, starting_value=1.0)))
    results["drawdown_episodes"] = analytics.drawdown_episodes(times=close_times, wealth=wealth)
    started = stage("drawdown episodes", started)

    results["trades"] = analytics.trade_statistics(
        realized_pnl=portfolio["realized_pnl"], holding_seconds=portfolio["holding_seconds"]
    )
    started = stage("trade statistics", started)

    costs = portfolio["cost_columns"]
    by_instrument = analytics.attribute_by(keys=portfolio["instrument_ids"], values=costs)
    results["by_instrument"] = by_instrument
    results["by_asset_class"] = analytics.attribute_by(
        keys=portfolio["asset_class_ids"], values=portfolio["realized_pnl"]
    )
    results["by_strategy_tag"] = analytics.attribute_by(
        keys=portfolio["strategy_tags"], values=portfolio["realized_pnl"]
    )
    results["contribution"] = analytics.contribution_to_return(
        pnl=by_instrument.totals[:, 0] - by_instrument.totals[:, 1:].sum(axis=1), capital=STARTING_EQUITY
    )
    results["costs"] = analytics.cost_breakdown(
        price_move=costs[:, 0],
        fees=costs[:, 1],
        slippage=costs[:, 2],
        funding=costs[:, 3],
        borrow_fees=costs[:, 4],
        liquidation_penalties=costs[:, 5],
    )
    stage("attribution", started)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    repeat = parser.parse_args().repeat

    portfolio = build_portfolio()
    print(
        f"portfolio: {portfolio['snapshot_times'].size:,} equity snapshots over {YEARS} years, "
        f"{portfolio['flow_amounts'].size} cash flows, {TRADE_COUNT:,} closed positions"
    )
    full_analytics(portfolio, {})  # warm-up: first-call imports and allocations

    stage_seconds: dict[str, list[float]] = {}
    totals = []
    for _ in range(repeat):
        started = time.perf_counter()
        results = full_analytics(portfolio, stage_seconds)
        totals.append(time.perf_counter() - started)

    print(
        f"full analytics, {repeat} runs: median {statistics.median(totals) * 1e3:.1f} ms, "
        f"min {min(totals) * 1e3:.1f} ms, max {max(totals) * 1e3:.1f} ms (target < 200 ms)"
    )
    for name, seconds in stage_seconds.items():
        print(f"  {name:<40} median {statistics.median(seconds) * 1e3:7.2f} ms")
    risk = results["risk"]
    trades = results["trades"]
    print(
        f"check: {len(results['drawdown_episodes'])} drawdown episodes, max drawdown {risk.max_drawdown:.2%}, "
        f"Sharpe {risk.sharpe_ratio:.2f}, beta {risk.beta:.3f}, win rate {trades.win_rate:.1%}, "
        f"profit factor {trades.profit_factor:.2f}"
    )


if __name__ == "__main__":
    main()
