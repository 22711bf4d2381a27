"""Per-mark liquidation check over all leveraged positions of a symbol (spec §4; target < 20 ms for 100,000).

Run: .venv/bin/python benchmarks/liquidation_check.py [positions] [updates]

One mark update is what the liquidation service runs when a symbol's mark price moves:
`sweep_mark` (tier lookup, maintenance margin, margin ratio, breach mask, tiered liquidation price
and distance to it) followed by `advance_warnings` (the 80/90/95% ladder state transition). The
book mixes longs and shorts, isolated and cross rows, leverage from 1x to each tier's maximum and
notionals across all five tiers; the mark follows a random walk of 0.05% steps, so ratios move
and warnings fire.
"""

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from derivatives.liquidation import (  # noqa: E402
    LeveragedPositions,
    TierArrays,
    advance_warnings,
    sweep_mark,
    tier_arrays,
)
from derivatives.margin import PERP_LEVERAGE_TIERS  # noqa: E402

ENTRY_CENTRE = 60_000.0
WARMUP_UPDATES = 20


def random_book(count: int, rng: np.random.Generator, tiers: TierArrays) -> LeveragedPositions:
    side = rng.choice([-1.0, 1.0], count)
    entry = ENTRY_CENTRE * rng.uniform(0.98, 1.02, count)
    notional = np.exp(rng.uniform(np.log(100.0), np.log(20_000_000.0), count))  # every tier represented
    quantity = notional / entry
    tier_max_leverage = np.array([float(tier.max_leverage) for tier in PERP_LEVERAGE_TIERS])
    tier_index = np.searchsorted(tiers.notional_floors, notional, side="right") - 1
    leverage = rng.uniform(1.0, tier_max_leverage[tier_index])
    is_cross = rng.random(count) < 0.3
    wallet = np.where(is_cross, notional / leverage * rng.uniform(1.0, 3.0, count), notional / leverage)
    other_maintenance = np.where(is_cross, rng.uniform(0.0, 0.01, count) * notional, 0.0)
    other_pnl = np.where(is_cross, rng.normal(0.0, 0.02, count) * notional, 0.0)
    return LeveragedPositions(side, quantity, entry, wallet, other_maintenance, other_pnl)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    updates = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    rng = np.random.default_rng(11)
    tiers = tier_arrays()
    book = random_book(count, rng, tiers)
    marks = ENTRY_CENTRE * np.exp(np.cumsum(rng.normal(0.0, 0.0005, WARMUP_UPDATES + updates)))

    level = np.zeros(count, dtype=np.int8)
    wall_ms, cpu_ms = [], []
    breached = alerts = 0
    for step, mark in enumerate(marks):
        wall_began, cpu_began = time.perf_counter_ns(), time.process_time_ns()
        sweep = sweep_mark(positions=book, mark_price=float(mark), tiers=tiers)
        transition = advance_warnings(previous_level=level, margin_ratio=sweep.margin_ratio)
        wall_elapsed, cpu_elapsed = time.perf_counter_ns() - wall_began, time.process_time_ns() - cpu_began
        level = transition.level
        if step >= WARMUP_UPDATES:
            wall_ms.append(wall_elapsed / 1e6)
            cpu_ms.append(cpu_elapsed / 1e6)
            breached += int(np.count_nonzero(sweep.breached))
            alerts += int(np.count_nonzero(transition.emitted))

    print(f"liquidation check: {count:,} positions, {updates} mark updates (after {WARMUP_UPDATES} warm-up)")
    # CPU time is shown beside wall time because a busy machine stretches the wall clock of a
    # single-threaded numpy kernel without it doing any more work.
    for label, samples in (("wall", np.array(wall_ms)), ("cpu ", np.array(cpu_ms))):
        print(f"  ms per mark update, {label}: p50 {np.percentile(samples, 50):6.2f}  "
              f"p99 {np.percentile(samples, 99):6.2f}  min {samples.min():6.2f}  max {samples.max():6.2f}")
    print(f"  target < 20 ms; breached position-updates {breached:,}, warnings emitted {alerts:,}")


if __name__ == "__main__":
    main()
