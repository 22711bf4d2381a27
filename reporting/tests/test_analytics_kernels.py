"""Tests for reporting/analytics/kernels.py (spec §8).

Risk metrics are checked against empyrical-reloaded (test-only dependency), R² against scipy's
linear regression, and everything else against hand-worked examples.
"""

import datetime as dt
import math

import empyrical
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from reporting.analytics import kernels

DAY = 86_400
UTC = dt.UTC


def _same(actual: float, expected: float) -> bool:
    """Equal as empyrical results are equal: both NaN, the same infinity, or close."""
    actual, expected = float(actual), float(expected)
    if math.isnan(expected) or math.isinf(expected):
        return actual == expected or (math.isnan(actual) and math.isnan(expected))
    return math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-12)


def _random_normal() -> np.ndarray:
    return np.random.default_rng(7).normal(0.0004, 0.012, 750)


def _long_drawdown() -> np.ndarray:
    fall = np.full(200, -0.003)
    partial_recovery = np.full(150, 0.002)
    return np.concatenate((np.full(30, 0.004), fall, partial_recovery))


def _with_nans() -> np.ndarray:
    returns = np.random.default_rng(11).normal(0.0002, 0.02, 300)
    returns[[0, 17, 18, 150, 299]] = np.nan
    return returns


RETURN_SERIES = {
    "random_normal": _random_normal(),
    "all_gains": np.array([0.01, 0.02, 0.005, 0.03, 0.001, 0.012]),
    "long_drawdown": _long_drawdown(),
    "constant_positive": np.full(40, 0.001),
    "constant_negative": np.full(40, -0.002),
    "all_zero": np.zeros(40),
    "with_nans": _with_nans(),
    "single": np.array([0.01]),
    "empty": np.array([], dtype=float),
    "all_nan": np.full(5, np.nan),
    "nan_and_one_value": np.array([np.nan, 0.01, np.nan]),
}

PERIODS_PER_YEAR = [kernels.CRYPTO_PERIODS_PER_YEAR, kernels.TRADING_PERIODS_PER_YEAR]


def _benchmarks(returns: np.ndarray) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    correlated = 0.6 * np.nan_to_num(returns) + rng.normal(0.0001, 0.008, returns.size)
    with_gaps = correlated.copy()
    with_gaps[::13] = np.nan
    return {
        "correlated": correlated,
        "independent": rng.normal(0.0003, 0.01, returns.size),
        "constant": np.full(returns.size, 0.0005),
        "with_gaps": with_gaps,
    }


# --------------------------------------------------------------------------- empyrical cross-checks


@pytest.mark.parametrize("periods_per_year", PERIODS_PER_YEAR)
@pytest.mark.parametrize("series_name", RETURN_SERIES)
def test_single_series_metrics_match_empyrical(series_name, periods_per_year):
    # Given a return series, including degenerate ones (empty, constant, all NaN)
    returns = RETURN_SERIES[series_name]
    risk_free = 0.00005

    # When every single-series metric is computed, then each equals empyrical's value
    # (NaN and ±inf included), with no ZeroDivisionError on the way
    pairs = {
        "cum_returns_final": (kernels.cum_returns_final(returns), empyrical.cum_returns_final(returns)),
        "annual_return": (
            kernels.annual_return(returns, periods_per_year=periods_per_year),
            empyrical.annual_return(returns, annualization=periods_per_year),
        ),
        "annual_volatility": (
            kernels.annual_volatility(returns, periods_per_year=periods_per_year),
            empyrical.annual_volatility(returns, annualization=periods_per_year),
        ),
        "max_drawdown": (kernels.max_drawdown(returns), empyrical.max_drawdown(returns)),
        "calmar_ratio": (
            kernels.calmar_ratio(returns, periods_per_year=periods_per_year),
            empyrical.calmar_ratio(returns, annualization=periods_per_year),
        ),
        "sharpe_ratio": (
            kernels.sharpe_ratio(returns, periods_per_year=periods_per_year),
            empyrical.sharpe_ratio(returns, annualization=periods_per_year),
        ),
        "sharpe_ratio_with_risk_free": (
            kernels.sharpe_ratio(returns, risk_free=risk_free, periods_per_year=periods_per_year),
            empyrical.sharpe_ratio(returns, risk_free=risk_free, annualization=periods_per_year),
        ),
        "sortino_ratio": (
            kernels.sortino_ratio(returns, required_return=risk_free, periods_per_year=periods_per_year),
            empyrical.sortino_ratio(returns, required_return=risk_free, annualization=periods_per_year),
        ),
        "downside_risk": (
            kernels.downside_risk(returns, required_return=risk_free, periods_per_year=periods_per_year),
            empyrical.downside_risk(returns, required_return=risk_free, annualization=periods_per_year),
        ),
        "omega_ratio": (
            kernels.omega_ratio(
                returns, risk_free=risk_free, required_return=0.04, periods_per_year=periods_per_year
            ),
            empyrical.omega_ratio(returns, risk_free=risk_free, required_return=0.04, annualization=periods_per_year),
        ),
    }
    mismatches = {name: pair for name, pair in pairs.items() if not _same(*pair)}
    assert mismatches == {}


@pytest.mark.parametrize("series_name", ["random_normal", "long_drawdown", "with_nans", "empty"])
def test_cumulative_returns_and_wealth_curve_match_empyrical(series_name):
    returns = RETURN_SERIES[series_name]
    np.testing.assert_allclose(kernels.cum_returns(returns), empyrical.cum_returns(returns), rtol=1e-12)
    np.testing.assert_allclose(
        kernels.cum_returns(returns, starting_value=100.0),
        empyrical.cum_returns(returns, starting_value=100.0),
        rtol=1e-12,
    )


@pytest.mark.parametrize("periods_per_year", PERIODS_PER_YEAR)
@pytest.mark.parametrize("series_name", ["random_normal", "long_drawdown", "constant_positive", "with_nans", "single"])
def test_benchmark_relative_metrics_match_empyrical(series_name, periods_per_year):
    # Given a return series and several benchmarks (correlated, independent, flat, with gaps)
    returns = RETURN_SERIES[series_name]
    for benchmark_name, benchmark in _benchmarks(returns).items():
        # When alpha, beta and the information ratio are computed
        alpha, beta = kernels.alpha_beta(returns, benchmark, risk_free=0.0001, periods_per_year=periods_per_year)
        information = kernels.information_ratio(returns, benchmark, periods_per_year=periods_per_year)

        # Then they equal empyrical's alpha_beta and its excess_sharpe annualised by √periods_per_year
        expected_alpha, expected_beta = empyrical.alpha_beta(
            returns, benchmark, risk_free=0.0001, annualization=periods_per_year
        )
        expected_information = empyrical.excess_sharpe(returns, benchmark) * np.sqrt(periods_per_year)
        assert _same(alpha, expected_alpha), benchmark_name
        assert _same(beta, expected_beta), benchmark_name
        assert _same(information, expected_information), benchmark_name


def test_flat_benchmark_gives_undefined_beta_not_a_crash():
    # Given a benchmark that never moves
    returns = RETURN_SERIES["random_normal"]

    # When beta is asked for, then it is NaN (empyrical does the same), and so is alpha
    alpha, beta = kernels.alpha_beta(returns, np.full(returns.size, 0.001), periods_per_year=252)
    assert math.isnan(alpha) and math.isnan(beta)


@pytest.mark.parametrize("series_name", ["random_normal", "with_nans", "long_drawdown"])
def test_r_squared_is_the_squared_correlation_of_a_linear_fit(series_name):
    # Given returns and a correlated benchmark with gaps
    returns = RETURN_SERIES[series_name]
    benchmark = _benchmarks(returns)["with_gaps"]

    # When R² is computed
    fit = kernels.r_squared(returns, benchmark)

    # Then it equals scipy's regression r² over the days both series are present
    both = ~(np.isnan(returns) | np.isnan(benchmark))
    expected = stats.linregress(benchmark[both], returns[both]).rvalue ** 2
    assert fit == pytest.approx(expected, rel=1e-10)


def test_r_squared_is_undefined_when_either_series_is_flat():
    returns = RETURN_SERIES["random_normal"]
    assert math.isnan(kernels.r_squared(returns, np.zeros(returns.size)))
    assert math.isnan(kernels.r_squared(np.full(5, 0.01), np.arange(5) / 100))
    assert math.isnan(kernels.r_squared(np.array([0.01]), np.array([0.02])))


def test_risk_metrics_bundle_matches_empyrical():
    # Given daily returns of a crypto-only portfolio, a benchmark and a 4% annual risk-free rate
    returns = RETURN_SERIES["with_nans"]
    benchmark = _benchmarks(returns)["correlated"]
    periods_per_year = kernels.daily_periods_per_year(is_crypto_only=True)
    risk_free = kernels.risk_free_per_period(annual_rate=0.04, periods_per_year=periods_per_year)

    # When the whole bundle is computed
    metrics = kernels.risk_metrics(
        returns, factor_returns=benchmark, risk_free=risk_free, periods_per_year=periods_per_year
    )

    # Then each figure is empyrical's (risk-free as the Sortino and Omega threshold)
    expected_alpha, expected_beta = empyrical.alpha_beta(returns, benchmark, risk_free=risk_free, annualization=365)
    expected = {
        "cumulative_return": empyrical.cum_returns_final(returns),
        "annual_return": empyrical.annual_return(returns, annualization=365),
        "annual_volatility": empyrical.annual_volatility(returns, annualization=365),
        "sharpe_ratio": empyrical.sharpe_ratio(returns, risk_free=risk_free, annualization=365),
        "sortino_ratio": empyrical.sortino_ratio(returns, required_return=risk_free, annualization=365),
        "downside_risk": empyrical.downside_risk(returns, required_return=risk_free, annualization=365),
        "calmar_ratio": empyrical.calmar_ratio(returns, annualization=365),
        "omega_ratio": empyrical.omega_ratio(returns, risk_free=risk_free, annualization=365),
        "max_drawdown": empyrical.max_drawdown(returns),
        "alpha": expected_alpha,
        "beta": expected_beta,
        "information_ratio": empyrical.excess_sharpe(returns, benchmark) * np.sqrt(365),
    }
    mismatches = {
        name: (getattr(metrics, name), value)
        for name, value in expected.items()
        if not _same(getattr(metrics, name), value)
    }
    assert mismatches == {}
    assert math.isnan(kernels.risk_metrics(returns, periods_per_year=365).beta)


_basis_point_or_gap = st.one_of(
    st.integers(min_value=-3000, max_value=3000).map(lambda bp: bp / 10_000), st.just(math.nan)
)
aligned_return_pairs = st.integers(min_value=0, max_value=40).flatmap(
    lambda size: st.tuples(
        st.lists(_basis_point_or_gap, min_size=size, max_size=size),
        st.lists(_basis_point_or_gap, min_size=size, max_size=size),
    ).map(lambda pair: (np.array(pair[0], dtype=float), np.array(pair[1], dtype=float)))
)


@settings(max_examples=100, deadline=None)
@given(pair=aligned_return_pairs, periods_per_year=st.sampled_from(PERIODS_PER_YEAR))
def test_any_return_series_matches_empyrical_and_never_raises(pair, periods_per_year):
    # Given any short series of returns and a benchmark, both with NaN gaps and degenerate runs
    returns, benchmark = pair

    # When metrics are computed, then they agree with empyrical whatever the degeneracy
    pairs = {
        "sharpe": (
            kernels.sharpe_ratio(returns, risk_free=0.0001, periods_per_year=periods_per_year),
            empyrical.sharpe_ratio(returns, risk_free=0.0001, annualization=periods_per_year),
        ),
        "sortino": (
            kernels.sortino_ratio(returns, periods_per_year=periods_per_year),
            empyrical.sortino_ratio(returns, annualization=periods_per_year),
        ),
        "max_drawdown": (kernels.max_drawdown(returns), empyrical.max_drawdown(returns)),
        "calmar": (
            kernels.calmar_ratio(returns, periods_per_year=periods_per_year),
            empyrical.calmar_ratio(returns, annualization=periods_per_year),
        ),
        "annual_return": (
            kernels.annual_return(returns, periods_per_year=periods_per_year),
            empyrical.annual_return(returns, annualization=periods_per_year),
        ),
        "annual_volatility": (
            kernels.annual_volatility(returns, periods_per_year=periods_per_year),
            empyrical.annual_volatility(returns, annualization=periods_per_year),
        ),
        "omega": (
            kernels.omega_ratio(returns, risk_free=0.0001, required_return=0.03, periods_per_year=periods_per_year),
            empyrical.omega_ratio(returns, risk_free=0.0001, required_return=0.03, annualization=periods_per_year),
        ),
        "information_ratio": (
            kernels.information_ratio(returns, benchmark, periods_per_year=periods_per_year),
            empyrical.excess_sharpe(returns, benchmark) * np.sqrt(periods_per_year),
        ),
    }
    alpha, beta = kernels.alpha_beta(returns, benchmark, risk_free=0.0001, periods_per_year=periods_per_year)
    expected_alpha, expected_beta = empyrical.alpha_beta(
        returns, benchmark, risk_free=0.0001, annualization=periods_per_year
    )
    pairs["alpha"], pairs["beta"] = (alpha, expected_alpha), (beta, expected_beta)
    mismatches = {name: values for name, values in pairs.items() if not _same(*values)}
    assert mismatches == {}


def test_current_drawdown_is_the_fall_from_the_running_peak():
    # Given +10%, then −10%, then +5%: wealth 1.10 → 0.99 → 1.0395 below the 1.10 peak
    returns = np.array([0.10, -0.10, 0.05])

    # When the current drawdown is computed, then it is 1.0395 / 1.10 − 1
    assert kernels.current_drawdown(returns) == pytest.approx(1.0395 / 1.10 - 1, rel=1e-12)
    assert kernels.current_drawdown(np.array([0.01, 0.02])) == 0.0
    assert math.isnan(kernels.current_drawdown(np.array([])))


def test_annualisation_follows_the_asset_mix_and_risk_free_compounds():
    assert kernels.daily_periods_per_year(is_crypto_only=True) == 365
    assert kernels.daily_periods_per_year(is_crypto_only=False) == 252
    daily_rate = kernels.risk_free_per_period(annual_rate=0.05, periods_per_year=365)
    assert (1 + daily_rate) ** 365 == pytest.approx(1.05, rel=1e-12)


# --------------------------------------------------------------------------- time-weighted returns


def test_deposit_never_counts_as_return():
    # Given 100 growing to 110 (+10%), a 50 deposit recorded with the 160 snapshot, then 176 (+10%)
    times = np.array([0, DAY, 2 * DAY])
    equity = np.array([100.0, 160.0, 176.0])

    # When time-weighted returns are computed
    returns = kernels.time_weighted_returns(
        times=times, equity=equity, flow_times=np.array([DAY]), flow_amounts=np.array([50.0])
    )

    # Then each period earned 10% and the whole span 21%, not the 76% equity growth
    np.testing.assert_allclose(returns, [0.10, 0.10], rtol=1e-12)
    assert kernels.cum_returns_final(returns) == pytest.approx(0.21, rel=1e-12)


def test_withdrawal_is_not_a_loss_and_pure_cash_movements_are_flat():
    # Given 1000 with no market move, a 300 withdrawal, then a 500 deposit
    times = np.array([0, 10, 20])
    equity = np.array([1000.0, 700.0, 1200.0])
    flows = np.array([-300.0, 500.0])

    # When returns are computed, then nothing was earned or lost
    returns = kernels.time_weighted_returns(
        times=times, equity=equity, flow_times=np.array([10, 20]), flow_amounts=flows
    )
    np.testing.assert_array_equal(returns, [0.0, 0.0])


def test_flow_between_snapshots_is_weighted_by_time_invested():
    # Given 1000 at t=0, a 500 deposit at t=25 and 1600 at t=100 (Modified Dietz)
    # r = (1600 − 1000 − 500) / (1000 + 500 × 75/100) = 100 / 1375
    returns = kernels.time_weighted_returns(
        times=np.array([0, 100]),
        equity=np.array([1000.0, 1600.0]),
        flow_times=np.array([25]),
        flow_amounts=np.array([500.0]),
    )
    assert returns == pytest.approx([100 / 1375], rel=1e-12)


def test_flows_outside_the_snapshots_are_ignored_and_datetimes_work():
    # Given the opening deposit stamped with the first snapshot and a deposit after the last one
    times = np.array(["2024-01-01T00:00:00", "2024-01-02T00:00:00"], dtype="datetime64[s]")
    flow_times = np.array(["2024-01-01T00:00:00", "2024-01-03T00:00:00"], dtype="datetime64[s]")

    # When returns are computed, then only the market move counts
    returns = kernels.time_weighted_returns(
        times=times,
        equity=np.array([5_000_000.0, 5_100_000.0]),
        flow_times=flow_times,
        flow_amounts=np.array([5e6, 1e6]),
    )
    assert returns == pytest.approx([0.02], rel=1e-12)


def test_period_without_capital_has_no_return_instead_of_crashing():
    # Given an empty portfolio funded at the second snapshot
    returns = kernels.time_weighted_returns(
        times=np.array([0, 10, 20]),
        equity=np.array([0.0, 100.0, 110.0]),
        flow_times=np.array([10]),
        flow_amounts=np.array([100.0]),
    )
    assert math.isnan(returns[0]) and returns[1] == pytest.approx(0.10)
    assert kernels.time_weighted_returns(times=[0], equity=[1.0], flow_times=[], flow_amounts=[]).size == 0


@settings(max_examples=60, deadline=None)
@given(
    market=st.lists(st.floats(min_value=-0.2, max_value=0.2), min_size=1, max_size=30),
    flow_seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_chained_twr_equals_the_market_return_whatever_the_cash_flows(market, flow_seed):
    # Given equity that earns the market return each period and then takes a random deposit or
    # withdrawal recorded with the snapshot
    market_returns = np.array(market)
    flows = np.random.default_rng(flow_seed).uniform(-300.0, 2000.0, market_returns.size)
    equity = [10_000.0]
    for market_return, flow in zip(market_returns, flows, strict=True):
        equity.append(equity[-1] * (1 + market_return) + flow)
    times = np.arange(market_returns.size + 1) * 3600

    # When time-weighted returns are computed
    returns = kernels.time_weighted_returns(
        times=times, equity=np.array(equity), flow_times=times[1:], flow_amounts=flows
    )

    # Then they are the market returns: the flows added nothing
    np.testing.assert_allclose(returns, market_returns, rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------- daily resampling


def test_periods_compound_into_their_utc_day_and_midnight_closes_the_previous_day():
    # Given period returns ending: day 0 at 10:00 and at midnight (closing day 0), day 2 at noon
    end_times = np.array([10 * 3600, DAY, 2 * DAY + 12 * 3600])
    returns = np.array([0.10, 0.10, -0.05])

    # When resampled to daily closes
    days, daily = kernels.resample_daily(period_end_times=end_times, returns=returns)

    # Then day 0 compounds both, day 1 saw no period (flat), day 2 took the loss
    np.testing.assert_array_equal(days, np.array(["1970-01-01", "1970-01-02", "1970-01-03"], dtype="datetime64[D]"))
    np.testing.assert_allclose(daily, [0.21, 0.0, -0.05], rtol=1e-12)


def test_weekend_returns_roll_into_the_next_session():
    # Given a stock portfolio's sessions Fri 2024-01-05 and Mon 2024-01-08, and returns on Fri, Sat and Mon
    sessions = np.array(["2024-01-05", "2024-01-08"], dtype="datetime64[D]")
    end_times = np.array(
        ["2024-01-05T20:00", "2024-01-06T20:00", "2024-01-08T20:00", "2024-01-09T20:00"], dtype="datetime64[s]"
    )
    returns = np.array([0.01, 0.02, 0.03, 0.04])

    # When resampled on the session calendar
    days, daily = kernels.resample_daily(period_end_times=end_times, returns=returns, session_days=sessions)

    # Then Saturday's return lands on Monday and Tuesday (after the last session) is left out
    np.testing.assert_array_equal(days, sessions)
    np.testing.assert_allclose(daily, [0.01, 1.02 * 1.03 - 1], rtol=1e-12)


def test_day_of_only_undefined_periods_is_undefined_and_nans_are_skipped():
    end_times = np.array([3600, 7200, DAY + 3600])
    days, daily = kernels.resample_daily(period_end_times=end_times, returns=np.array([np.nan, 0.02, np.nan]))
    assert days.size == 2
    assert daily[0] == pytest.approx(0.02) and math.isnan(daily[1])
    assert kernels.resample_daily(period_end_times=np.array([], dtype=np.int64), returns=np.array([]))[0].size == 0


# --------------------------------------------------------------------------- period returns


def _hand_made_closes():
    # Daily closes from 2023-12-01 to 2024-03-15, wavy so that no two windows share a return
    days = np.arange(np.datetime64("2023-12-01"), np.datetime64("2024-03-16"))
    index = np.arange(days.size)
    closes = 100.0 * (1 + 0.002 * index + 0.03 * np.sin(index / 3))
    return days, closes


def _close_on(days, closes, day: str) -> float:
    return float(closes[np.flatnonzero(days == np.datetime64(day))[0]])


def test_period_returns_equal_ratios_of_known_closes():
    # Given daily closes and their daily returns (the first close is the starting value)
    days, closes = _hand_made_closes()
    returns = closes[1:] / closes[:-1] - 1

    # When returns are summarised as of Thursday 2024-03-14
    summary = kernels.period_returns(days[1:], returns, as_of=dt.date(2024, 3, 14))

    # Then each is a ratio of two closes
    def ratio(end: str, base: str) -> float:
        return _close_on(days, closes, end) / _close_on(days, closes, base) - 1

    assert summary.day == pytest.approx(ratio("2024-03-14", "2024-03-13"), rel=1e-10)
    assert summary.week_to_date == pytest.approx(ratio("2024-03-14", "2024-03-10"), rel=1e-10)  # since Sunday's close
    assert summary.month_to_date == pytest.approx(ratio("2024-03-14", "2024-02-29"), rel=1e-10)
    assert summary.quarter_to_date == pytest.approx(ratio("2024-03-14", "2023-12-31"), rel=1e-10)
    assert summary.year_to_date == pytest.approx(ratio("2024-03-14", "2023-12-31"), rel=1e-10)
    assert summary.all_time == pytest.approx(ratio("2024-03-14", "2023-12-01"), rel=1e-10)
    assert summary.trailing_7_days == pytest.approx(ratio("2024-03-14", "2024-03-07"), rel=1e-10)
    assert summary.trailing_30_days == pytest.approx(ratio("2024-03-14", "2024-02-13"), rel=1e-10)
    assert summary.trailing_90_days == pytest.approx(ratio("2024-03-14", "2023-12-15"), rel=1e-10)
    assert math.isnan(summary.trailing_365_days)  # history is shorter than a year


def test_monthly_return_compounds_from_known_closes_and_matches_empyrical():
    # Given daily closes and their returns
    days, closes = _hand_made_closes()
    returns = closes[1:] / closes[:-1] - 1

    # When aggregated by month
    months, monthly = kernels.aggregate_returns(days[1:], returns, convert_to=kernels.ReturnPeriod.MONTHLY)

    # Then February 2024 is Feb 29 close over Jan 31 close
    february = np.flatnonzero(months == np.datetime64("2024-02-01"))[0]
    assert monthly[february] == pytest.approx(
        _close_on(days, closes, "2024-02-29") / _close_on(days, closes, "2024-01-31") - 1, rel=1e-10
    )
    # And every bucketing equals empyrical's aggregate_returns, ISO weeks across the new year included
    series = pd.Series(returns, index=pd.DatetimeIndex(days[1:]))
    for period in kernels.ReturnPeriod:
        labels, aggregated = kernels.aggregate_returns(days[1:], returns, convert_to=period)
        expected = empyrical.aggregate_returns(series, period.value)
        np.testing.assert_allclose(aggregated, expected.to_numpy(), rtol=1e-10)
        assert len(labels) == len(expected)
    weeks, _ = kernels.aggregate_returns(days[1:], returns, convert_to=kernels.ReturnPeriod.WEEKLY)
    iso_weeks = [pd.Timestamp(week).isocalendar()[:2] for week in weeks]
    assert iso_weeks == [tuple(key) for key in empyrical.aggregate_returns(series, "weekly").index]


def test_rolling_returns_match_close_ratios_and_are_undefined_before_a_full_window():
    # Given daily closes and their returns
    days, closes = _hand_made_closes()
    returns = closes[1:] / closes[:-1] - 1

    # When rolling 30-day returns are computed
    rolling = kernels.rolling_returns(days[1:], returns, window_days=30)

    # Then each full window is a ratio of closes 30 days apart; earlier windows are NaN
    assert np.all(np.isnan(rolling[:29]))
    np.testing.assert_allclose(rolling[29:], closes[30:] / closes[:-30] - 1, rtol=1e-10)
    assert kernels.rolling_returns(days[1:], returns, window_days=1) == pytest.approx(returns, rel=1e-10)


# --------------------------------------------------------------------------- drawdown episodes


def test_drawdown_episodes_on_a_hand_made_curve():
    # Given a wealth curve with a recovered 20% drawdown and an open 25% one from a flat top
    wealth = np.array([100, 110, 99, 88, 105, 110, 120, 120, 90, 100], dtype=float)
    start = dt.datetime(2024, 1, 1, tzinfo=UTC)
    times = np.datetime64("2024-01-01") + np.arange(wealth.size).astype("timedelta64[D]")

    # When the episodes are listed
    episodes = kernels.drawdown_episodes(times=times, wealth=wealth)

    # Then both are found with their peak, trough, recovery and durations
    day = dt.timedelta(days=1)
    first, second = episodes
    assert (first.peak_time, first.trough_time, first.recovery_time) == (start + day, start + 3 * day, start + 5 * day)
    assert first.depth == pytest.approx(88 / 110 - 1, rel=1e-12)
    assert (first.time_underwater, first.time_to_recover) == (4 * day, 2 * day)
    assert (second.peak_time, second.trough_time, second.recovery_time) == (start + 7 * day, start + 8 * day, None)
    assert second.depth == pytest.approx(-0.25, rel=1e-12)
    assert (second.time_underwater, second.time_to_recover) == (2 * day, None)
    # And the deepest episode is the maximum drawdown of the same curve's returns
    assert min(episode.depth for episode in episodes) == pytest.approx(
        empyrical.max_drawdown(wealth[1:] / wealth[:-1] - 1), rel=1e-12
    )


def test_rising_curve_and_empty_curve_have_no_episodes():
    assert kernels.drawdown_episodes(times=np.arange(4), wealth=np.array([1.0, 1.0, 1.1, 1.2])) == []
    assert kernels.drawdown_episodes(times=np.array([], dtype=np.int64), wealth=np.array([])) == []


# --------------------------------------------------------------------------- trade statistics


def test_trade_statistics_worked_example():
    # Given six closed positions: three wins, two losses, one break-even
    pnl = np.array([100.0, -50.0, 0.0, 200.0, -25.0, 75.0])
    holding = np.array([60, 120, 30, 3600, 600, 90])

    # When statistics are computed
    result = kernels.trade_statistics(realized_pnl=pnl, holding_seconds=holding)

    # Then (worked by hand): wins 375 over 3, losses 75 over 2, rates over all 6 positions
    assert (result.position_count, result.win_count, result.loss_count, result.break_even_count) == (6, 3, 2, 1)
    assert result.win_rate == pytest.approx(0.5)
    assert result.loss_rate == pytest.approx(1 / 3)
    assert (result.gross_profit, result.gross_loss) == (375.0, 75.0)
    assert (result.average_win, result.average_loss) == (125.0, 37.5)
    assert result.risk_reward == pytest.approx(125 / 37.5)
    assert result.profit_factor == pytest.approx(5.0)
    assert result.expectancy == pytest.approx(0.5 * 125 - (1 / 3) * 37.5)  # = 50 = mean P&L
    assert (result.largest_win, result.largest_loss) == (200.0, 50.0)
    assert result.average_holding_seconds == pytest.approx(4500 / 6)


def test_trade_statistics_without_losses_or_trades():
    # Given only winners, then the profit factor is infinite and loss figures are undefined
    winners = kernels.trade_statistics(realized_pnl=np.array([10.0, 30.0]), holding_seconds=np.array([1, 3]))
    assert winners.profit_factor == math.inf
    assert math.isnan(winners.average_loss) and math.isnan(winners.risk_reward) and math.isnan(winners.largest_loss)
    assert winners.expectancy == pytest.approx(20.0)

    # Given only losers, expectancy is still the mean P&L
    losers = kernels.trade_statistics(realized_pnl=np.array([-10.0, -30.0]), holding_seconds=np.array([1, 3]))
    assert losers.profit_factor == 0.0 and losers.expectancy == pytest.approx(-20.0)

    # Given no closed positions, every ratio is undefined
    empty = kernels.trade_statistics(realized_pnl=np.array([]), holding_seconds=np.array([]))
    assert empty.position_count == 0
    assert all(
        math.isnan(value)
        for value in (empty.win_rate, empty.profit_factor, empty.expectancy, empty.average_holding_seconds)
    )


# --------------------------------------------------------------------------- attribution


def test_pnl_is_summed_per_instrument_with_cost_columns():
    # Given four trades on three instruments with price move and fee columns
    keys = np.array(["BTC", "ETH", "BTC", "SPY"])
    values = np.array([[100.0, 1.0], [-40.0, 0.5], [60.0, 2.0], [10.0, 0.1]])

    # When attributed by instrument
    by_instrument = kernels.attribute_by(keys=keys, values=values)

    # Then each instrument gets its rows' sums, keys sorted
    assert by_instrument.keys.tolist() == ["BTC", "ETH", "SPY"]
    np.testing.assert_allclose(by_instrument.totals, [[160.0, 3.0], [-40.0, 0.5], [10.0, 0.1]])
    assert by_instrument.counts.tolist() == [2, 1, 1]

    # And one value column works with integer keys
    by_class = kernels.attribute_by(keys=np.array([2, 1, 2, 1]), values=np.array([1.0, 2.0, 3.0, 4.0]))
    assert by_class.keys.tolist() == [1, 2] and by_class.totals.tolist() == [6.0, 4.0]


def test_contributions_add_up_to_the_portfolio_return():
    # Given P&L by instrument earned on 5,000,000 of capital
    contributions = kernels.contribution_to_return(pnl=np.array([50_000.0, -20_000.0, 5_000.0]), capital=5_000_000.0)

    # Then each is its share of capital and together they are the 0.7% portfolio return
    np.testing.assert_allclose(contributions, [0.01, -0.004, 0.001])
    assert contributions.sum() == pytest.approx(35_000 / 5_000_000)
    assert np.all(np.isnan(kernels.contribution_to_return(pnl=np.array([1.0]), capital=0.0)))


def test_cost_breakdown_nets_every_cost_from_the_price_move():
    breakdown = kernels.cost_breakdown(
        price_move=np.array([1000.0, -200.0]),
        fees=np.array([4.0, 2.0]),
        slippage=np.array([3.0, 1.0]),
        funding=np.array([5.0, -2.0]),  # paid 5, received 2
        borrow_fees=np.array([0.0, 1.5]),
        liquidation_penalties=np.array([0.0, 10.0]),
    )
    assert (breakdown.price_move, breakdown.fees, breakdown.funding) == (800.0, 6.0, 3.0)
    assert breakdown.net_pnl == pytest.approx(800 - 6 - 4 - 3 - 1.5 - 10)
