"""The four analytics payloads (spec §8, §14 Analytics), built from plain arrays.

``reporting.analytics.kernels`` holds the numeric kernels; this module chains them into what
``/api/analytics/performance``, ``/metrics``, ``/trades`` and ``/attribution`` return, and turns the
floats into JSON. ``reporting.analytics.selectors`` loads the arrays from the database. Pure: no
Django, no clock, no settings, so the benchmark (benchmarks/analytics_full.py) times exactly what
the endpoints compute.

Number format: every fraction, ratio and amount is a decimal string, the float64 result rounded
half-even to 8 places by ``haunt.api.formatting.float_text`` (the rule of ``haunt.money.from_float``);
a figure that is undefined (no losses for a profit factor, too little history, a benchmark that
does not move) is ``null``. Instants are ``instant_text``: UTC with a ``Z``, as the serializers write them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from haunt.api.formatting import float_text, instant_text
from reporting.analytics import kernels

PLACES = 8
TRAILING_WINDOWS = (7, 30, 90, 365)
# Cost columns of the attribution, in order; a new cost kind (a ledger kind the service maps to
# a column) only needs a name here.
COST_COLUMNS = ("fees", "slippage", "funding", "borrow_fees", "liquidation_penalties")
MICROSECONDS_PER_SECOND = 1_000_000
# Annualising a few days of returns extrapolates noise (a 0.01% dip over a week reads as a Calmar
# ratio of -250), so the annualised figures stay null until the window holds this many daily
# returns: about a month of a crypto calendar, six weeks of NYSE sessions.
MIN_OBSERVATIONS_TO_ANNUALISE = 30
ANNUALISED_METRICS = ("annual_return", "annual_volatility", "sharpe_ratio", "sortino_ratio", "downside_risk",
                      "calmar_ratio", "alpha", "information_ratio")


@dataclass(frozen=True, eq=False)
class EquityHistory:
    """Equity snapshots of one track record, oldest first.

    ``cash_flow[i]`` is the external money booked with snapshot i and already in ``equity[i]``
    (a top-up is positive); the first snapshot's flow is part of the starting capital.
    """

    times_us: np.ndarray  # int64 UTC epoch microseconds, ascending
    equity: np.ndarray  # float64
    cash_flow: np.ndarray  # float64


@dataclass(frozen=True, eq=False)
class BenchmarkHistory:
    """Closing prices of the benchmark's bars (any resolution), oldest first."""

    symbol: str
    bar_end_seconds: np.ndarray  # int64 UTC epoch seconds at which each bar closed
    closes: np.ndarray  # float64


@dataclass(frozen=True, eq=False)
class Conventions:
    """How returns are measured; echoed in every response."""

    currency: str
    periods_per_year: int
    annual_risk_free_rate: float
    session_days: np.ndarray | None  # datetime64[D] trading days; None: every calendar day counts
    benchmark_symbol: str
    track_record_start: dt.datetime

    @property
    def risk_free_per_period(self) -> float:
        return kernels.risk_free_per_period(
            annual_rate=self.annual_risk_free_rate, periods_per_year=self.periods_per_year
        )

    def as_json(self) -> dict:
        return {
            "currency": self.currency,
            "returns": "time-weighted; top-ups and withdrawals are removed at the snapshot that books them",
            "frequency": "daily, at the UTC day close",
            "calendar": "every calendar day" if self.session_days is None else "NYSE trading sessions",
            "periods_per_year": self.periods_per_year,
            "annual_risk_free_rate": _number(self.annual_risk_free_rate),
            "risk_free_per_period": _number(self.risk_free_per_period),
            "benchmark": self.benchmark_symbol,
            "track_record_start": instant_text(self.track_record_start),
        }


@dataclass(frozen=True, eq=False)
class ClosedPositions:
    """One row per position closed in the window, P&L net of its fees, borrow and funding, in the base currency."""

    net_pnl: np.ndarray  # float64
    holding_seconds: np.ndarray  # float64


@dataclass(frozen=True, eq=False)
class PnlItems:
    """Realized P&L and costs, one row per fill or per position-level ledger charge.

    ``costs`` has one column for the price move, then one per ``COST_COLUMNS`` entry, each
    positive when paid. ``instrument[i]`` indexes ``symbols`` and ``asset_classes``; the strategy
    tags are exploded as pairs (``tag_rows[k]`` is the row that carries tag ``tags[tag_codes[k]]``),
    and a row with no tag appears once under ``"untagged"``. Groups are integer codes because
    grouping integers is an order of magnitude faster than grouping strings.
    """

    instrument: np.ndarray  # int64 index into symbols
    symbols: list[str]
    asset_classes: list[str]
    costs: np.ndarray  # float64, shape (rows, 1 + len(COST_COLUMNS))
    tag_rows: np.ndarray  # int64
    tag_codes: np.ndarray  # int64 index into tags
    tags: list[str]


# --------------------------------------------------------------------------- building blocks


def daily_returns(history: EquityHistory, *, session_days: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Time-weighted return of each day (or trading session) of the history: ``(days, returns)``."""
    # Microseconds, not seconds: a top-up and a fill in the same second must keep their order.
    periodic = kernels.time_weighted_returns(
        times=history.times_us,
        equity=history.equity,
        flow_times=history.times_us,
        flow_amounts=history.cash_flow,
    )
    return kernels.resample_daily(
        period_end_times=history.times_us[1:] // MICROSECONDS_PER_SECOND,
        returns=periodic,
        session_days=session_days,
    )


def benchmark_returns(benchmark: BenchmarkHistory | None, *, days: np.ndarray) -> np.ndarray:
    """The benchmark's return over each of ``days`` (close to close, from the last bar of the day
    before); NaN where its history does not reach back that far."""
    if benchmark is None or benchmark.closes.size == 0 or days.size == 0:
        return np.full(days.size, np.nan)
    bar_day = (benchmark.bar_end_seconds - 1) // kernels.SECONDS_PER_DAY
    day_numbers = days.astype("datetime64[D]").astype(np.int64)
    reference_days = np.concatenate(([day_numbers[0] - 1], day_numbers[:-1]))
    close_index = np.searchsorted(bar_day, day_numbers, side="right") - 1
    reference_index = np.searchsorted(bar_day, reference_days, side="right") - 1
    known = reference_index >= 0
    closes = benchmark.closes[np.maximum(close_index, 0)]
    references = benchmark.closes[np.maximum(reference_index, 0)]
    return np.where(known, closes / np.where(known, references, 1.0) - 1.0, np.nan)


def day_close_equity(history: EquityHistory, *, days: np.ndarray) -> np.ndarray:
    """The equity of the last snapshot at or before each day's close (midnight after it)."""
    next_midnight = days.astype("datetime64[D]").astype(np.int64) + 1
    day_end_us = next_midnight * kernels.SECONDS_PER_DAY * MICROSECONDS_PER_SECOND
    index = np.searchsorted(history.times_us, day_end_us, side="right") - 1
    return history.equity[np.maximum(index, 0)]


# --------------------------------------------------------------------------- payloads


def performance_report(
    history: EquityHistory, *, benchmark: BenchmarkHistory | None, conventions: Conventions
) -> dict:
    """Returns by day, calendar period, to-date period and trailing window, against the benchmark."""
    days, daily = daily_returns(history, session_days=conventions.session_days)
    benchmark_daily = benchmark_returns(benchmark, days=days)
    # Benchmark figures compound the days its history covers; with no history at all they are null.
    has_benchmark = bool(np.any(~np.isnan(benchmark_daily)))
    flows = float(np.sum(history.cash_flow[1:])) if history.equity.size else 0.0
    start_equity = float(history.equity[0]) if history.equity.size else np.nan
    end_equity = float(history.equity[-1]) if history.equity.size else np.nan
    payload = {
        "summary": {
            "start_equity": _number(start_equity),
            "end_equity": _number(end_equity),
            "net_cash_flow": _number(flows),
            "profit": _number(end_equity - start_equity - flows),
            "time_weighted_return": _number(kernels.cum_returns_final(daily) if days.size else np.nan),
            "benchmark_return": _number(kernels.cum_returns_final(benchmark_daily) if has_benchmark else np.nan),
            "days": int(days.size),
        },
        "period_returns": None,
        "calendar_returns": {},
        "daily": [],
    }
    if days.size == 0:
        payload["calendar_returns"] = {period.value: [] for period in kernels.ReturnPeriod}
        return payload

    as_of = days[-1]
    payload["period_returns"] = {
        "as_of": str(as_of),
        "portfolio": _period_returns_json(kernels.period_returns(days, daily, as_of=as_of)),
        "benchmark": _period_returns_json(kernels.period_returns(days, benchmark_daily, as_of=as_of))
        if has_benchmark else None,
    }
    for period in kernels.ReturnPeriod:
        starts, portfolio_returns = kernels.aggregate_returns(days, daily, convert_to=period)
        _, benchmark_period_returns = kernels.aggregate_returns(days, benchmark_daily, convert_to=period)
        benchmark_defined = _period_defined(days, benchmark_daily, period)
        payload["calendar_returns"][period.value] = [
            {"period_start": start, "return": value, "benchmark_return": bench}
            for start, value, bench in zip(
                starts.astype(str).tolist(),
                _numbers(portfolio_returns),
                _numbers(np.where(benchmark_defined, benchmark_period_returns, np.nan)),
                strict=True,
            )
        ]

    cumulative = kernels.cum_returns(daily)
    benchmark_cumulative = kernels.cum_returns(benchmark_daily)
    equity = day_close_equity(history, days=days)
    # The wealth index starts at 1 at the first day's open, so a first day's loss is a drawdown.
    drawdown = (1.0 + cumulative) / np.maximum.accumulate(np.concatenate(([1.0], 1.0 + cumulative)))[1:] - 1.0
    payload["daily"] = [
        {"date": day, "equity": value, "return": daily_return, "cumulative_return": total, "drawdown": fall,
         "benchmark_return": bench, "benchmark_cumulative_return": bench_total}
        for day, value, daily_return, total, fall, bench, bench_total in zip(
            days.astype(str).tolist(),
            _numbers(equity),
            _numbers(daily),
            _numbers(cumulative),
            _numbers(drawdown),
            _numbers(benchmark_daily),
            _numbers(np.where(np.isnan(benchmark_daily), np.nan, benchmark_cumulative)),
            strict=True,
        )
    ]
    return payload


def metrics_report(history: EquityHistory, *, benchmark: BenchmarkHistory | None, conventions: Conventions) -> dict:
    """Risk-adjusted ratios on daily returns, and every drawdown episode of the time-weighted wealth."""
    days, daily = daily_returns(history, session_days=conventions.session_days)
    benchmark_daily = benchmark_returns(benchmark, days=days)
    has_benchmark = bool(np.any(~np.isnan(benchmark_daily)))
    risk = kernels.risk_metrics(
        daily,
        factor_returns=benchmark_daily if has_benchmark else None,
        risk_free=conventions.risk_free_per_period,
        periods_per_year=conventions.periods_per_year,
    )
    metrics = {name: _number(getattr(risk, name)) for name in kernels.RiskMetrics.__dataclass_fields__}
    metrics["observations"] = int(days.size)
    is_annualised = days.size >= MIN_OBSERVATIONS_TO_ANNUALISE
    if not is_annualised:
        metrics.update(dict.fromkeys(ANNUALISED_METRICS))

    episodes = []
    if days.size:
        # The wealth index starts at 1 at the first day's open; each value is a day close.
        day_numbers = days.astype("datetime64[D]")
        close_times = np.concatenate(([day_numbers[0]], day_numbers + np.timedelta64(1, "D"))).astype("datetime64[s]")
        wealth = np.concatenate(([1.0], kernels.cum_returns(daily, starting_value=1.0)))
        episodes = kernels.drawdown_episodes(times=close_times, wealth=wealth)
    current = episodes[-1] if episodes and episodes[-1].recovery_time is None else None
    return {
        "metrics": metrics,
        "annualisation": {
            "minimum_observations": MIN_OBSERVATIONS_TO_ANNUALISE,
            "applied": is_annualised,
            "note": None if is_annualised else (
                f"Short history: {days.size} daily returns, fewer than the {MIN_OBSERVATIONS_TO_ANNUALISE} "
                f"needed, so the annualised figures ({', '.join(ANNUALISED_METRICS)}) are null."),
        },
        "drawdown": {
            "current": _number(risk.current_drawdown),
            "maximum": _number(risk.max_drawdown),
            "current_days_underwater": _days(current.time_underwater) if current else 0.0,
            "longest_days_underwater": max((_days(episode.time_underwater) for episode in episodes), default=0.0),
            "episodes": [_episode_json(episode) for episode in episodes],
        },
    }


def trades_report(closed: ClosedPositions) -> dict:
    """Win/loss statistics over the positions closed in the window."""
    statistics = kernels.trade_statistics(realized_pnl=closed.net_pnl, holding_seconds=closed.holding_seconds)
    counts = ("position_count", "win_count", "loss_count", "break_even_count")
    return {
        "statistics": {
            name: (getattr(statistics, name) if name in counts else _number(getattr(statistics, name)))
            for name in kernels.TradeStatistics.__dataclass_fields__
        }
    }


def attribution_report(items: PnlItems, *, capital: float) -> dict:
    """P&L and its costs by instrument, asset class and strategy tag, each with its contribution to return."""
    net = items.costs[:, 0] - items.costs[:, 1:].sum(axis=1) if items.costs.size else np.zeros(0)
    by_instrument = kernels.attribute_by(keys=items.instrument, values=items.costs)
    instrument_keys = by_instrument.keys.tolist()
    asset_class_names, asset_class_of_instrument = np.unique(np.asarray(items.asset_classes, dtype=str),
                                                             return_inverse=True)
    asset_class_of_row = asset_class_of_instrument.reshape(-1)[items.instrument] if items.symbols else items.instrument
    by_asset_class = kernels.attribute_by(keys=asset_class_of_row, values=items.costs)
    by_tag = kernels.attribute_by(keys=items.tag_codes, values=items.costs[items.tag_rows])
    total = kernels.cost_breakdown(
        price_move=items.costs[:, 0], **{name: items.costs[:, column + 1] for column, name in enumerate(COST_COLUMNS)}
    )
    return {
        "capital": _number(capital),
        "total": {
            **{name: _number(getattr(total, name)) for name in ("price_move", *COST_COLUMNS, "net_pnl")},
            "contribution": _number(kernels.contribution_to_return(pnl=[float(np.sum(net))], capital=capital)[0]),
        },
        "by_instrument": _attribution_rows(
            by_instrument, capital=capital, label="symbol", names=[items.symbols[key] for key in instrument_keys],
            extra=[{"asset_class": items.asset_classes[key]} for key in instrument_keys],
        ),
        "by_asset_class": _attribution_rows(
            by_asset_class, capital=capital, label="asset_class",
            names=[str(asset_class_names[key]) for key in by_asset_class.keys.tolist()],
        ),
        "by_strategy_tag": _attribution_rows(by_tag, capital=capital, label="tag",
                                             names=[items.tags[key] for key in by_tag.keys.tolist()]),
    }


# --------------------------------------------------------------------------- JSON helpers


def _attribution_rows(attribution: kernels.Attribution, *, capital: float, label: str, names: list,
                      extra: list[dict] | None = None) -> list[dict]:
    if attribution.keys.size == 0:
        return []
    totals = attribution.totals
    net = totals[:, 0] - totals[:, 1:].sum(axis=1)
    contribution = kernels.contribution_to_return(pnl=net, capital=capital)
    columns = {"price_move": _numbers(totals[:, 0])}
    for column, name in enumerate(COST_COLUMNS):
        columns[name] = _numbers(totals[:, column + 1])
    columns["net_pnl"] = _numbers(net)
    columns["contribution"] = _numbers(contribution)
    rows = []
    for index, name in enumerate(names):
        row = {label: name, **(extra[index] if extra else {}), "items": int(attribution.counts[index])}
        row.update({column: values[index] for column, values in columns.items()})
        rows.append(row)
    rows.sort(key=lambda row: -abs(float(row["net_pnl"])))
    return rows


def _period_defined(days: np.ndarray, returns: np.ndarray, period: kernels.ReturnPeriod) -> np.ndarray:
    """Whether each calendar period holds at least one defined return (aggregate_returns counts NaN as 0)."""
    if days.size == 0:
        return np.zeros(0, dtype=bool)
    _, defined_share = kernels.aggregate_returns(days, (~np.isnan(returns)).astype(np.float64), convert_to=period)
    return defined_share > 0  # (1 + 1)^k − 1 > 0 exactly when some day was defined


def _period_returns_json(returns: kernels.PeriodReturns) -> dict:
    return {name: _number(getattr(returns, name)) for name in kernels.PeriodReturns.__dataclass_fields__}


def _episode_json(episode: kernels.DrawdownEpisode) -> dict:
    return {
        "peak": instant_text(episode.peak_time),
        "trough": instant_text(episode.trough_time),
        "recovery": instant_text(episode.recovery_time),
        "depth": _number(episode.depth),
        "days_underwater": _days(episode.time_underwater),
        "days_to_recover": _days(episode.time_to_recover) if episode.time_to_recover is not None else None,
    }


def _days(span: dt.timedelta) -> float:
    return span.total_seconds() / kernels.SECONDS_PER_DAY


def _number(value: float) -> str | None:
    """One figure of a payload: PLACES decimals, or null when undefined."""
    return float_text(value, PLACES)


def _numbers(values: np.ndarray) -> list[str | None]:
    return [float_text(value, PLACES) for value in np.asarray(values, dtype=np.float64).tolist()]
