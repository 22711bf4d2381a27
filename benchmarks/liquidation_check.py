"""Per-mark-update liquidation check over every margined position (spec §4; target < 20 ms for 100,000).

Run: .venv/bin/python benchmarks/liquidation_check.py [positions] [updates] [spot share]

With a spot share (0 to 1), that fraction of the rows follows the crypto-spot table (one tier at the
class rates) instead of the perpetual tiers, so each row is looked up in its own table.

One mark update is what the derivatives watcher (derivatives.watcher.DerivativesWatcher.check)
computes when the feed publishes new marks: `liquidation.check_book` over its in-memory book —
each row at its own perpetual's mark, tier lookup, maintenance margin, the cross pool of every
account summed per account, margin ratio, breach mask, tiered liquidation price and distance to
it — followed by the warning ladder's state transition. What the watcher then does for the few
rows that emit a warning or breach (an event, a liquidation transaction) is not in the figure.

The book spreads the positions over the six perpetuals and over accounts of one to five positions,
mixes longs and shorts, isolated and cross rows (30% cross), leverage from 1x to each tier's
maximum and notionals across all five tiers; every mark follows its own random walk of 0.05% steps,
so ratios move and warnings fire.
"""

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "haunt.settings.base")
import django  # noqa: E402  (the watcher's module reads the models)

django.setup()

from derivatives.liquidation import (  # noqa: E402
    WARNING_THRESHOLDS,
    TierArrays,
    WatchedBook,
    check_book,
    tier_arrays,
)
from haunt.market.terms import AssetClass  # noqa: E402
from portfolios.accounting.margin import PERP_LEVERAGE_TIERS  # noqa: E402
from derivatives.watcher import DerivativesWatcher, TIER_CLASSES  # noqa: E402

SYMBOL_PRICES = np.array([60_000.0, 3_000.0, 140.0, 2.1, 880.0, 0.145])
WARMUP_UPDATES = 20


def random_book(count: int, rng: np.random.Generator, tiers: TierArrays, spot_share: float) -> WatchedBook:
    instrument = rng.integers(0, SYMBOL_PRICES.size, count)
    account = np.sort(rng.integers(0, max(count // 3, 1), count))
    accounts = int(account.max()) + 1
    side = rng.choice([-1.0, 1.0], count)
    entry = SYMBOL_PRICES[instrument] * rng.uniform(0.98, 1.02, count)
    notional = np.exp(rng.uniform(np.log(100.0), np.log(20_000_000.0), count))  # every tier represented
    tier_max_leverage = np.array([float(tier.max_leverage) for tier in PERP_LEVERAGE_TIERS])
    tier_index = np.searchsorted(tiers.notional_floors, notional, side="right") - 1
    leverage = rng.uniform(1.0, tier_max_leverage[tier_index])
    isolated = rng.random(count) >= 0.3
    cross_margin = np.bincount(account, weights=np.where(isolated, 0.0, notional / leverage), minlength=accounts)
    return WatchedBook(
        instrument=instrument, account=account, side=side, quantity=notional / entry, entry_price=entry,
        isolated=isolated, collateral=np.where(isolated, notional / leverage, 0.0), rate=np.ones(count),
        cross_wallet=cross_margin * rng.uniform(1.0, 3.0, accounts),
        other_pnl=rng.normal(0.0, 0.01, accounts) * cross_margin,
        other_maintenance=rng.uniform(0.0, 0.01, accounts) * cross_margin,
        # The watcher's book gives each row its own tier table (perpetuals here).
        # grouped by table, as the watcher keeps its rows
        table=np.sort(np.where(rng.random(count) < spot_share, TIER_CLASSES.index(AssetClass.CRYPTO_SPOT), 0)
                      ).astype(np.intp),
    )


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    updates = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    spot_share = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    rng = np.random.default_rng(11)
    book = random_book(count, rng, tier_arrays(), spot_share)
    tiers = DerivativesWatcher().tiers  # every margin class's table, stacked, as the watcher holds them
    assert TIER_CLASSES[0].name == "PERPETUAL"
    steps = rng.normal(0.0, 0.0005, (WARMUP_UPDATES + updates, SYMBOL_PRICES.size))
    marks_path = SYMBOL_PRICES * np.exp(np.cumsum(steps, axis=0))
    ladders = {WARNING_THRESHOLDS: np.arange(count)}

    level = np.zeros(count, dtype=np.int8)
    wall_ms, cpu_ms = [], []
    breached = alerts = 0
    for step, marks in enumerate(marks_path):
        wall_began, cpu_began = time.perf_counter_ns(), time.process_time_ns()
        checked = check_book(book=book, marks=marks, tiers=tiers, level=level, ladders=ladders)
        wall_elapsed, cpu_elapsed = time.perf_counter_ns() - wall_began, time.process_time_ns() - cpu_began
        level = checked.level
        if step >= WARMUP_UPDATES:
            wall_ms.append(wall_elapsed / 1e6)
            cpu_ms.append(cpu_elapsed / 1e6)
            breached += int(np.count_nonzero(checked.sweep.breached))
            alerts += int(np.count_nonzero(checked.emitted))

    print(f"liquidation check: {count:,} positions in {int(book.account.max()) + 1:,} accounts on "
          f"{SYMBOL_PRICES.size} symbols, {spot_share:.0%} of rows on the crypto-spot table, {updates} mark updates "
          f"(after {WARMUP_UPDATES} warm-up)")
    # CPU time is shown beside wall time because a busy machine stretches the wall clock of a
    # single-threaded numpy kernel without it doing any more work.
    for label, samples in (("wall", np.array(wall_ms)), ("cpu ", np.array(cpu_ms))):
        print(f"  ms per mark update, {label}: p50 {np.percentile(samples, 50):6.2f}  "
              f"p99 {np.percentile(samples, 99):6.2f}  min {samples.min():6.2f}  max {samples.max():6.2f}")
    print(f"  target < 20 ms; breached position-updates {breached:,}, warnings emitted {alerts:,}")


if __name__ == "__main__":
    main()
