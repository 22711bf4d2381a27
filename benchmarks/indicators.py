"""Indicator speed (strategies/indicators.py, spec §11) over one year of 1-minute bars (525,600),
beside TA-Lib computing the same indicator on the same arrays in the same run.

For each indicator at its default parameters: the median of --repeat runs of the vectorised
function, TA-Lib's median, their ratio, and the incremental form's cost per bar (timed on the
first --incremental-bars bars, one update(bar) call each). VWAP has no TA-Lib counterpart.
The backtester's target is 250,000 bars/s for an SMA crossover, so two SMAs must take a small
fraction of the 2.1 s a year of minutes may take.

    .venv/bin/python benchmarks/indicators.py [--repeat N] [--incremental-bars N]
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import talib

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from strategies.indicators import INDICATORS, OHLCV  # noqa: E402

BARS = 525_600

TALIB = {
    "sma": lambda s, p: talib.SMA(s["close"], p["period"]),
    "ema": lambda s, p: talib.EMA(s["close"], p["period"]),
    "rsi": lambda s, p: talib.RSI(s["close"], p["period"]),
    "macd": lambda s, p: talib.MACD(s["close"], p["fast"], p["slow"], p["signal"]),
    "bollinger": lambda s, p: talib.BBANDS(s["close"], p["period"], p["deviations"], p["deviations"], 0),
    "atr": lambda s, p: talib.ATR(s["high"], s["low"], s["close"], p["period"]),
    "adx": lambda s, p: talib.ADX(s["high"], s["low"], s["close"], p["period"]),
    "stochastic": lambda s, p: talib.STOCH(s["high"], s["low"], s["close"], p["k_period"], p["k_smoothing"], 0,
                                           p["d_period"], 0),
    "obv": lambda s, p: talib.OBV(s["close"], s["volume"]),
    "cci": lambda s, p: talib.CCI(s["high"], s["low"], s["close"], p["period"]),
    "williams_r": lambda s, p: talib.WILLR(s["high"], s["low"], s["close"], p["period"]),
    "mfi": lambda s, p: talib.MFI(s["high"], s["low"], s["close"], s["volume"], p["period"]),
}


def year_of_minutes(seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = 65_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0007, BARS)))
    spread = close * rng.uniform(0.0, 0.001, BARS)
    return {"time": 1_767_225_600 + np.arange(BARS, dtype=np.int64) * 60, "open": close, "high": close + spread,
            "low": close - spread, "close": close, "volume": rng.uniform(0.1, 20.0, BARS)}


def median_seconds(job, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        job()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--incremental-bars", type=int, default=50_000)
    arguments = parser.parse_args()
    series = year_of_minutes()
    bars = [OHLCV(*row) for row in zip(*(series[field][: arguments.incremental_bars].tolist()
                                         for field in OHLCV._fields), strict=True)]
    print(f"{BARS:,} one-minute bars, median of {arguments.repeat} runs; incremental on {len(bars):,} bars")
    print(f"{'indicator':<12}{'ours ms':>10}{'TA-Lib ms':>11}{'ratio':>8}{'incremental µs/bar':>21}")
    total = 0.0
    for name, spec in INDICATORS.items():
        parameters = spec.parameters_from({})
        ours = median_seconds(lambda spec=spec, parameters=parameters: spec.compute(series, parameters),
                              arguments.repeat)
        total += ours
        reference = TALIB.get(name)
        theirs = (median_seconds(lambda reference=reference, parameters=parameters: reference(series, parameters),
                                 arguments.repeat) if reference else None)
        indicator = spec.incremental_from(parameters)
        started = time.perf_counter()
        for bar in bars:
            indicator.update(bar)
        per_bar = (time.perf_counter() - started) / len(bars)
        talib_text = f"{theirs * 1e3:11.2f}{ours / theirs:8.1f}" if theirs else f"{'-':>11}{'-':>8}"
        print(f"{name:<12}{ours * 1e3:10.2f}{talib_text}{per_bar * 1e6:21.2f}")
    print(f"all thirteen: {total * 1e3:.1f} ms ({BARS / total:,.0f} bars/s)")


if __name__ == "__main__":
    main()
