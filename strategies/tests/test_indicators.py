"""strategies.indicators against TA-Lib, incremental against vectorised, and VWAP by hand.

Tolerance against TA-Lib: 1e-9 relative with an absolute floor of 1e-9 of the series' price level
(1e-9 for oscillators): TA-Lib writes some recurrences in another order (Wilder as (y·(n−1)+x)/n),
so the last bits differ. Incremental against vectorised: exactly equal, NaN at the same bars.

TA-Lib treats anything below 1e-8 as zero, which flattens series priced in fractions of a cent, and
squares prices for Bollinger's variance, which loses precision on large ones; the tiny and huge
series are therefore checked by scale: ours on price × s against TA-Lib's on price, times s for
outputs in price units.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from strategies import indicators
from strategies.indicators import INDICATORS, OHLCV

talib = pytest.importorskip("talib")

LENGTH = 600


def make_series(kind: str, seed: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "flat":
        close = np.full(LENGTH, 100.25)
        high, low = close.copy(), close.copy()
    else:
        steps = rng.normal(0.0, 1.0, LENGTH)
        if kind == "gaps":
            steps[rng.choice(LENGTH, 12, replace=False)] += rng.choice([-25.0, 25.0], 12)
        close = 200.0 + np.cumsum(steps)
        high = close + rng.uniform(0.0, 1.5, LENGTH)
        low = close - rng.uniform(0.0, 1.5, LENGTH)
        if kind == "gaps":  # unchanged bars too: equal closes and highs, zero range
            close[100:110], high[100:110], low[100:110] = close[100], close[100], close[100]
    volume = rng.uniform(10.0, 1000.0, LENGTH)
    time = 1_790_000_000 + np.arange(LENGTH, dtype=np.int64) * 300
    return {"time": time, "open": close, "high": high, "low": low, "close": close, "volume": volume}


def talib_values(name: str, series: dict, params: dict) -> tuple[np.ndarray, ...]:
    high, low, close, volume = series["high"], series["low"], series["close"], series["volume"]
    match name:
        case "sma":
            return (talib.SMA(close, params["period"]),)
        case "ema":
            return (talib.EMA(close, params["period"]),)
        case "rsi":
            return (talib.RSI(close, params["period"]),)
        case "macd":
            return talib.MACD(close, params["fast"], params["slow"], params["signal"])
        case "bollinger":
            return talib.BBANDS(close, params["period"], params["deviations"], params["deviations"], 0)
        case "atr":
            return (talib.ATR(high, low, close, params["period"]),)
        case "adx":
            return (talib.ADX(high, low, close, params["period"]),)
        case "stochastic":
            return talib.STOCH(high, low, close, params["k_period"], params["k_smoothing"], 0, params["d_period"], 0)
        case "obv":
            return (talib.OBV(close, volume),)
        case "cci":
            return (talib.CCI(high, low, close, params["period"]),)
        case "williams_r":
            return (talib.WILLR(high, low, close, params["period"]),)
        case "mfi":
            return (talib.MFI(high, low, close, volume, params["period"]),)
    raise AssertionError(name)


TALIB_NAMES = [name for name in INDICATORS if name != "vwap"]
NON_DEFAULT = {
    "sma": {"period": 7}, "ema": {"period": 50}, "rsi": {"period": 3}, "macd": {"fast": 5, "slow": 35, "signal": 4},
    "bollinger": {"period": 9, "deviations": 1.5}, "atr": {"period": 1}, "adx": {"period": 5},
    "stochastic": {"k_period": 5, "k_smoothing": 1, "d_period": 4}, "obv": {}, "cci": {"period": 5},
    "williams_r": {"period": 30}, "mfi": {"period": 4}, "vwap": {},
}


def assert_close_to_talib(name: str, ours, theirs, *, price_level: float) -> None:
    for (_, unit), our_values, their_values in zip(INDICATORS[name].outputs, ours, theirs, strict=True):
        np.testing.assert_array_equal(np.isnan(our_values), np.isnan(their_values))
        floor = 1e-9 * (price_level if unit == "price" else 1.0)
        if unit == "volume":
            floor = 1e-9 * float(np.nanmax(np.abs(their_values), initial=0.0))
        np.testing.assert_allclose(our_values, their_values, rtol=1e-9, atol=floor)


@pytest.mark.parametrize("kind", ["random_walk", "gaps", "flat"])
@pytest.mark.parametrize("defaults", [True, False], ids=["default", "non_default"])
@pytest.mark.parametrize("name", TALIB_NAMES)
def test_matches_talib(name, kind, defaults):
    spec = INDICATORS[name]
    params = spec.parameters_from({} if defaults else NON_DEFAULT[name])
    series = make_series(kind)

    assert_close_to_talib(name, spec.compute(series, params), talib_values(name, series, params), price_level=200.0)


@pytest.mark.parametrize("scale", [1e-6, 1e7], ids=["tiny", "huge"])
@pytest.mark.parametrize("name", TALIB_NAMES)
def test_matches_talib_at_any_price_scale(name, scale):
    spec = INDICATORS[name]
    params = spec.parameters_from({})
    series = make_series("random_walk")
    scaled = {**series, **{field: series[field] * scale for field in ("open", "high", "low", "close")}}

    theirs = talib_values(name, series, params)
    expected = tuple(values * scale if unit == "price" else values
                     for (_, unit), values in zip(spec.outputs, theirs, strict=True))
    ours = spec.compute(scaled, params)
    for (_, unit), our_values, expected_values in zip(spec.outputs, ours, expected, strict=True):
        np.testing.assert_array_equal(np.isnan(our_values), np.isnan(expected_values))
        floor = 1e-9 * 200.0 * scale if unit == "price" else 1e-7
        if unit == "volume":
            floor = 1e-9 * float(np.nanmax(np.abs(expected_values), initial=0.0))
        np.testing.assert_allclose(our_values, expected_values, rtol=1e-8, atol=floor)


def incremental_values(name: str, series: dict, params: dict) -> tuple[np.ndarray, ...]:
    indicator = INDICATORS[name].incremental_from(params)
    rows = [indicator.update(OHLCV(int(time), open_, high, low, close, volume)) for time, open_, high, low, close, volume
            in zip(*(series[field].tolist() for field in OHLCV._fields), strict=True)]
    if len(INDICATORS[name].outputs) == 1:
        return (np.array(rows, dtype=float),)
    return tuple(np.array([row[index] for row in rows], dtype=float) for index in range(len(INDICATORS[name].outputs)))


@pytest.mark.parametrize("kind", ["random_walk", "gaps", "flat"])
@pytest.mark.parametrize("defaults", [True, False], ids=["default", "non_default"])
@pytest.mark.parametrize("name", list(INDICATORS))
def test_incremental_equals_vectorised_exactly(name, kind, defaults):
    spec = INDICATORS[name]
    params = spec.parameters_from({} if defaults else NON_DEFAULT[name])
    series = make_series(kind)

    for vectorised, incremental in zip(spec.compute(series, params), incremental_values(name, series, params),
                                       strict=True):
        np.testing.assert_array_equal(incremental, vectorised)  # NaN where NaN, every other bit equal


@pytest.mark.parametrize("name", list(INDICATORS))
@pytest.mark.parametrize("length", [0, 1, 5])
def test_series_shorter_than_the_warm_up_are_all_nan(name, length):
    spec = INDICATORS[name]
    params = spec.parameters_from({})
    series = {field: values[:length] for field, values in make_series("random_walk").items()}

    for values in spec.compute(series, params):
        assert len(values) == length
        if name not in ("obv", "vwap"):
            assert np.isnan(values).all()


def test_vwap_by_hand_resets_at_the_utc_day():
    day = 1_790_121_600  # 2026-09-22 00:00 UTC
    time = np.array([day - 120, day - 60, day, day + 60, day + 120])
    high = np.array([11.0, 12.0, 21.0, 24.0, 22.0])
    low = np.array([9.0, 9.0, 19.0, 18.0, 20.0])
    close = np.array([10.0, 12.0, 20.0, 21.0, 21.0])
    volume = np.array([100.0, 300.0, 0.0, 50.0, 150.0])

    result = indicators.vwap(time, high, low, close, volume)

    # Typical prices 10, 11, 20, 21, 21. Day one: (10·100) = 1000 / 100; (1000 + 11·300) = 4300 / 400.
    # Day two: no volume yet, then 21·50 / 50, then (1050 + 21·150) / 200.
    np.testing.assert_array_equal(result, [10.0, 10.75, np.nan, 21.0, 21.0])


def test_rsi_of_a_flat_series_is_zero_as_in_talib():
    assert indicators.rsi(np.full(20, 5.0), period=14)[14:].tolist() == [0.0] * 6


def test_macd_warm_up_follows_talib():
    values = indicators.macd(np.linspace(1.0, 2.0, 40))
    for output in values:
        assert np.isnan(output[:33]).all() and not np.isnan(output[33:]).any()


def coarse_bars(draw_length: int, seed: int) -> dict[str, np.ndarray]:
    """Prices on a coarse grid: ties, unchanged closes, zero ranges and zero volumes are common."""
    rng = np.random.default_rng(seed)
    close = 50.0 + np.cumsum(rng.integers(-1, 2, draw_length)).astype(float)
    high = close + rng.integers(0, 2, draw_length)
    low = close - rng.integers(0, 2, draw_length)
    volume = rng.integers(0, 3, draw_length).astype(float)
    time = 1_790_000_000 + np.cumsum(rng.integers(1, 4, draw_length)) * 3600
    return {"time": time, "open": close, "high": high, "low": low, "close": close, "volume": volume}


@settings(max_examples=80, deadline=None)
@given(name=st.sampled_from(list(INDICATORS)), length=st.integers(0, 90), seed=st.integers(0, 2**32 - 1),
       period=st.integers(2, 12), second=st.integers(1, 5))
def test_incremental_equals_vectorised_on_degenerate_bars(name, length, seed, period, second):
    spec = INDICATORS[name]
    given_parameters = {parameter.name: period if index == 0 else second
                        for index, parameter in enumerate(spec.parameters) if parameter.kind is int}
    if name == "macd":
        given_parameters = {"fast": period, "slow": period + second, "signal": second}
    params = spec.parameters_from(given_parameters)
    series = coarse_bars(length, seed)

    for vectorised, incremental in zip(spec.compute(series, params), incremental_values(name, series, params),
                                       strict=True):
        np.testing.assert_array_equal(incremental, vectorised)


@settings(max_examples=80, deadline=None)
@given(name=st.sampled_from(TALIB_NAMES), length=st.integers(0, 90), seed=st.integers(0, 2**32 - 1),
       period=st.integers(2, 12))
def test_matches_talib_on_degenerate_bars(name, length, seed, period):
    spec = INDICATORS[name]
    params = spec.parameters_from({parameter.name: period for parameter in spec.parameters[:1]
                                   if name != "macd" and parameter.kind is int})
    series = coarse_bars(length, seed)

    assert_close_to_talib(name, spec.compute(series, params), talib_values(name, series, params), price_level=50.0)


finite_prices = arrays(np.float64, st.integers(0, 120), elements=st.floats(0.01, 1e6, allow_nan=False))


@settings(max_examples=60, deadline=None)
@given(close=finite_prices, period=st.integers(2, 30))
def test_sma_and_ema_lie_within_the_window(close, period):
    simple = indicators.sma(close, period=period)
    exponential = indicators.ema(close, period=period)
    for index in range(period - 1, len(close)):
        window = close[index - period + 1: index + 1]
        # A running sum keeps rounding of the order of 1e-16 × the largest value it has carried.
        tolerance = 1e-9 * close[: index + 1].max()
        assert window.min() - tolerance <= simple[index] <= window.max() + tolerance
        assert close[: index + 1].min() - tolerance <= exponential[index] <= close[: index + 1].max() + tolerance


@settings(max_examples=60, deadline=None)
@given(close=finite_prices, spread=st.floats(0.0, 5.0), period=st.integers(2, 20))
def test_oscillators_stay_in_their_bounds(close, spread, period):
    high, low = close + spread, np.maximum(close - spread, 0.0)
    volume = np.ones(len(close))
    checks = [(indicators.rsi(close, period=period), 0.0, 100.0),
              (indicators.mfi(high, low, close, volume, period=period), 0.0, 100.0),
              (indicators.williams_r(high, low, close, period=period), -100.0, 0.0),
              (indicators.adx(high, low, close, period=period), 0.0, 100.0),
              *((values, 0.0, 100.0) for values in indicators.stochastic(high, low, close, k_period=period))]
    for values, lowest, highest in checks:
        finite = values[~np.isnan(values)]
        assert ((finite >= lowest - 1e-9) & (finite <= highest + 1e-9)).all()


@settings(max_examples=40, deadline=None)
@given(close=finite_prices, period=st.integers(2, 25), deviations=st.floats(0.1, 10.0))
def test_bollinger_bands_are_symmetric_about_the_sma(close, period, deviations):
    upper, middle, lower = indicators.bollinger_bands(close, period=period, deviations=deviations)

    np.testing.assert_array_equal(middle, indicators.sma(close, period=period))
    finite = ~np.isnan(middle)
    np.testing.assert_allclose((upper - middle)[finite], (middle - lower)[finite], rtol=1e-12,
                               atol=1e-12 * (float(np.max(close, initial=1.0))))
    assert (upper[finite] >= lower[finite]).all()


def test_parameters_take_defaults_and_refuse_what_they_do_not_know():
    assert INDICATORS["stochastic"].parameters_from({"k_period": "9"}) == {"k_period": 9, "k_smoothing": 3, "d_period": 3}
    with pytest.raises(indicators.IndicatorParameterError) as refused:
        INDICATORS["vwap"].parameters_from({"period": "3"})
    assert (refused.value.code, refused.value.field) == ("unknown_field", "period")
    assert math.isclose(INDICATORS["bollinger"].parameters_from({"deviations": 2})["deviations"], 2.0)
