"""Cost of the engine's trigger index per tick (orders/triggers.py; target: < 1 ms per tick at 100,000 orders).

Rests 100,000 orders on 50 symbols (stops, take-profits, limits and trailing stops, on last, mid, bid/ask
and mark prices), then times:

- a tick that fires nothing and moves no trailing stop: ``trail`` + ``fire`` on one symbol;
- a tick that fires about 10 orders (10 crossed orders are rested, untimed, before the tick);
- a tick that beats the high-water mark of every trailing stop on its symbol (a new high or low);
- single ``add`` / ``update_level`` / ``remove`` operations;
- ``rebuild`` from 100,000 entries, as at engine start.

Run: ``.venv/bin/python benchmarks/trigger_index.py`` (add ``--orders N --symbols S --ticks T`` to vary).
``--freeze-gc`` calls ``gc.freeze()`` after the rebuild, as a long-running engine can: the 100,000 resting
records then stay out of the collector's full passes, which otherwise add pauses of several milliseconds.
"""

from __future__ import annotations

import argparse
import gc
import platform
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orders.triggers import (  # noqa: E402  (the path is set up above)
    PriceSource,
    Side,
    TickPrices,
    TrailingEntry,
    TrailingStop,
    TriggerEntry,
    TriggerIndex,
    TriggerKind,
    trailing_stop_price,
)

TICK_SIZE = Decimal("0.01")
SPREAD = Decimal("0.02")
KINDS = (TriggerKind.STOP, TriggerKind.TAKE_PROFIT, TriggerKind.LIMIT)
SOURCES = (PriceSource.LAST, PriceSource.MID, PriceSource.BID_ASK, PriceSource.MARK)


def on_grid(value: float) -> Decimal:
    """A simulated price on the 0.01 grid (the random draws are floats; the index only sees Decimals)."""
    return Decimal(f"{value:.2f}")


def away_from(kind: TriggerKind, side: Side, price: float, rng: random.Random) -> float:
    """A level 1-20 % from the price on the side where the order has not fired yet."""
    distance = price * rng.uniform(0.01, 0.20)
    fires_downward = (kind is TriggerKind.STOP) == (side is Side.SELL)
    return price - distance if fires_downward else price + distance


def resting_orders(
    *, orders: int, symbols: list[str], prices: dict[str, float], rng: random.Random
) -> tuple[list[TriggerEntry], list[TrailingEntry]]:
    """90 % plain triggers, 10 % trailing stops whose marks sit 1-3 % beyond the price (activated earlier)."""
    entries, trailing = [], []
    for order_number in range(orders):
        symbol = symbols[order_number % len(symbols)]
        side = rng.choice((Side.BUY, Side.SELL))
        source = rng.choice(SOURCES)
        if rng.random() < 0.1:
            mark_offset = prices[symbol] * rng.uniform(0.01, 0.03)
            mark = on_grid(prices[symbol] + mark_offset if side is Side.SELL else prices[symbol] - mark_offset)
            percent = Decimal(rng.choice(("5", "8", "10")))
            stop = trailing_stop_price(side=side, high_water_mark=mark, tick_size=TICK_SIZE, trail_percent=percent)
            state = TrailingStop(side=side, high_water_mark=mark, stop_price=stop, trail_percent=percent)
            trailing.append(
                TrailingEntry(
                    order_id=f"order-{order_number}", symbol=symbol, source=source, state=state, tick_size=TICK_SIZE
                )
            )
            continue
        kind = rng.choice(KINDS)
        source = PriceSource.BID_ASK if kind is TriggerKind.LIMIT else source
        entries.append(
            TriggerEntry.for_order(
                order_id=f"order-{order_number}",
                symbol=symbol,
                kind=kind,
                side=side,
                level=on_grid(away_from(kind, side, prices[symbol], rng)),
                source=source,
            )
        )
    return entries, trailing


def quote(price: float) -> TickPrices:
    mid = on_grid(price)
    return TickPrices(last=mid, bid=mid - SPREAD / 2, ask=mid + SPREAD / 2, mid=mid, mark=mid)


def percentiles(samples_ns: list[int]) -> str:
    ordered = sorted(samples_ns)

    def at(fraction: float) -> float:
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] / 1000

    mean = sum(ordered) / len(ordered) / 1000
    return f"p50 {at(0.50):8.2f} µs   p99 {at(0.99):8.2f} µs   max {ordered[-1] / 1000:9.2f} µs   mean {mean:8.2f} µs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--ticks", type=int, default=20_000)
    parser.add_argument("--freeze-gc", action="store_true", help="gc.freeze() after the rebuild")
    arguments = parser.parse_args()

    rng = random.Random(7)
    symbols = [f"SYM{number:02d}-USD" for number in range(arguments.symbols)]
    prices = {symbol: rng.uniform(5, 5000) for symbol in symbols}
    entries, trailing = resting_orders(orders=arguments.orders, symbols=symbols, prices=prices, rng=rng)

    index = TriggerIndex()
    started = time.perf_counter()
    index.rebuild(entries=entries, trailing=trailing)
    rebuild_ms = (time.perf_counter() - started) * 1000
    one_by_one = TriggerIndex()
    started = time.perf_counter()
    for entry in entries:
        one_by_one.add(entry)
    for trailing_entry in trailing:
        one_by_one.add_trailing(trailing_entry)
    add_all_ms = (time.perf_counter() - started) * 1000
    del one_by_one
    if arguments.freeze_gc:
        gc.collect()
        gc.freeze()

    print(f"Python {platform.python_version()} on {platform.machine()}; {len(index):,} resting orders "
          f"({len(trailing):,} trailing) on {len(symbols)} symbols; gc.freeze() after rebuild: {arguments.freeze_gc}")
    print(f"rebuild from {len(index):,} entries: {rebuild_ms:.1f} ms (adding one by one: {add_all_ms:.1f} ms)")

    # Quiet ticks: a walk within ±0.5 % of each symbol's price crosses no level and beats no mark.
    quiet_ticks = [
        (symbol, quote(prices[symbol] * (1 + rng.uniform(-0.005, 0.005))))
        for symbol in (rng.choice(symbols) for _ in range(arguments.ticks))
    ]
    fire_ns, tick_ns = [], []
    for symbol, tick_prices in quiet_ticks:
        started = time.perf_counter_ns()
        moved = index.trail(symbol, tick_prices)
        fired = index.fire(symbol, tick_prices)
        tick_ns.append(time.perf_counter_ns() - started)
        assert not moved and not fired
        started = time.perf_counter_ns()
        index.fire(symbol, tick_prices)
        fire_ns.append(time.perf_counter_ns() - started)
    print(f"tick, nothing fires   fire()          {percentiles(fire_ns)}")
    print(f"tick, nothing fires   trail()+fire()  {percentiles(tick_ns)}")

    # Firing ticks: rest 10 orders the coming tick crosses (untimed), then time the tick that fires them.
    add_ns, firing_ns, fired_counts = [], [], []
    for tick_number in range(arguments.ticks // 4):
        symbol = rng.choice(symbols)
        tick_prices = quote(prices[symbol] * (1 + rng.uniform(-0.005, 0.005)))
        for crossed_number in range(10):
            side = rng.choice((Side.BUY, Side.SELL))
            kind = rng.choice((TriggerKind.STOP, TriggerKind.TAKE_PROFIT))
            fires_downward = (kind is TriggerKind.STOP) == (side is Side.SELL)
            level = tick_prices.last + (TICK_SIZE * 3 if fires_downward else -TICK_SIZE * 3)
            crossed = TriggerEntry.for_order(
                order_id=f"crossed-{tick_number}-{crossed_number}",
                symbol=symbol,
                kind=kind,
                side=side,
                level=level,
                source=rng.choice(SOURCES),
            )
            started = time.perf_counter_ns()
            index.add(crossed)
            add_ns.append(time.perf_counter_ns() - started)
        started = time.perf_counter_ns()
        index.trail(symbol, tick_prices)
        fired = index.fire(symbol, tick_prices)
        firing_ns.append(time.perf_counter_ns() - started)
        fired_counts.append(len(fired))
    print(f"tick, ~{sum(fired_counts) / len(fired_counts):.0f} fire         trail()+fire()  {percentiles(firing_ns)}")

    # Rally ticks: a new high and low on a symbol beat the mark of every trailing stop on it.
    rally_ns, moved_counts = [], []
    for symbol in symbols:
        for direction in (1, -1):
            tick_prices = quote(prices[symbol] * (1 + direction * 0.06))
            started = time.perf_counter_ns()
            moved = index.trail(symbol, tick_prices)
            rally_ns.append(time.perf_counter_ns() - started)
            moved_counts.append(len(moved))
    print(f"tick, new high/low, ~{sum(moved_counts) / len(moved_counts):.0f} trailing stops move, trail() "
          f"{percentiles(rally_ns)}")

    # Single operations on the full index.
    sample = rng.sample(entries, 2000)
    update_ns, remove_ns = [], []
    for entry in sample:
        if entry.order_id not in index:
            continue
        started = time.perf_counter_ns()
        index.update_level(entry.order_id, entry.level + TICK_SIZE)
        update_ns.append(time.perf_counter_ns() - started)
        started = time.perf_counter_ns()
        index.remove(entry.order_id)
        remove_ns.append(time.perf_counter_ns() - started)
    print(f"add()                                 {percentiles(add_ns)}")
    print(f"update_level()                        {percentiles(update_ns)}")
    print(f"remove()                              {percentiles(remove_ns)}")


if __name__ == "__main__":
    main()
