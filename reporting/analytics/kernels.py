"""Portfolio performance analytics (spec §8: returns, risk-adjusted metrics, drawdowns, trade
statistics, attribution, beta and alpha).

Pure numpy kernels: no Django, no clock, no settings, no rounding. Money enters and leaves as
float arrays; the service converts results with ``haunt.money.from_float`` (which refuses the
``inf`` and ``nan`` these functions return where a metric is undefined, so the service decides
how to store "undefined").

The risk functions mirror empyrical's names and conventions so quants can check them directly:
``returns`` is a 1-D array of simple periodic returns (0.01 = +1%), ``risk_free`` and
``required_return`` are per-period rates, drawdowns are negative fractions, NaNs are skipped the
way empyrical skips them, and degenerate inputs give ``nan`` or ``±inf`` exactly where empyrical
does, never a ZeroDivisionError. Two deliberate differences: ``periods_per_year`` is a required
keyword (empyrical silently defaults to 252, which is wrong for a crypto-only portfolio), and
``information_ratio`` is annualised (empyrical's unannualised version is ``excess_sharpe``).

Times are int64 UTC epoch seconds or ``datetime64`` arrays; calendar days are ``datetime64[D]``.
A UTC day is the half-open interval (midnight, next midnight]: a snapshot stamped exactly
00:00:00 closes the previous day, which is what the scheduled day-close snapshot records.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

CRYPTO_PERIODS_PER_YEAR = 365
TRADING_PERIODS_PER_YEAR = 252
SECONDS_PER_DAY = 86_400

# empyrical turns a benchmark variance below this into NaN instead of dividing by it.
_MIN_BENCHMARK_VARIANCE = 1.0e-30


class ReturnPeriod(enum.StrEnum):
    """Calendar buckets for ``aggregate_returns``; the values are empyrical's period names."""

    WEEKLY = "weekly"  # ISO weeks, Monday to Sunday
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"


@dataclass(frozen=True)
class PeriodReturns:
    """Compounded returns as of one day (spec §8 "Time-Based Returns").

    To-date fields count from the later of the period start and the first day of history;
    trailing fields are NaN until the history covers the whole window.
    """

    day: float
    week_to_date: float
    month_to_date: float
    quarter_to_date: float
    year_to_date: float
    all_time: float
    trailing_7_days: float
    trailing_30_days: float
    trailing_90_days: float
    trailing_365_days: float


@dataclass(frozen=True)
class RiskMetrics:
    """Every spec §8 risk figure for one return series; benchmark-relative fields are NaN without a benchmark."""

    cumulative_return: float
    annual_return: float
    annual_volatility: float
    sharpe_ratio: float
    sortino_ratio: float
    downside_risk: float
    calmar_ratio: float
    omega_ratio: float
    max_drawdown: float
    current_drawdown: float
    alpha: float
    beta: float
    r_squared: float
    information_ratio: float


@dataclass(frozen=True)
class DrawdownEpisode:
    """One fall below a running peak and, if it happened, the climb back to it.

    ``depth`` is the trough's fall from the peak as a negative fraction (-0.25 = 25% below).
    ``time_underwater`` runs from the peak to the recovery, or to the last observation while the
    drawdown is still open; ``time_to_recover`` runs from the trough to the recovery.
    """

    peak_time: dt.datetime
    trough_time: dt.datetime
    recovery_time: dt.datetime | None
    depth: float
    time_underwater: dt.timedelta
    time_to_recover: dt.timedelta | None


@dataclass(frozen=True)
class TradeStatistics:
    """Statistics over closed positions (spec §8 "Trade Statistics").

    A break-even position (P&L exactly 0) is neither a win nor a loss, but it does count in the
    denominator of the rates, so win_rate + loss_rate < 1 when break-evens exist.
    ``average_loss`` and ``largest_loss`` are magnitudes (positive numbers), so that
    expectancy = win_rate × average_win − loss_rate × average_loss as the spec writes it; a side
    with no positions contributes 0 to the expectancy, which therefore equals the mean P&L per
    position. ``profit_factor`` is ``inf`` when there are wins and no losses and NaN when there
    are neither; averages and extremes of an empty side are NaN.
    """

    position_count: int
    win_count: int
    loss_count: int
    break_even_count: int
    win_rate: float
    loss_rate: float
    gross_profit: float
    gross_loss: float
    average_win: float
    average_loss: float
    risk_reward: float
    profit_factor: float
    expectancy: float
    largest_win: float
    largest_loss: float
    average_holding_seconds: float


@dataclass(frozen=True, eq=False)
class Attribution:
    """Sums of one or more value columns per distinct key, keys in ascending order."""

    keys: np.ndarray
    totals: np.ndarray  # shape (groups,) for 1-D values, (groups, columns) for 2-D values
    counts: np.ndarray


@dataclass(frozen=True)
class CostBreakdown:
    """Where P&L came from: the price move against each cost (spec §8 "Position Attribution").

    Costs are positive when paid; funding is negative when it was received.
    """

    price_move: float
    fees: float
    slippage: float
    funding: float
    borrow_fees: float
    liquidation_penalties: float
    net_pnl: float


# --------------------------------------------------------------------------- calendars and rates


def daily_periods_per_year(*, is_crypto_only: bool) -> int:
    """Annualisation of daily returns by the asset mix: crypto trades every day, the rest on 252 sessions."""
    return CRYPTO_PERIODS_PER_YEAR if is_crypto_only else TRADING_PERIODS_PER_YEAR


def risk_free_per_period(*, annual_rate: float, periods_per_year: int) -> float:
    """The per-period rate that compounds to ``annual_rate`` over a year: (1 + annual)^(1/n) − 1."""
    return float((1.0 + annual_rate) ** (1.0 / periods_per_year) - 1.0)


# --------------------------------------------------------------------------- equity to returns


def time_weighted_returns(
    *, times: ArrayLike, equity: ArrayLike, flow_times: ArrayLike, flow_amounts: ArrayLike
) -> np.ndarray:
    """Return of each period between consecutive equity snapshots, with deposits and withdrawals removed.

    Period i runs from snapshot i to snapshot i+1; the result has one value fewer than ``equity``.
    Each external flow (deposit positive, withdrawal negative) belongs to the first snapshot stamped
    at or after it, which must already include it. Within its period the flow is weighted by the
    share of the period it was invested for (Modified Dietz):

        r = (V_end − V_start − F) / (V_start + Σ w·f),   w = (t_end − t_flow) / (t_end − t_start)

    A flow stamped with its own snapshot has w = 0, so r = (V_end − F) / V_start − 1 and the chained
    returns are the exact time-weighted return; services snapshot at every flow for that reason.
    Flows at or before the first snapshot are already in the starting equity and flows after the
    last snapshot are not in any period; both are ignored. A period that starts with no capital at
    work (a non-positive denominator) has no defined return and gives NaN.

    Requires ``times`` sorted ascending (ties allowed) and the same length as ``equity``.
    """
    seconds = _epoch_seconds(times)
    values = np.asarray(equity, dtype=np.float64)
    if seconds.shape != values.shape:
        raise ValueError("times and equity must have the same length")
    period_count = values.size - 1
    if period_count < 1:
        return np.empty(0, dtype=np.float64)

    flow_seconds = _epoch_seconds(flow_times)
    amounts = np.asarray(flow_amounts, dtype=np.float64)
    if flow_seconds.shape != amounts.shape:
        raise ValueError("flow_times and flow_amounts must have the same length")
    closing_snapshot = np.searchsorted(seconds, flow_seconds, side="left")
    inside = (closing_snapshot >= 1) & (closing_snapshot <= period_count)
    closing_snapshot = closing_snapshot[inside]
    amounts = amounts[inside]
    period_end = seconds[closing_snapshot]
    period_length = period_end - seconds[closing_snapshot - 1]
    invested_share = np.divide(
        period_end - flow_seconds[inside],
        period_length,
        out=np.zeros(amounts.size, dtype=np.float64),
        where=period_length > 0,
    )
    net_flow = np.bincount(closing_snapshot, weights=amounts, minlength=values.size)[1:]
    weighted_flow = np.bincount(closing_snapshot, weights=amounts * invested_share, minlength=values.size)[1:]

    capital_at_work = values[:-1] + weighted_flow
    gain = values[1:] - values[:-1] - net_flow
    return np.divide(gain, capital_at_work, out=np.full(period_count, np.nan), where=capital_at_work > 0)


def resample_daily(
    *, period_end_times: ArrayLike, returns: ArrayLike, session_days: ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Compound periodic returns into one return per UTC day close; returns ``(days, daily_returns)``.

    Each period counts on the day it ends (a period ending exactly at midnight closes the previous
    day). Without ``session_days`` the result covers every calendar day from the first period's day
    to the last one's, and a day with no period ending on it has return 0 (equity unchanged since
    the last observation). With ``session_days`` (sorted ``datetime64[D]`` trading days) a period
    ending on a non-session day rolls into the next session, so weekend P&L of a stock portfolio
    lands on Monday; periods after the last session belong to a session not yet closed and are left
    out. NaN period returns are skipped; a day whose periods are all NaN is NaN.

    Requires ``period_end_times`` sorted ascending.
    """
    seconds = _epoch_seconds(period_end_times)
    period_returns = np.asarray(returns, dtype=np.float64)
    if seconds.shape != period_returns.shape:
        raise ValueError("period_end_times and returns must have the same length")
    period_day = (seconds - 1) // SECONDS_PER_DAY
    if session_days is None:
        bucket = period_day
    else:
        sessions = np.asarray(session_days, dtype="datetime64[D]").astype(np.int64)
        session_index = np.searchsorted(sessions, period_day, side="left")
        before_last_session = session_index < sessions.size
        bucket = sessions[session_index[before_last_session]]
        period_returns = period_returns[before_last_session]
    if bucket.size == 0:
        return np.empty(0, dtype="datetime64[D]"), np.empty(0, dtype=np.float64)

    if session_days is None:
        days = np.arange(bucket[0], bucket[-1] + 1, dtype=np.int64)
    else:
        days = sessions[np.searchsorted(sessions, bucket[0]) : np.searchsorted(sessions, bucket[-1]) + 1]
    group_start = np.flatnonzero(np.diff(bucket, prepend=bucket[0] - 1))
    is_defined = ~np.isnan(period_returns)
    growth = np.multiply.reduceat(np.where(is_defined, 1.0 + period_returns, 1.0), group_start)
    defined_count = np.add.reduceat(is_defined.astype(np.int64), group_start)

    daily = np.zeros(days.size, dtype=np.float64)
    position = np.searchsorted(days, bucket[group_start])
    daily[position] = np.where(defined_count > 0, growth - 1.0, np.nan)
    return days.astype("datetime64[D]"), daily


# --------------------------------------------------------------------------- period returns


def cum_returns(returns: ArrayLike, /, *, starting_value: float = 0.0) -> np.ndarray:
    """Cumulative compounded returns (empyrical ``cum_returns``): NaN counts as 0; with a
    ``starting_value`` the result is the wealth curve that value grows into."""
    growth = np.cumprod(1.0 + np.nan_to_num(_as_returns(returns), nan=0.0))
    return growth - 1.0 if starting_value == 0 else growth * starting_value


def cum_returns_final(returns: ArrayLike, /, *, starting_value: float = 0.0) -> float:
    """Total compounded return (empyrical ``cum_returns_final``): NaN is skipped, empty gives NaN."""
    values = _as_returns(returns)
    if values.size == 0:
        return np.nan
    growth = float(np.nanprod(1.0 + values))
    return growth - 1.0 if starting_value == 0 else growth * starting_value


def aggregate_returns(
    days: ArrayLike, returns: ArrayLike, /, *, convert_to: ReturnPeriod
) -> tuple[np.ndarray, np.ndarray]:
    """Compound daily returns into calendar weeks, months, quarters or years (empyrical
    ``aggregate_returns``); returns ``(period_first_days, period_returns)``.

    A period is labelled by its first calendar day (the Monday of an ISO week), whether or not
    the series has a return on that day. NaN counts as 0. Requires ``days`` sorted ascending.
    """
    day_numbers = np.asarray(days, dtype="datetime64[D]")
    values = _as_returns(returns)
    if day_numbers.shape != values.shape:
        raise ValueError("days and returns must have the same length")
    if values.size == 0:
        return np.empty(0, dtype="datetime64[D]"), np.empty(0, dtype=np.float64)
    period_first_day = _period_first_day(day_numbers, convert_to)
    period_key = period_first_day.astype(np.int64)
    group_start = np.flatnonzero(np.diff(period_key, prepend=period_key[0] - 1))
    growth = np.multiply.reduceat(1.0 + np.nan_to_num(values, nan=0.0), group_start)
    return period_first_day[group_start], growth - 1.0


def rolling_returns(days: ArrayLike, returns: ArrayLike, /, *, window_days: int) -> np.ndarray:
    """Compounded return of the ``window_days`` calendar days ending on each day (rolling 7/30/90/365d).

    A window that starts before the first day of history is NaN. NaN returns count as 0. Windows
    are compounded through cumulative log-growth, so a window starting after a −100% day is NaN.
    Requires ``days`` sorted ascending.
    """
    day_numbers = np.asarray(days, dtype="datetime64[D]").astype(np.int64)
    values = _as_returns(returns)
    if day_numbers.shape != values.shape:
        raise ValueError("days and returns must have the same length")
    if values.size == 0:
        return np.empty(0, dtype=np.float64)
    window_first_day = day_numbers - (window_days - 1)
    window_start = np.searchsorted(day_numbers, window_first_day, side="left")
    with np.errstate(divide="ignore", invalid="ignore"):
        log_growth = np.concatenate(([0.0], np.cumsum(np.log1p(np.nan_to_num(values, nan=0.0)))))
        trailing = np.expm1(log_growth[1:] - log_growth[window_start])
    trailing[window_first_day < day_numbers[0]] = np.nan
    return trailing


def period_returns(days: ArrayLike, returns: ArrayLike, /, *, as_of: np.datetime64 | dt.date) -> PeriodReturns:
    """Daily, week/month/quarter/year-to-date, all-time and trailing 7/30/90/365-day returns as of a day.

    Days after ``as_of`` are ignored; a window holding no day of history is NaN. Requires ``days``
    sorted ascending. Apply it to the benchmark's daily returns to compare with a benchmark.
    """
    day_numbers = np.asarray(days, dtype="datetime64[D]")
    values = _as_returns(returns)
    if day_numbers.shape != values.shape:
        raise ValueError("days and returns must have the same length")
    as_of_day = np.datetime64(as_of, "D")
    day_key = day_numbers.astype(np.int64)
    history_end = int(np.searchsorted(day_key, as_of_day.astype(np.int64), side="right"))
    growth_before = np.concatenate(([1.0], np.cumprod(1.0 + np.nan_to_num(values[:history_end], nan=0.0))))

    def compounded_since(first_day: np.datetime64) -> float:
        start = int(np.searchsorted(day_key[:history_end], np.datetime64(first_day, "D").astype(np.int64)))
        if start >= history_end:
            return np.nan
        with np.errstate(divide="ignore", invalid="ignore"):  # a −100% day leaves nothing to grow from
            return float(growth_before[history_end] / growth_before[start] - 1.0)

    def trailing(window_days: int) -> float:
        first_day = as_of_day - np.timedelta64(window_days - 1, "D")
        if history_end == 0 or first_day < day_numbers[0]:
            return np.nan
        return compounded_since(first_day)

    as_of_array = np.array([as_of_day])
    return PeriodReturns(
        day=float(values[history_end - 1]) if history_end and day_numbers[history_end - 1] == as_of_day else np.nan,
        week_to_date=compounded_since(_period_first_day(as_of_array, ReturnPeriod.WEEKLY)[0]),
        month_to_date=compounded_since(_period_first_day(as_of_array, ReturnPeriod.MONTHLY)[0]),
        quarter_to_date=compounded_since(_period_first_day(as_of_array, ReturnPeriod.QUARTERLY)[0]),
        year_to_date=compounded_since(_period_first_day(as_of_array, ReturnPeriod.YEARLY)[0]),
        all_time=float(growth_before[history_end] - 1.0) if history_end else np.nan,
        trailing_7_days=trailing(7),
        trailing_30_days=trailing(30),
        trailing_90_days=trailing(90),
        trailing_365_days=trailing(365),
    )


# --------------------------------------------------------------------------- risk (empyrical mirror)


def annual_return(returns: ArrayLike, /, *, periods_per_year: int) -> float:
    """Compound annual growth rate (empyrical ``annual_return``): the years are len(returns) / periods_per_year,
    NaNs included in the length and skipped in the growth."""
    values = _as_returns(returns)
    if values.size == 0:
        return np.nan
    years = values.size / periods_per_year
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return float(np.float64(np.nanprod(1.0 + values)) ** (1.0 / years) - 1.0)


def annual_volatility(returns: ArrayLike, /, *, periods_per_year: int) -> float:
    """Sample standard deviation (ddof 1) of the returns × √periods_per_year (empyrical ``annual_volatility``)."""
    values = _as_returns(returns)
    if values.size < 2:
        return np.nan
    return _nan_std(values) * float(np.sqrt(periods_per_year))


def max_drawdown(returns: ArrayLike, /) -> float:
    """Largest fall of the wealth curve from a running peak, as a negative fraction (empyrical
    ``max_drawdown``); the curve starts at 1 before the first return, so a first-day loss counts."""
    values = _as_returns(returns)
    if values.size == 0:
        return np.nan
    return float(np.min(_drawdown_series(values)))


def current_drawdown(returns: ArrayLike, /) -> float:
    """How far the wealth curve ends below its running peak, as a negative fraction (0 at a new high)."""
    values = _as_returns(returns)
    if values.size == 0:
        return np.nan
    return float(_drawdown_series(values)[-1])


def calmar_ratio(returns: ArrayLike, /, *, periods_per_year: int) -> float:
    """Annual return over the magnitude of the maximum drawdown (empyrical ``calmar_ratio``);
    NaN when there was no drawdown or the ratio is infinite."""
    drawdown = max_drawdown(returns)
    if not drawdown < 0:
        return np.nan
    ratio = annual_return(returns, periods_per_year=periods_per_year) / abs(drawdown)
    return np.nan if np.isinf(ratio) else ratio


def sharpe_ratio(returns: ArrayLike, /, *, risk_free: float = 0.0, periods_per_year: int) -> float:
    """Mean excess return over its sample standard deviation, × √periods_per_year (empyrical ``sharpe_ratio``).

    A constant excess return has zero deviation: ±inf when the mean is non-zero, NaN when it is 0.
    """
    values = _as_returns(returns)
    if values.size < 2:
        return np.nan
    excess = values - risk_free
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.divide(_nan_mean(excess), _zero_dispersion_std(excess)) * np.sqrt(periods_per_year))


def downside_risk(returns: ArrayLike, /, *, required_return: float = 0.0, periods_per_year: int) -> float:
    """Root-mean-square shortfall below ``required_return``, × √periods_per_year (empyrical ``downside_risk``).

    Returns above the threshold count as zero shortfall; they stay in the mean.
    """
    values = _as_returns(returns)
    if values.size == 0:
        return np.nan
    shortfall = np.minimum(values - required_return, 0.0)
    return float(np.sqrt(_nan_mean(shortfall * shortfall)) * np.sqrt(periods_per_year))


def sortino_ratio(returns: ArrayLike, /, *, required_return: float = 0.0, periods_per_year: int) -> float:
    """Annualised mean excess over ``required_return`` divided by ``downside_risk`` (empyrical
    ``sortino_ratio``); +inf when nothing fell short and the mean excess is positive.

    Pass the per-period risk-free rate as ``required_return`` for the spec's (Return − Risk_Free) / Downside_Dev.
    """
    values = _as_returns(returns)
    if values.size < 2:
        return np.nan
    average_annual_excess = _nan_mean(values - required_return) * periods_per_year
    risk = downside_risk(values, required_return=required_return, periods_per_year=periods_per_year)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.divide(average_annual_excess, risk))


def omega_ratio(
    returns: ArrayLike, /, *, risk_free: float = 0.0, required_return: float = 0.0, periods_per_year: int
) -> float:
    """Gains over losses around a threshold (empyrical ``omega_ratio``).

    ``required_return`` is annual and is de-annualised with ``periods_per_year`` (1 means it is
    already per period); NaN without losses, with fewer than two returns, or for a required return
    of −100% or worse.
    """
    values = _as_returns(returns)
    if values.size < 2:
        return np.nan
    if periods_per_year == 1:
        threshold = required_return
    elif required_return <= -1:
        return np.nan
    else:
        threshold = (1.0 + required_return) ** (1.0 / periods_per_year) - 1.0
    above_threshold = values - risk_free - threshold
    gains = float(np.sum(above_threshold, where=above_threshold > 0.0))
    losses = -float(np.sum(above_threshold, where=above_threshold < 0.0))
    return gains / losses if losses > 0.0 else np.nan


def alpha_beta(
    returns: ArrayLike, factor_returns: ArrayLike, /, *, risk_free: float = 0.0, periods_per_year: int
) -> tuple[float, float]:
    """Jensen's alpha (annualised) and beta against a benchmark (empyrical ``alpha_beta``).

    beta = Cov(r, b) / Var(b) over the days both are present (NaN when the benchmark does not
    move); alpha = (1 + mean(r − rf − beta·(b − rf)))^periods_per_year − 1.
    """
    values, benchmark = _as_paired_returns(returns, factor_returns)
    if values.size < 2:
        return np.nan, np.nan
    both_present = ~(np.isnan(values) | np.isnan(benchmark))
    if not np.any(both_present):
        return np.nan, np.nan
    benchmark_residual = benchmark[both_present] - np.mean(benchmark[both_present])
    benchmark_variance = float(np.mean(benchmark_residual * benchmark_residual))
    if benchmark_variance < _MIN_BENCHMARK_VARIANCE:
        return np.nan, np.nan
    beta = float(np.mean(benchmark_residual * values[both_present])) / benchmark_variance
    average_alpha = _nan_mean((values - risk_free) - beta * (benchmark - risk_free))
    with np.errstate(over="ignore", invalid="ignore"):
        alpha = np.power(1.0 + np.float64(average_alpha), periods_per_year) - 1.0
    return float(alpha), float(beta)


def information_ratio(returns: ArrayLike, factor_returns: ArrayLike, /, *, periods_per_year: int) -> float:
    """Annualised active return over annualised tracking error: empyrical ``excess_sharpe`` × √periods_per_year.

    A constant active return has zero tracking error: ±inf when it is non-zero, NaN when it is 0.
    """
    values, benchmark = _as_paired_returns(returns, factor_returns)
    if values.size < 2:
        return np.nan
    active = values - benchmark
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.divide(_nan_mean(active), _zero_dispersion_std(active)) * np.sqrt(periods_per_year))


def r_squared(returns: ArrayLike, factor_returns: ArrayLike, /) -> float:
    """Share of the returns' variance explained by the benchmark: the squared correlation over
    the days both are present; NaN with fewer than two such days or when either does not move."""
    values, benchmark = _as_paired_returns(returns, factor_returns)
    both_present = ~(np.isnan(values) | np.isnan(benchmark))
    if np.count_nonzero(both_present) < 2:
        return np.nan
    values_residual = values[both_present] - np.mean(values[both_present])
    benchmark_residual = benchmark[both_present] - np.mean(benchmark[both_present])
    variance_product = np.dot(values_residual, values_residual) * np.dot(benchmark_residual, benchmark_residual)
    if not variance_product > 0:
        return np.nan
    return float(np.dot(values_residual, benchmark_residual) ** 2 / variance_product)


def risk_metrics(
    returns: ArrayLike,
    /,
    *,
    factor_returns: ArrayLike | None = None,
    risk_free: float = 0.0,
    periods_per_year: int,
) -> RiskMetrics:
    """All risk figures for one return series; ``risk_free`` is also the Sortino and Omega threshold."""
    values = _as_returns(returns)
    if factor_returns is None:
        alpha, beta, fit, information = np.nan, np.nan, np.nan, np.nan
    else:
        alpha, beta = alpha_beta(values, factor_returns, risk_free=risk_free, periods_per_year=periods_per_year)
        fit = r_squared(values, factor_returns)
        information = information_ratio(values, factor_returns, periods_per_year=periods_per_year)
    return RiskMetrics(
        cumulative_return=cum_returns_final(values),
        annual_return=annual_return(values, periods_per_year=periods_per_year),
        annual_volatility=annual_volatility(values, periods_per_year=periods_per_year),
        sharpe_ratio=sharpe_ratio(values, risk_free=risk_free, periods_per_year=periods_per_year),
        sortino_ratio=sortino_ratio(values, required_return=risk_free, periods_per_year=periods_per_year),
        downside_risk=downside_risk(values, required_return=risk_free, periods_per_year=periods_per_year),
        calmar_ratio=calmar_ratio(values, periods_per_year=periods_per_year),
        omega_ratio=omega_ratio(values, risk_free=risk_free, periods_per_year=periods_per_year),
        max_drawdown=max_drawdown(values),
        current_drawdown=current_drawdown(values),
        alpha=alpha,
        beta=beta,
        r_squared=fit,
        information_ratio=information,
    )


# --------------------------------------------------------------------------- drawdown episodes


def drawdown_episodes(*, times: ArrayLike, wealth: ArrayLike) -> list[DrawdownEpisode]:
    """Every episode in which ``wealth`` fell below its running peak, oldest first.

    ``wealth`` must be a positive value curve free of deposits and withdrawals: a time-weighted
    wealth index (``cum_returns(r, starting_value=1)`` behind a leading 1), not raw equity. The peak
    is the last observation at the peak level before the fall, the trough is the first lowest
    point, and recovery is the first observation back at or above the peak. Requires ``times``
    sorted ascending and the same length as ``wealth``.
    """
    seconds = _epoch_seconds(times)
    curve = np.asarray(wealth, dtype=np.float64)
    if seconds.shape != curve.shape:
        raise ValueError("times and wealth must have the same length")
    if curve.size == 0:
        return []
    running_peak = np.maximum.accumulate(curve)
    is_underwater = curve < running_peak
    edges = np.diff(np.concatenate(([0], is_underwater.astype(np.int8), [0])))
    first_underwater = np.flatnonzero(edges == 1)
    back_at_peak = np.flatnonzero(edges == -1)  # == curve.size while the last drawdown is still open
    if first_underwater.size == 0:
        return []

    drawdown = curve / running_peak - 1.0
    depth = np.minimum.reduceat(drawdown, first_underwater)
    episode = np.cumsum(edges[:-1] == 1) - 1
    at_depth = np.flatnonzero(is_underwater & (drawdown == depth[episode]))
    _, first_at_depth = np.unique(episode[at_depth], return_index=True)
    trough = at_depth[first_at_depth]
    peak = first_underwater - 1

    last_second = int(seconds[-1])
    episodes = []
    for peak_index, trough_index, recovery_index, episode_depth in zip(
        peak.tolist(), trough.tolist(), back_at_peak.tolist(), depth.tolist(), strict=True
    ):
        peak_second = int(seconds[peak_index])
        trough_second = int(seconds[trough_index])
        is_recovered = recovery_index < curve.size
        recovery_second = int(seconds[recovery_index]) if is_recovered else None
        episodes.append(
            DrawdownEpisode(
                peak_time=_utc_datetime(peak_second),
                trough_time=_utc_datetime(trough_second),
                recovery_time=_utc_datetime(recovery_second) if is_recovered else None,
                depth=episode_depth,
                time_underwater=dt.timedelta(seconds=(recovery_second if is_recovered else last_second) - peak_second),
                time_to_recover=dt.timedelta(seconds=recovery_second - trough_second) if is_recovered else None,
            )
        )
    return episodes


# --------------------------------------------------------------------------- trades and attribution


def trade_statistics(*, realized_pnl: ArrayLike, holding_seconds: ArrayLike) -> TradeStatistics:
    """Win/loss statistics over closed positions: one realized P&L and one holding time each (finite values)."""
    pnl = np.asarray(realized_pnl, dtype=np.float64)
    holding = np.asarray(holding_seconds, dtype=np.float64)
    if pnl.shape != holding.shape:
        raise ValueError("realized_pnl and holding_seconds must have the same length")
    position_count = pnl.size
    wins = pnl[pnl > 0]
    losses = pnl[pnl < 0]
    win_count = wins.size
    loss_count = losses.size
    gross_profit = float(np.sum(wins))
    gross_loss = -float(np.sum(losses))
    average_win = gross_profit / win_count if win_count else np.nan
    average_loss = gross_loss / loss_count if loss_count else np.nan
    if loss_count:
        profit_factor = gross_profit / gross_loss
    else:
        profit_factor = np.inf if win_count else np.nan
    return TradeStatistics(
        position_count=position_count,
        win_count=win_count,
        loss_count=loss_count,
        break_even_count=position_count - win_count - loss_count,
        win_rate=win_count / position_count if position_count else np.nan,
        loss_rate=loss_count / position_count if position_count else np.nan,
        gross_profit=gross_profit,
        gross_loss=gross_loss,
        average_win=average_win,
        average_loss=average_loss,
        risk_reward=average_win / average_loss,
        profit_factor=profit_factor,
        expectancy=(gross_profit - gross_loss) / position_count if position_count else np.nan,
        largest_win=float(np.max(wins)) if win_count else np.nan,
        largest_loss=-float(np.min(losses)) if loss_count else np.nan,
        average_holding_seconds=float(np.mean(holding)) if position_count else np.nan,
    )


def attribute_by(*, keys: ArrayLike, values: ArrayLike) -> Attribution:
    """Sum ``values`` per distinct key: P&L by instrument, asset class or strategy tag.

    ``values`` is one column per row of ``keys`` or a 2-D array with several columns (for example
    price move, fees, slippage, funding, borrow fees, liquidation penalties), all summed in one
    pass. Keys may be integers or strings; integer ids are much faster to group.
    """
    key_array = np.asarray(keys)
    value_array = np.asarray(values, dtype=np.float64)
    if value_array.ndim not in (1, 2) or value_array.shape[0] != key_array.shape[0]:
        raise ValueError("values must have one row per key")
    distinct_keys, group = np.unique(key_array, return_inverse=True)
    group = group.reshape(-1)
    group_count = distinct_keys.size
    if value_array.ndim == 1:
        totals = np.bincount(group, weights=value_array, minlength=group_count)
    else:
        totals = np.column_stack(
            [np.bincount(group, weights=column, minlength=group_count) for column in value_array.T]
        ).reshape(group_count, value_array.shape[1])
    return Attribution(keys=distinct_keys, totals=totals, counts=np.bincount(group, minlength=group_count))


def contribution_to_return(*, pnl: ArrayLike, capital: float) -> np.ndarray:
    """Each group's P&L as a share of the capital it was earned on; the shares add up to the
    portfolio's simple return over the same span. NaN when ``capital`` is not positive."""
    amounts = np.asarray(pnl, dtype=np.float64)
    if not capital > 0:
        return np.full(amounts.shape, np.nan)
    return amounts / capital


def cost_breakdown(
    *,
    price_move: ArrayLike,
    fees: ArrayLike,
    slippage: ArrayLike,
    funding: ArrayLike,
    borrow_fees: ArrayLike,
    liquidation_penalties: ArrayLike,
) -> CostBreakdown:
    """Total P&L split into the price move and each cost; net = price move − every cost."""
    totals = [
        float(np.sum(np.asarray(component, dtype=np.float64)))
        for component in (price_move, fees, slippage, funding, borrow_fees, liquidation_penalties)
    ]
    return CostBreakdown(*totals, net_pnl=totals[0] - sum(totals[1:]))


# --------------------------------------------------------------------------- helpers


def _as_returns(returns: ArrayLike) -> np.ndarray:
    values = np.asarray(returns, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError("returns must be a 1-D array")
    return values


def _as_paired_returns(returns: ArrayLike, factor_returns: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    values = _as_returns(returns)
    benchmark = _as_returns(factor_returns)
    if values.shape != benchmark.shape:
        raise ValueError("returns and factor_returns must be aligned to the same periods")
    return values, benchmark


def _epoch_seconds(times: ArrayLike) -> np.ndarray:
    array = np.asarray(times)
    if np.issubdtype(array.dtype, np.datetime64):
        return array.astype("datetime64[s]").astype(np.int64)
    if array.size == 0:
        return np.empty(0, dtype=np.int64)
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError("times must be int64 epoch seconds or datetime64")
    return array.astype(np.int64)


def _utc_datetime(epoch_second: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch_second, tz=dt.UTC)


def _period_first_day(days: np.ndarray, period: ReturnPeriod) -> np.ndarray:
    if period is ReturnPeriod.WEEKLY:
        day_number = days.astype(np.int64)
        # Day 0 (1970-01-01) was a Thursday, so (day + 3) % 7 counts days since Monday.
        return (day_number - (day_number + 3) % 7).astype("datetime64[D]")
    if period is ReturnPeriod.MONTHLY:
        return days.astype("datetime64[M]").astype("datetime64[D]")
    if period is ReturnPeriod.QUARTERLY:
        month_number = days.astype("datetime64[M]").astype(np.int64)
        return (month_number - month_number % 3).astype("datetime64[M]").astype("datetime64[D]")
    return days.astype("datetime64[Y]").astype("datetime64[D]")


def _drawdown_series(values: np.ndarray) -> np.ndarray:
    wealth = np.concatenate(([1.0], np.cumprod(1.0 + np.nan_to_num(values, nan=0.0))))
    running_peak = np.fmax.accumulate(wealth)
    return (wealth / running_peak - 1.0)[1:]


def _nan_mean(values: np.ndarray) -> float:
    is_present = ~np.isnan(values)
    count = np.count_nonzero(is_present)
    return float(np.sum(values, where=is_present) / count) if count else np.nan


def _nan_std(values: np.ndarray) -> float:
    """Sample standard deviation (ddof 1) of the non-NaN values; NaN with fewer than two."""
    present = values[~np.isnan(values)]
    if present.size < 2:
        return np.nan
    residual = present - np.mean(present)
    return float(np.sqrt(np.dot(residual, residual) / (present.size - 1)))


def _zero_dispersion_std(values: np.ndarray) -> float:
    """The sample deviation, but exactly 0 when every present value is equal.

    The mean of identical floats can differ from them in the last bit and leave a deviation of
    about 1e-18; dividing by that residue would turn an infinite ratio into a huge finite one.
    empyrical makes the same correction.
    """
    deviation = _nan_std(values)
    present = values[~np.isnan(values)]
    if np.isfinite(deviation) and np.max(present) == np.min(present):
        return 0.0
    return deviation
