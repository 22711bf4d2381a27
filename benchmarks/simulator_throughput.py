"""Offline market simulator throughput: live steps with Decimal conversion, and the 90-day backfill.

Run: .venv/bin/python benchmarks/simulator_throughput.py

Live: every step advances the whole universe and converts each instrument's quote and 20-level book
to Decimal, which is the work the live feed does per update. Backfill: 1-hour bars for days 90..3
before now chained into 1-minute bars for the last 3 days, session masks from the real calendars.
"""

import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from haunt.market.calendars import calendar_for  # noqa: E402
from haunt.market.simulator import MarketSimulator, generate_history  # noqa: E402
from haunt.market.universe import UNIVERSE  # noqa: E402

NOW = datetime(2025, 12, 10, 15, 0, tzinfo=UTC)  # a Wednesday, NYSE open
STEP = timedelta(milliseconds=250)
LIVE_STEPS = 2_000
BOOK_LEVELS = 20


def session_mask(start: datetime, bar_seconds: int, n_bars: int) -> np.ndarray:
    """Whether each instrument trades in each bar, judged at the bar's midpoint."""
    midpoints = int(start.timestamp()) + bar_seconds * np.arange(n_bars, dtype=np.int64) + bar_seconds // 2
    by_class = {}
    for spec in UNIVERSE:
        if spec.asset_class not in by_class:
            by_class[spec.asset_class] = calendar_for(spec.asset_class.value).session_mask(midpoints)
    return np.array([by_class[spec.asset_class] for spec in UNIVERSE])


def open_now(when: datetime) -> np.ndarray:
    return np.array([calendar_for(spec.asset_class.value).is_open(when) for spec in UNIVERSE])


def benchmark_live() -> None:
    simulator = MarketSimulator(UNIVERSE, seed=7, start=NOW)
    is_open = open_now(NOW)
    rows = range(len(UNIVERSE))

    began = time.perf_counter()
    for step in range(1, LIVE_STEPS + 1):
        simulator.step(now=NOW + step * STEP, is_open=is_open)
    bare = LIVE_STEPS / (time.perf_counter() - began)

    began = time.perf_counter()
    for step in range(LIVE_STEPS + 1, 2 * LIVE_STEPS + 1):
        frame = simulator.step(now=NOW + step * STEP, is_open=is_open)
        for row in rows:
            frame.quote_for(row)
            frame.book_for(row, BOOK_LEVELS)
    converted = LIVE_STEPS / (time.perf_counter() - began)

    print(f"live, {len(UNIVERSE)} instruments, {simulator.book_depth}-level books:")
    print(f"  steps/s, simulation only:                          {bare:10,.0f}")
    print(f"  steps/s, with every quote + {BOOK_LEVELS}-level book to Decimal: {converted:10,.0f}")
    print(f"  quote updates/s sustained for the universe:        {converted * len(UNIVERSE):10,.0f}")


def benchmark_backfill() -> None:
    fine_start = NOW - timedelta(days=3)
    coarse_start = NOW - timedelta(days=90)
    coarse_bars, fine_bars = int((fine_start - coarse_start).total_seconds()) // 3600, 3 * 1440

    began = time.perf_counter()
    coarse_mask = session_mask(coarse_start, 3600, coarse_bars)
    fine_mask = session_mask(fine_start, 60, fine_bars)
    masks = time.perf_counter() - began

    began = time.perf_counter()
    coarse = generate_history(UNIVERSE, seed=1, start=coarse_start, end=fine_start, bar_seconds=3600,
                              session_mask=coarse_mask)
    fine = generate_history(UNIVERSE, seed=2, start=fine_start, end=NOW, bar_seconds=60, session_mask=fine_mask,
                            start_prices=coarse.final_prices)
    generated = time.perf_counter() - began

    began = time.perf_counter()
    candles = sum(len(bars.candles_for(row)) for bars in (coarse, fine) for row in range(len(UNIVERSE)))
    converted = time.perf_counter() - began

    print(f"backfill, {len(UNIVERSE)} instruments, 87 days of 1h bars + 3 days of 1m bars, 12 sub-steps a bar:")
    print(f"  session masks from the calendars:  {masks:6.2f} s")
    print(f"  generate_history (both segments):  {generated:6.2f} s")
    print(f"  {candles:,} candles to Decimal:    {converted:6.2f} s")


if __name__ == "__main__":
    benchmark_live()
    benchmark_backfill()
