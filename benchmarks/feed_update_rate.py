"""How many full-universe feed updates a second the market feed sustains on this machine.

One update = step the simulator for every instrument, aggregate each symbol, publish every quote
and 25-level book to the cache, and push Quote and OrderBook events to the channel layer. Runs on
the profile the environment selects: embedded (locmem cache, in-memory layer) by default, or
Redis with REDIS_URL=redis://127.0.0.1:6379/0.

    .venv/bin/python benchmarks/feed_update_rate.py [--seconds 10]
"""
import argparse
import asyncio
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "haunt.settings.base")
os.environ.setdefault("HAUNT_CACHE_PREFIX", "bench")
os.environ.setdefault("SECRET_KEY", "benchmark-only-not-a-secret-but-long-and-varied-enough-0123456789")
os.environ.setdefault("HAUNT_CHANNEL_PREFIX", "bench")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from haunt.market.feed import MarketFeed, SimulatorSource  # noqa: E402
from haunt.market.simulator import MarketSimulator  # noqa: E402
from haunt.market.universe import UNIVERSE  # noqa: E402


async def measure(seconds: float) -> list[float]:
    start = datetime.now(UTC)
    feed = MarketFeed(sources=[SimulatorSource(MarketSimulator(UNIVERSE, seed=1, start=start), UNIVERSE)],
                      instrument_ids={spec.symbol: row for row, spec in enumerate(UNIVERSE)},
                      stale_after=timedelta(seconds=5))
    durations = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        began = time.perf_counter()
        update = feed.update(datetime.now(UTC))
        await feed.broadcast(update)
        durations.append(time.perf_counter() - began)
    return durations


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    arguments = parser.parse_args()
    durations = asyncio.run(measure(arguments.seconds))
    per_second = len(durations) / sum(durations)
    profile = "embedded (locmem + in-memory layer)" if settings.EMBEDDED else "production (Redis cache + channels-redis)"
    print(f"profile: {profile}; instruments: {len(UNIVERSE)}; book depth: 25")
    print(f"feed updates/s (whole universe, back to back): {per_second:.1f}")
    print(f"quote updates/s sustained for the universe: {per_second * len(UNIVERSE):,.0f}")
    print(f"update latency ms: p50 {statistics.median(durations) * 1000:.2f}, "
          f"p99 {sorted(durations)[int(len(durations) * 0.99) - 1] * 1000:.2f}")
    configured = 1 / settings.HAUNT_MARKET_INTERVAL
    print(f"configured rate: {configured:.1f} updates/s per instrument -> CPU share "
          f"{configured / per_second * 100:.1f}% of one core")


if __name__ == "__main__":
    main()
