"""Time one market-order simulation on a 25-level book (orders/execution.py, spec §5).

Prints p50/p99 microseconds per call of ``simulate_execution`` for a BTC market buy that walks
about ten ask levels, under each realism profile, and of ``simulate_resting_limit_update``.

    .venv/bin/python benchmarks/execution_walk.py [--runs N]
"""

import argparse
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orders.execution import (  # noqa: E402
    PROFILES,
    REALISTIC,
    AssetClass,
    InstrumentSpec,
    LiquidityTier,
    OrderBook,
    Side,
    simulate_execution,
    simulate_resting_limit_update,
)

LEVELS = 25
BTC = InstrumentSpec(
    asset_class=AssetClass.CRYPTO_SPOT,
    liquidity_tier=LiquidityTier.LIQUID,
    tick_size=Decimal("0.01"),
    lot_size=Decimal("0.00001"),
)


def btc_book() -> OrderBook:
    """25 levels a side, $0.50 apart around a $60 000 mid, 0.4 to 1.6 BTC per level."""
    sizes = [Decimal("0.4") + Decimal("0.05") * level for level in range(LEVELS)]
    return OrderBook(
        bids=[(Decimal("59999.75") - Decimal("0.50") * level, size) for level, size in enumerate(sizes)],
        asks=[(Decimal("60000.25") + Decimal("0.50") * level, size) for level, size in enumerate(sizes)],
    )


def percentiles_us(call, runs: int) -> tuple[float, float]:
    for _ in range(min(runs // 10, 1000)):
        call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter_ns()
        call()
        samples.append(time.perf_counter_ns() - started)
    cut_points = statistics.quantiles(samples, n=100)
    return cut_points[49] / 1000, cut_points[98] / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20_000)
    runs = parser.parse_args().runs
    book = btc_book()
    quantity = Decimal("7.5")  # about ten levels of the raw book

    walked = simulate_execution(
        side=Side.BUY, quantity=quantity, book=book, profile=REALISTIC, instrument=BTC, order_key="bench"
    )
    print(f"{LEVELS}-level book, market buy {quantity} BTC, {runs} runs; realistic walks {len(walked.slices)} levels")
    for profile in PROFILES.values():
        p50, p99 = percentiles_us(
            lambda profile=profile: simulate_execution(
                side=Side.BUY, quantity=quantity, book=book, profile=profile, instrument=BTC, order_key="bench"
            ),
            runs,
        )
        print(f"  simulate_execution[{profile.name:>12}]  p50 {p50:7.1f} µs   p99 {p99:7.1f} µs")

    p50, p99 = percentiles_us(
        lambda: simulate_resting_limit_update(
            side=Side.BUY,
            limit_price=Decimal("59999.75"),
            remaining_quantity=Decimal("1"),
            queue_ahead=Decimal("0.3"),
            book=book,
            traded_quantity=Decimal("0.5"),
            profile=REALISTIC,
            instrument=BTC,
        ),
        runs,
    )
    print(f"  simulate_resting_limit_update[realistic]  p50 {p50:7.1f} µs   p99 {p99:7.1f} µs")


if __name__ == "__main__":
    main()
