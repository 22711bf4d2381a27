"""The thirteen technical indicators of spec §11 (SMA, EMA, RSI, MACD, Bollinger Bands, ATR, ADX,
Stochastic, OBV, VWAP, CCI, Williams %R, MFI), in two forms that give the same numbers:

- **vectorised** functions over float64 numpy arrays, for backtests and charts (``sma(close, period=20)``);
- **incremental** objects fed one closed bar at a time, for live evaluation (``SMA(period=20).update(bar)``),
  each update costing O(1) (Bollinger Bands and CCI: O(period), see below), never a pass over history.

Pure module: numpy and scipy only, no Django, no clock, no rounding.

**Definitions follow TA-Lib**, including where the first value appears: an output is NaN for
exactly the bars TA-Lib leaves empty (its *lookback*), with TA-Lib's default unstable period of 0.
EMA is seeded by the SMA of its first ``period`` values, RSI, ATR and ADX use Wilder's smoothing,
Bollinger's deviation is the population standard deviation, MACD seeds its fast EMA at the slow
one's first bar (TA-Lib's MACD, not two free-standing EMAs), Stochastic smooths %K and %D with SMAs
and, like TA-Lib, shows both only once %D exists. Degenerate bars answer as TA-Lib does (RSI 0 on a
flat series, Stochastic and Williams %R 0 on a zero range, CCI 0 on a zero deviation, ADX held when
the directional movement is zero) with one deliberate difference: TA-Lib treats any value below
1e-8 as zero (below 1.0 for MFI's money flow), which silently flattens an instrument priced in
fractions of a cent; here only an exact zero is zero.

**VWAP** is not in TA-Lib. Here it is session-anchored to the UTC day: Σ(typical price × volume) /
Σ volume over the bars of the bar's UTC day so far, typical price (high + low + close) / 3; NaN
until the day has traded some volume. A UTC day holds a whole NYSE session and a whole crypto day;
a forex day is cut at 00:00 UTC, not at the 17:00 New York roll.

**Vectorised and incremental agree bit for bit** (``numpy.array_equal`` with NaN at the same
places): both run the same floating-point recurrences in the same order. Rolling sums are a seed
(the window's values summed left to right) followed by a running total of ``new − oldest`` (the
vectorised form is ``np.cumsum`` of those differences, which numpy accumulates left to right); EMAs
and Wilder averages are ``y = y·decay + x·gain``, which ``scipy.signal.lfilter`` evaluates in that
order; rolling extremes are exact. Like TA-Lib's, a running total carries rounding of the order of
1e-16 times the largest value that has passed through it, growing slowly with the number of bars. They differ from TA-Lib's own arithmetic only by rounding
(TA-Lib writes Wilder as ``(y·(n−1) + x)/n``), a relative 1e-12 or less on the series the tests use.

Bollinger Bands and CCI need every value in the window for their deviation (CCI's mean absolute
deviation has no running form; Bollinger's running sum of squares loses precision on large prices),
so their incremental update costs O(period): still constant in the length of the history.
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import maximum_filter1d, minimum_filter1d
from scipy.signal import lfilter

SECONDS_PER_DAY = 86400
NAN = math.nan


class OHLCV(NamedTuple):
    """One closed bar as floats; ``time`` is its start in UTC epoch seconds (VWAP's session key)."""

    time: int
    open: float
    high: float
    low: float
    close: float
    volume: float


class MACDValues(NamedTuple):
    line: np.ndarray | float
    signal: np.ndarray | float
    histogram: np.ndarray | float


class BollingerValues(NamedTuple):
    upper: np.ndarray | float
    middle: np.ndarray | float
    lower: np.ndarray | float


class StochasticValues(NamedTuple):
    k: np.ndarray | float
    d: np.ndarray | float


# ---------------------------------------------------------------------------------------------
# Shared arithmetic. Every helper here has an incremental twin below doing the same operations.


def _as_array(values) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float64)


def _empty(length: int) -> np.ndarray:
    return np.full(length, NAN)


def _sequential_sum(values: np.ndarray) -> float:
    """Left-to-right sum (np.sum is pairwise, which an incremental running sum cannot reproduce)."""
    return float(np.cumsum(values)[-1])


def _rolling_sum(values: np.ndarray, period: int) -> np.ndarray:
    """Sums of each window of `period` values; element i is the window ending at values[i + period - 1]."""
    if len(values) < period:
        return np.empty(0)
    steps = np.empty(len(values) - period + 1)
    steps[0] = _sequential_sum(values[:period])
    np.subtract(values[period:], values[:-period], out=steps[1:])
    return np.cumsum(steps, out=steps)


def _smooth(values: np.ndarray, *, seed: float, decay: float, gain: float) -> np.ndarray:
    """y[i] = y[i-1]·decay + values[i]·gain from y[-1] = seed (EMA, Wilder), via lfilter's
    direct form: y = z + gain·x with z = y_prev·decay."""
    if len(values) == 0:
        return np.empty(0)
    smoothed, _ = lfilter([gain], [1.0, -decay], values, zi=[seed * decay])
    return smoothed


def _ema_seeded(values: np.ndarray, *, period: int, seed_index: int) -> np.ndarray:
    """EMA whose first value, at seed_index, is the mean of the `period` values ending there."""
    out = _empty(len(values))
    if seed_index >= len(values):
        return out
    alpha = 2.0 / (period + 1)
    seed = _sequential_sum(values[seed_index - period + 1: seed_index + 1]) / period
    out[seed_index] = seed
    out[seed_index + 1:] = _smooth(values[seed_index + 1:], seed=seed, decay=1.0 - alpha, gain=alpha)
    return out


def _wilder_average(values: np.ndarray, *, period: int, first: int) -> np.ndarray:
    """Wilder's average of values[first:]: the mean of its first `period` values, then y·(1−1/n) + x/n."""
    out = _empty(len(values))
    seed_index = first + period - 1
    if seed_index >= len(values):
        return out
    seed = _sequential_sum(values[first: seed_index + 1]) / period
    out[seed_index] = seed
    out[seed_index + 1:] = _smooth(values[seed_index + 1:], seed=seed, decay=1.0 - 1.0 / period, gain=1.0 / period)
    return out


def _true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """TA-Lib's TRANGE: NaN on the first bar, then the largest of high−low, |high−prev close|, |low−prev close|."""
    true_range = _empty(len(close))
    if len(close) > 1:
        previous = close[:-1]
        true_range[1:] = np.maximum(high[1:] - low[1:],
                                    np.maximum(np.abs(high[1:] - previous), np.abs(low[1:] - previous)))
    return true_range


def _window_columns(values: np.ndarray, period: int) -> np.ndarray:
    return sliding_window_view(values, period)


def _rolling_highest(values: np.ndarray, period: int) -> np.ndarray:
    """Highest of each window of `period` values, element i ending at values[i + period - 1]: an
    O(n) filter whose window, shifted by the origin, trails each bar."""
    return maximum_filter1d(values, period, origin=(period - 1) // 2)[period - 1:]


def _rolling_lowest(values: np.ndarray, period: int) -> np.ndarray:
    return minimum_filter1d(values, period, origin=(period - 1) // 2)[period - 1:]


# ---------------------------------------------------------------------------------------------
# Vectorised indicators.


def sma(close, *, period: int = 20) -> np.ndarray:
    """Simple moving average; NaN for the first period−1 bars (TA-Lib SMA)."""
    close = _as_array(close)
    out = _empty(len(close))
    if len(close) >= period:
        np.divide(_rolling_sum(close, period), period, out=out[period - 1:])
    return out


def ema(close, *, period: int = 20) -> np.ndarray:
    """Exponential moving average, α = 2/(period+1), seeded by the SMA of the first period bars (TA-Lib EMA)."""
    close = _as_array(close)
    return _ema_seeded(close, period=period, seed_index=period - 1)


def rsi(close, *, period: int = 14) -> np.ndarray:
    """Wilder's relative strength index, 0-100; NaN for the first period bars (TA-Lib RSI)."""
    close = _as_array(close)
    out = _empty(len(close))
    if len(close) <= period:
        return out
    change = np.diff(close)
    gains, losses = np.maximum(change, 0.0), np.maximum(-change, 0.0)
    average_gain = _wilder_average(gains, period=period, first=0)[period - 1:]
    average_loss = _wilder_average(losses, period=period, first=0)[period - 1:]
    total = average_gain + average_loss
    with np.errstate(invalid="ignore", divide="ignore"):
        out[period:] = np.where(total != 0.0, 100.0 * (average_gain / total), 0.0)
    return out


def macd(close, *, fast: int = 12, slow: int = 26, signal: int = 9) -> MACDValues:
    """MACD line (fast EMA − slow EMA), its signal EMA and the histogram (line − signal), as TA-Lib
    MACD: the fast EMA is seeded at the slow one's first bar, and all three are NaN until the signal
    has its first value, bar (slow−1) + (signal−1)."""
    close = _as_array(close)
    slow_start = slow - 1
    line = _ema_seeded(close, period=fast, seed_index=slow_start) - _ema_seeded(close, period=slow, seed_index=slow_start)
    signal_line = _empty(len(close))
    signal_line[slow_start:] = _ema_seeded(line[slow_start:], period=signal, seed_index=signal - 1)
    line[: slow_start + signal - 1] = NAN
    return MACDValues(line, signal_line, line - signal_line)


def bollinger_bands(close, *, period: int = 20, deviations: float = 2.0) -> BollingerValues:
    """Middle band SMA(period), upper and lower bands ± deviations × the population standard
    deviation of the window (TA-Lib BBANDS with an SMA); computed from deviations about the mean,
    not TA-Lib's mean of squares, so large prices keep their precision."""
    close = _as_array(close)
    middle = sma(close, period=period)
    upper, lower = _empty(len(close)), _empty(len(close))
    if len(close) >= period:
        window_middle = middle[period - 1:]
        squares, difference = np.zeros(len(window_middle)), np.empty(len(window_middle))
        for column in _window_columns(close, period).T:
            np.subtract(column, window_middle, out=difference)
            difference *= difference
            squares += difference
        width = np.sqrt(squares / period) * deviations
        upper[period - 1:] = window_middle + width
        lower[period - 1:] = window_middle - width
    return BollingerValues(upper, middle, lower)


def atr(high, low, close, *, period: int = 14) -> np.ndarray:
    """Wilder's average true range; NaN for the first period bars (TA-Lib ATR)."""
    high, low, close = _as_array(high), _as_array(low), _as_array(close)
    return _wilder_average(_true_range(high, low, close), period=period, first=1)


def _directional_movement(high: np.ndarray, low: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """+DM and −DM per bar from bar 1 (TA-Lib: the larger move counts, only if positive; ties count neither)."""
    up = high[1:] - high[:-1]
    down = low[:-1] - low[1:]
    plus = np.where((up > 0.0) & (up > down), up, 0.0)
    minus = np.where((down > 0.0) & (up < down), down, 0.0)
    return plus, minus


def adx(high, low, close, *, period: int = 14) -> np.ndarray:
    """Wilder's average directional index, 0-100; NaN for the first 2·period−1 bars (TA-Lib ADX).

    +DM, −DM and the true range are Wilder sums (seeded by the sum of bars 1..period−1); DX is
    averaged over bars period..2·period−1 for the first ADX, then Wilder-smoothed; a bar whose
    range or directional movement is zero leaves ADX where it was."""
    high, low, close = _as_array(high), _as_array(low), _as_array(close)
    length = len(close)
    out = _empty(length)
    if length < 2 * period:
        return out
    plus, minus = _directional_movement(high, low)
    true_range = _true_range(high, low, close)[1:]
    decay = 1.0 - 1.0 / period
    smoothed = []
    for movement in (plus, minus, true_range):
        seed = _sequential_sum(movement[: period - 1])
        smoothed.append(_smooth(movement[period - 1:], seed=seed, decay=decay, gain=1.0))
    plus_s, minus_s, range_s = smoothed  # element j is bar period + j
    with np.errstate(invalid="ignore", divide="ignore"):  # TA-Lib's arithmetic; invalid bars masked below
        plus_di, minus_di = 100.0 * (plus_s / range_s), 100.0 * (minus_s / range_s)
        total = minus_di + plus_di
        dx = 100.0 * (np.abs(minus_di - plus_di) / total)
    valid = (range_s != 0.0) & (total != 0.0)
    dx = np.where(valid, dx, 0.0)
    first_adx = _sequential_sum(dx[:period]) / period
    later_valid = valid[period:]
    updates = _smooth(dx[period:][later_valid], seed=first_adx, decay=decay, gain=1.0 / period)
    held = np.concatenate(([first_adx], updates))[np.cumsum(later_valid)]
    out[2 * period - 1] = first_adx
    out[2 * period:] = held
    return out


def stochastic(high, low, close, *, k_period: int = 14, k_smoothing: int = 3, d_period: int = 3) -> StochasticValues:
    """Slow stochastic (TA-Lib STOCH with SMAs): raw %K = 100·(close − lowest low)/(highest high −
    lowest low) over k_period (0 on a zero range), %K its SMA(k_smoothing), %D the SMA(d_period) of
    %K; both NaN until %D exists, bar (k_period−1) + (k_smoothing−1) + (d_period−1)."""
    high, low, close = _as_array(high), _as_array(low), _as_array(close)
    length = len(close)
    k_out, d_out = _empty(length), _empty(length)
    lookback = (k_period - 1) + (k_smoothing - 1) + (d_period - 1)
    if length <= lookback:
        return StochasticValues(k_out, d_out)
    highest = _rolling_highest(high, k_period)
    lowest = _rolling_lowest(low, k_period)
    scale = (highest - lowest) / 100.0
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = np.where(scale != 0.0, (close[k_period - 1:] - lowest) / scale, 0.0)
    k = sma(raw, period=k_smoothing)[k_smoothing - 1:]
    d = sma(k, period=d_period)
    k_out[k_period + k_smoothing - 2:] = k
    d_out[k_period + k_smoothing - 2:] = d
    k_out[:lookback] = NAN
    return StochasticValues(k_out, d_out)


def obv(close, volume) -> np.ndarray:
    """On-balance volume from the first bar's volume: + volume on an up close, − on a down close (TA-Lib OBV)."""
    close, volume = _as_array(close), _as_array(volume)
    signed = np.empty(len(close))
    if len(close):
        signed[0] = volume[0]
        signed[1:] = np.where(close[1:] > close[:-1], volume[1:], np.where(close[1:] < close[:-1], -volume[1:], 0.0))
    return np.cumsum(signed)


def vwap(time, high, low, close, volume) -> np.ndarray:
    """Volume-weighted average typical price since the start of the bar's UTC day; NaN until that
    day has traded volume. `time` is each bar's start in UTC epoch seconds, ascending."""
    time = np.asarray(time, dtype=np.int64)
    high, low, close, volume = _as_array(high), _as_array(low), _as_array(close), _as_array(volume)
    weighted = (high + low + close) / 3.0 * volume
    out = _empty(len(close))
    day = time // SECONDS_PER_DAY
    bounds = np.concatenate(([0], np.flatnonzero(np.diff(day)) + 1, [len(close)]))
    for start, end in zip(bounds[:-1], bounds[1:], strict=False):  # one pass per day, not per bar
        volume_so_far = np.cumsum(volume[start:end])
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start:end] = np.where(volume_so_far != 0.0, np.cumsum(weighted[start:end]) / volume_so_far, NAN)
    return out


def cci(high, low, close, *, period: int = 20) -> np.ndarray:
    """Commodity channel index: (typical price − its SMA) / (0.015 × mean absolute deviation),
    typical price (high + low + close)/3; 0 when either is zero; NaN for the first period−1 bars (TA-Lib CCI)."""
    high, low, close = _as_array(high), _as_array(low), _as_array(close)
    typical = (high + low + close) / 3.0
    out = _empty(len(close))
    if len(close) < period:
        return out
    columns = _window_columns(typical, period).T
    total = np.array(columns[0])
    for column in columns[1:]:
        total += column
    mean = total / period
    deviation, distance_to_mean = np.zeros(len(mean)), np.empty(len(mean))
    for column in columns:
        np.subtract(column, mean, out=distance_to_mean)
        deviation += np.abs(distance_to_mean, out=distance_to_mean)
    deviation /= period
    distance = typical[period - 1:] - mean
    with np.errstate(invalid="ignore", divide="ignore"):
        out[period - 1:] = np.where((distance != 0.0) & (deviation != 0.0), distance / (0.015 * deviation), 0.0)
    return out


def williams_r(high, low, close, *, period: int = 14) -> np.ndarray:
    """Williams %R, −100 (close at the lowest low) to 0 (at the highest high), 0 on a zero range;
    NaN for the first period−1 bars (TA-Lib WILLR)."""
    high, low, close = _as_array(high), _as_array(low), _as_array(close)
    out = _empty(len(close))
    if len(close) < period:
        return out
    highest = _rolling_highest(high, period)
    scale = (highest - _rolling_lowest(low, period)) * -0.01
    with np.errstate(invalid="ignore", divide="ignore"):
        out[period - 1:] = np.where(scale != 0.0, (highest - close[period - 1:]) / scale, 0.0)
    return out


def mfi(high, low, close, volume, *, period: int = 14) -> np.ndarray:
    """Money flow index, 0-100: the share of the last `period` bars' money flow (typical price ×
    volume) that came on bars whose typical price rose; a bar with an unchanged typical price
    counts on neither side; 0 when no money flowed; NaN for the first period bars (TA-Lib MFI)."""
    high, low, close, volume = _as_array(high), _as_array(low), _as_array(close), _as_array(volume)
    out = _empty(len(close))
    if len(close) <= period:
        return out
    typical = (high + low + close) / 3.0
    flow = typical[1:] * volume[1:]
    rising, falling = typical[1:] > typical[:-1], typical[1:] < typical[:-1]
    positive = _rolling_sum(np.where(rising, flow, 0.0), period)
    negative = _rolling_sum(np.where(falling, flow, 0.0), period)
    # A running total of differences leaves rounding dust where the exact sum is zero: a window
    # without a rising (falling) bar that traded has exactly zero positive (negative) flow.
    traded = flow != 0.0
    positive[_rolling_count(rising & traded, period) == 0] = 0.0
    negative[_rolling_count(falling & traded, period) == 0] = 0.0
    total = positive + negative
    with np.errstate(invalid="ignore", divide="ignore"):
        out[period:] = np.where(total != 0.0, 100.0 * (positive / total), 0.0)
    return out


def _rolling_count(flags: np.ndarray, period: int) -> np.ndarray:
    counts = np.concatenate(([0], np.cumsum(flags, dtype=np.int64)))
    return counts[period:] - counts[:-period]


# ---------------------------------------------------------------------------------------------
# Incremental twins: each update(bar) takes one closed OHLCV bar and returns the value(s) the
# vectorised function gives for that bar, NaN during the warm-up.


class _RollingSum:
    def __init__(self, period: int):
        self.period = period
        self.window: deque[float] = deque(maxlen=period)
        self.total = NAN

    def update(self, value: float) -> float:
        if len(self.window) == self.period:
            oldest = self.window[0]
            self.window.append(value)
            self.total += value - oldest
        else:
            self.window.append(value)
            if len(self.window) == self.period:
                self.total = _python_sequential_sum(self.window)
        return self.total


def _python_sequential_sum(values) -> float:
    iterator = iter(values)
    total = next(iterator)
    for value in iterator:
        total += value
    return total


class _SeededSmoothing:
    """y = y·decay + x·gain once seeded by the mean (EMA) or sum of the `window` values ending at
    the `seed_at`-th value fed (0-based); NaN before."""

    def __init__(self, *, window: int, seed_at: int, decay: float, gain: float, mean: bool = True):
        self.window_length, self.seed_at, self.decay, self.gain, self.mean = window, seed_at, decay, gain, mean
        self.recent: deque[float] = deque(maxlen=window)
        self.count = 0
        self.value = NAN

    def update(self, x: float) -> float:
        if self.count > self.seed_at:
            self.value = self.value * self.decay + self.gain * x
        else:
            self.recent.append(x)
            if self.count == self.seed_at:
                total = _python_sequential_sum(self.recent)
                self.value = total / self.window_length if self.mean else total
        self.count += 1
        return self.value


def _ema_state(period: int, *, seed_at: int | None = None) -> _SeededSmoothing:
    alpha = 2.0 / (period + 1)
    return _SeededSmoothing(window=period, seed_at=period - 1 if seed_at is None else seed_at,
                            decay=1.0 - alpha, gain=alpha)


def _wilder_state(period: int) -> _SeededSmoothing:
    return _SeededSmoothing(window=period, seed_at=period - 1, decay=1.0 - 1.0 / period, gain=1.0 / period)


class _RollingExtreme:
    """Highest (or lowest) of the last `period` values in amortised O(1): a monotonic queue."""

    def __init__(self, period: int, *, highest: bool):
        self.period, self.highest = period, highest
        self.queue: deque[tuple[int, float]] = deque()
        self.count = 0

    def update(self, value: float) -> float:
        if self.highest:
            while self.queue and self.queue[-1][1] <= value:
                self.queue.pop()
        else:
            while self.queue and self.queue[-1][1] >= value:
                self.queue.pop()
        self.queue.append((self.count, value))
        if self.queue[0][0] <= self.count - self.period:
            self.queue.popleft()
        self.count += 1
        return self.queue[0][1] if self.count >= self.period else NAN


def _true_range_state():
    previous_close = NAN

    def update(bar: OHLCV) -> float:
        nonlocal previous_close
        if math.isnan(previous_close):
            true_range = NAN
        else:
            true_range = max(bar.high - bar.low, max(abs(bar.high - previous_close), abs(bar.low - previous_close)))
        previous_close = bar.close
        return true_range

    return update


class SMA:
    def __init__(self, *, period: int = 20):
        self.period = period
        self.sum = _RollingSum(period)

    def update(self, bar: OHLCV) -> float:
        return self.sum.update(bar.close) / self.period


class EMA:
    def __init__(self, *, period: int = 20):
        self.average = _ema_state(period)

    def update(self, bar: OHLCV) -> float:
        return self.average.update(bar.close)


class RSI:
    def __init__(self, *, period: int = 14):
        self.gain, self.loss = _wilder_state(period), _wilder_state(period)
        self.previous_close = NAN

    def update(self, bar: OHLCV) -> float:
        previous, self.previous_close = self.previous_close, bar.close
        if math.isnan(previous):
            return NAN
        change = bar.close - previous
        average_gain = self.gain.update(max(change, 0.0))
        average_loss = self.loss.update(max(-change, 0.0))
        if math.isnan(average_gain):
            return NAN
        total = average_gain + average_loss
        return 100.0 * (average_gain / total) if total != 0.0 else 0.0


class MACD:
    def __init__(self, *, fast: int = 12, slow: int = 26, signal: int = 9):
        self.fast, self.slow = _ema_state(fast, seed_at=slow - 1), _ema_state(slow)
        self.signal = _ema_state(signal)
        self.first_value = slow - 1 + signal - 1
        self.count = 0

    def update(self, bar: OHLCV) -> MACDValues:
        line = self.fast.update(bar.close) - self.slow.update(bar.close)
        signal = self.signal.update(line) if not math.isnan(line) else NAN
        self.count += 1
        if self.count <= self.first_value:
            return MACDValues(NAN, NAN, NAN)
        return MACDValues(line, signal, line - signal)


class BollingerBands:
    def __init__(self, *, period: int = 20, deviations: float = 2.0):
        self.period, self.deviations = period, deviations
        self.sum = _RollingSum(period)

    def update(self, bar: OHLCV) -> BollingerValues:
        middle = self.sum.update(bar.close) / self.period
        if math.isnan(middle):
            return BollingerValues(NAN, NAN, NAN)
        squares = 0.0
        for value in self.sum.window:
            difference = value - middle
            squares += difference * difference
        width = math.sqrt(squares / self.period) * self.deviations
        return BollingerValues(middle + width, middle, middle - width)


class ATR:
    def __init__(self, *, period: int = 14):
        self.true_range = _true_range_state()
        self.average = _wilder_state(period)

    def update(self, bar: OHLCV) -> float:
        true_range = self.true_range(bar)
        return NAN if math.isnan(true_range) else self.average.update(true_range)


class ADX:
    def __init__(self, *, period: int = 14):
        self.period = period
        decay = 1.0 - 1.0 / period
        self.plus, self.minus, self.range = (
            _SeededSmoothing(window=period - 1, seed_at=period - 2, decay=decay, gain=1.0, mean=False) for _ in range(3)
        )
        self.true_range = _true_range_state()
        self.previous: OHLCV | None = None
        self.count = 0
        self.dx_total = NAN
        self.value = NAN

    def update(self, bar: OHLCV) -> float:
        previous, self.previous = self.previous, bar
        true_range = self.true_range(bar)
        if previous is None:
            return NAN
        up, down = bar.high - previous.high, previous.low - bar.low
        plus = self.plus.update(up if up > 0.0 and up > down else 0.0)
        minus = self.minus.update(down if down > 0.0 and up < down else 0.0)
        range_sum = self.range.update(true_range)
        self.count += 1  # bars since the first
        if self.count < self.period:
            return NAN
        is_valid, dx = False, 0.0
        if range_sum != 0.0:
            plus_di, minus_di = 100.0 * (plus / range_sum), 100.0 * (minus / range_sum)
            total = minus_di + plus_di
            if total != 0.0:
                is_valid, dx = True, 100.0 * (abs(minus_di - plus_di) / total)
        if self.count < 2 * self.period - 1:
            self.dx_total = dx if self.count == self.period else self.dx_total + dx
            return NAN
        if self.count == 2 * self.period - 1:
            self.value = (self.dx_total + dx) / self.period
        elif is_valid:
            self.value = self.value * (1.0 - 1.0 / self.period) + (1.0 / self.period) * dx
        return self.value


class Stochastic:
    def __init__(self, *, k_period: int = 14, k_smoothing: int = 3, d_period: int = 3):
        self.highest = _RollingExtreme(k_period, highest=True)
        self.lowest = _RollingExtreme(k_period, highest=False)
        self.k_smoothing, self.d_period = k_smoothing, d_period
        self.k_sum, self.d_sum = _RollingSum(k_smoothing), _RollingSum(d_period)
        self.first_value = (k_period - 1) + (k_smoothing - 1) + (d_period - 1)
        self.count = 0

    def update(self, bar: OHLCV) -> StochasticValues:
        highest, lowest = self.highest.update(bar.high), self.lowest.update(bar.low)
        self.count += 1
        if math.isnan(highest):
            return StochasticValues(NAN, NAN)
        scale = (highest - lowest) / 100.0
        raw = (bar.close - lowest) / scale if scale != 0.0 else 0.0
        k = self.k_sum.update(raw) / self.k_smoothing
        if math.isnan(k):
            return StochasticValues(NAN, NAN)
        d = self.d_sum.update(k) / self.d_period
        if self.count <= self.first_value:
            return StochasticValues(NAN, NAN)
        return StochasticValues(k, d)


class OBV:
    def __init__(self):
        self.value = NAN
        self.previous_close = NAN

    def update(self, bar: OHLCV) -> float:
        if math.isnan(self.previous_close):
            self.value = bar.volume
        elif bar.close > self.previous_close:
            self.value += bar.volume
        elif bar.close < self.previous_close:
            self.value += -bar.volume
        else:
            self.value += 0.0
        self.previous_close = bar.close
        return self.value


class VWAP:
    def __init__(self):
        self.day: int | None = None
        self.weighted = self.volume = 0.0

    def update(self, bar: OHLCV) -> float:
        day = int(bar.time) // SECONDS_PER_DAY
        weighted = (bar.high + bar.low + bar.close) / 3.0 * bar.volume
        if day != self.day:
            self.day, self.weighted, self.volume = day, weighted, bar.volume
        else:
            self.weighted += weighted
            self.volume += bar.volume
        return self.weighted / self.volume if self.volume != 0.0 else NAN


class CCI:
    def __init__(self, *, period: int = 20):
        self.period = period
        self.window: deque[float] = deque(maxlen=period)

    def update(self, bar: OHLCV) -> float:
        typical = (bar.high + bar.low + bar.close) / 3.0
        self.window.append(typical)
        if len(self.window) < self.period:
            return NAN
        mean = _python_sequential_sum(self.window) / self.period
        deviation = 0.0
        for value in self.window:
            deviation += abs(value - mean)
        deviation /= self.period
        distance = typical - mean
        return distance / (0.015 * deviation) if distance != 0.0 and deviation != 0.0 else 0.0


class WilliamsR:
    def __init__(self, *, period: int = 14):
        self.highest = _RollingExtreme(period, highest=True)
        self.lowest = _RollingExtreme(period, highest=False)

    def update(self, bar: OHLCV) -> float:
        highest, lowest = self.highest.update(bar.high), self.lowest.update(bar.low)
        if math.isnan(highest):
            return NAN
        scale = (highest - lowest) * -0.01
        return (highest - bar.close) / scale if scale != 0.0 else 0.0


class MFI:
    def __init__(self, *, period: int = 14):
        self.period = period
        self.positive, self.negative = _RollingSum(period), _RollingSum(period)
        self.directions: deque[tuple[bool, bool]] = deque(maxlen=period)
        self.rising_count = self.falling_count = 0
        self.previous_typical = NAN

    def update(self, bar: OHLCV) -> float:
        typical = (bar.high + bar.low + bar.close) / 3.0
        previous, self.previous_typical = self.previous_typical, typical
        if math.isnan(previous):
            return NAN
        flow = typical * bar.volume
        is_rising, is_falling = typical > previous, typical < previous
        traded = flow != 0.0
        if len(self.directions) == self.period:
            was_rising, was_falling = self.directions[0]
            self.rising_count -= was_rising
            self.falling_count -= was_falling
        self.directions.append((is_rising and traded, is_falling and traded))
        self.rising_count += is_rising and traded
        self.falling_count += is_falling and traded
        positive = self.positive.update(flow if is_rising else 0.0)
        negative = self.negative.update(flow if is_falling else 0.0)
        if math.isnan(positive):
            return NAN
        positive = positive if self.rising_count else 0.0
        negative = negative if self.falling_count else 0.0
        total = positive + negative
        return 100.0 * (positive / total) if total != 0.0 else 0.0


# ---------------------------------------------------------------------------------------------
# The catalogue: what each indicator is called, takes and answers, for the API and the rule engine.


class IndicatorParameterError(ValueError):
    """A parameter a caller gave is unknown ("unknown_field") or malformed or out of range
    ("invalid_parameter"); `field` names it."""

    def __init__(self, message: str, *, field: str, code: str = "invalid_parameter"):
        super().__init__(message)
        self.message, self.field, self.code = message, field, code


@dataclass(frozen=True)
class Parameter:
    name: str
    kind: type  # int or float
    default: int | float
    minimum: int | float
    maximum: int | float
    description: str


@dataclass(frozen=True)
class IndicatorSpec:
    """One indicator: `inputs` are the bar fields its vectorised function takes, in order;
    `outputs` name its values, each with a unit: "price" (in the instrument's price), "index"
    (a bounded or dimensionless oscillator) or "volume"."""

    name: str
    title: str
    inputs: tuple[str, ...]
    parameters: tuple[Parameter, ...]
    outputs: tuple[tuple[str, str], ...]
    function: Callable
    incremental: type

    def parameters_from(self, given: Mapping[str, object]) -> dict[str, int | float]:
        """Every parameter's value, from `given` (strings as a query carries them, or numbers) or its
        default; raises IndicatorParameterError for an unknown name, a malformed value or one out of range."""
        known = {parameter.name: parameter for parameter in self.parameters}
        for name in given:
            if name not in known:
                accepted = ", ".join(known) or "none"
                raise IndicatorParameterError(f"{self.name} takes no parameter {name!r} (it takes: {accepted}).",
                                              field=name, code="unknown_field")
        values = {}
        for parameter in self.parameters:
            raw = given.get(parameter.name, parameter.default)
            try:
                value = parameter.kind(raw) if parameter.kind is float else _integer(raw)
            except (TypeError, ValueError):
                kind = "an integer" if parameter.kind is int else "a number"
                raise IndicatorParameterError(f"{parameter.name} must be {kind}.", field=parameter.name) from None
            if not (parameter.minimum <= value <= parameter.maximum):
                raise IndicatorParameterError(
                    f"{parameter.name} must be between {parameter.minimum} and {parameter.maximum}.",
                    field=parameter.name)
            values[parameter.name] = value
        if self.name == "macd" and values["fast"] >= values["slow"]:
            raise IndicatorParameterError("fast must be shorter than slow.", field="fast")
        return values

    def compute(self, series: Mapping[str, np.ndarray], parameters: Mapping[str, int | float]) -> tuple[np.ndarray, ...]:
        """The vectorised values, one array per output, from arrays named time/open/high/low/close/volume."""
        result = self.function(*(series[name] for name in self.inputs), **parameters)
        return tuple(result) if isinstance(result, tuple) else (result,)

    def incremental_from(self, parameters: Mapping[str, int | float]):
        """A fresh incremental twin; its update(bar) answers a float (one output) or a NamedTuple."""
        return self.incremental(**parameters)


def _integer(raw: object) -> int:
    if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
        raise ValueError(raw)
    return int(raw)


def _period(default: int, minimum: int = 2, name: str = "period", description: str = "Bars in the window.") -> Parameter:
    return Parameter(name, int, default, minimum, MAX_PERIOD, description)


MAX_PERIOD = 1000

INDICATORS: dict[str, IndicatorSpec] = {spec.name: spec for spec in (
    IndicatorSpec("sma", "Simple moving average", ("close",), (_period(20),), (("sma", "price"),), sma, SMA),
    IndicatorSpec("ema", "Exponential moving average", ("close",), (_period(20),), (("ema", "price"),), ema, EMA),
    IndicatorSpec("rsi", "Relative strength index", ("close",), (_period(14),), (("rsi", "index"),), rsi, RSI),
    IndicatorSpec(
        "macd", "Moving average convergence/divergence", ("close",),
        (_period(12, name="fast", description="Fast EMA's period."),
         _period(26, name="slow", description="Slow EMA's period."),
         _period(9, minimum=1, name="signal", description="Signal EMA's period.")),
        (("macd", "price"), ("signal", "price"), ("histogram", "price")), macd, MACD),
    IndicatorSpec(
        "bollinger", "Bollinger Bands", ("close",),
        (_period(20), Parameter("deviations", float, 2.0, 0.1, 10.0, "Band width in standard deviations.")),
        (("upper", "price"), ("middle", "price"), ("lower", "price")), bollinger_bands, BollingerBands),
    IndicatorSpec("atr", "Average true range", ("high", "low", "close"), (_period(14, minimum=1),),
                  (("atr", "price"),), atr, ATR),
    IndicatorSpec("adx", "Average directional index", ("high", "low", "close"), (_period(14),),
                  (("adx", "index"),), adx, ADX),
    IndicatorSpec(
        "stochastic", "Stochastic oscillator", ("high", "low", "close"),
        (_period(14, minimum=1, name="k_period", description="Bars for the highest high and lowest low."),
         _period(3, minimum=1, name="k_smoothing", description="SMA period smoothing raw %K into %K."),
         _period(3, minimum=1, name="d_period", description="SMA period of %K giving %D.")),
        (("k", "index"), ("d", "index")), stochastic, Stochastic),
    IndicatorSpec("obv", "On-balance volume", ("close", "volume"), (), (("obv", "volume"),), obv, OBV),
    IndicatorSpec("vwap", "Volume-weighted average price (UTC day)", ("time", "high", "low", "close", "volume"), (),
                  (("vwap", "price"),), vwap, VWAP),
    IndicatorSpec("cci", "Commodity channel index", ("high", "low", "close"), (_period(20),),
                  (("cci", "index"),), cci, CCI),
    IndicatorSpec("williams_r", "Williams %R", ("high", "low", "close"), (_period(14),),
                  (("williams_r", "index"),), williams_r, WilliamsR),
    IndicatorSpec("mfi", "Money flow index", ("high", "low", "close", "volume"), (_period(14),),
                  (("mfi", "index"),), mfi, MFI),
)}
