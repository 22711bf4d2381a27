"""The analytics endpoints' selectors end to end, database reads included (spec §8).

benchmarks/analytics_full.py times the payloads from arrays; this times what a request pays on a
cache miss (reading the history from the database, then building the payload) and on a cache hit,
on the embedded profile (SQLite in a temporary directory, the in-process cache):

1. migrates a fresh database, syncs the instrument registry and opens a portfolio through the
   real service;
2. bulk-inserts --years of history: an equity snapshot at each of --fills fills and at every UTC
   midnight (a top-up every 30 days, booked as the snapshot's cash flow), the fills themselves
   (one order each, tagged with one of 10 strategies) over 20 crypto instruments, one closed
   position per two fills, and a daily borrow-fee charge on a tenth of the positions;
3. times each of the four selectors (performance, metrics, trades, attribution) --repeat times with
   the cache cleared before each call, then once more from the cache.

    .venv/bin/python benchmarks/analytics_endpoint.py [--fills 100000] [--years 5] [--repeat 5]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BATCH = 5000
STRATEGIES = [f"strategy-{number}" for number in range(10)]


def populate(*, fills: int, years: int, seed: int = 7):
    from haunt.accounts.services import user_register
    from haunt.market.models import Instrument
    from haunt.market.services import instruments_sync
    from orders.models import Order, Trade
    from portfolios.models import EquitySnapshot, LedgerEntry, Portfolio, Position
    from portfolios.services import portfolio_create

    rng = np.random.default_rng(seed)
    instruments_sync()
    user, _ = user_register(username="bench", password="correct-horse-battery", email="bench@example.com")
    portfolio = portfolio_create(user=user, name="Five years", starting_balance=Decimal("5000000"))
    start = datetime(2021, 1, 1, tzinfo=UTC)
    Portfolio.objects.filter(pk=portfolio.pk).update(created_at=start)
    EquitySnapshot.objects.filter(portfolio=portfolio).update(taken_at=start)
    instruments = list(Instrument.objects.filter(asset_class="crypto_spot").order_by("pk")[:20])

    span = years * 365 * 86_400
    fill_times = np.sort(rng.integers(1, span, fills))
    midnights = np.arange(1, years * 365 + 1) * 86_400
    times = np.unique(np.concatenate((fill_times, midnights)))
    flows = np.zeros(times.size)
    flows[np.searchsorted(times, midnights[29::30])] = 100_000.0
    equity = 5_000_000.0 * np.cumprod(1 + rng.normal(0.0, 0.002, times.size)) + np.cumsum(flows)
    snapshots = [
        EquitySnapshot(portfolio=portfolio, taken_at=start + timedelta(seconds=int(second)),
                       equity=Decimal(f"{value:.8f}"), cash=Decimal(f"{value:.8f}"), invested=Decimal("5000000"),
                       cash_flow=Decimal(f"{flow:.8f}"), reason="fill")
        for second, value, flow in zip(times.tolist(), equity.tolist(), flows.tolist(), strict=True)]
    EquitySnapshot.objects.bulk_create(snapshots, batch_size=BATCH)

    position_count = fills // 2
    instrument_of_position = rng.integers(0, len(instruments), position_count)
    positions = [
        Position(portfolio=portfolio, instrument=instruments[instrument_of_position[index]], side="long",
                 status="closed", quantity=Decimal(0), average_entry_price=Decimal("100"), cost_basis=Decimal(0),
                 realized_pnl=Decimal(f"{rng.normal(50, 2000):.8f}"), fees_paid=Decimal("2.5"),
                 opened_at=start + timedelta(seconds=int(fill_times[2 * index])),
                 closed_at=start + timedelta(seconds=int(fill_times[2 * index + 1])))
        for index in range(position_count)]
    Position.objects.bulk_create(positions, batch_size=BATCH)
    orders, trades = [], []
    for index in range(fills):
        position = positions[min(index // 2, position_count - 1)]
        executed_at = start + timedelta(seconds=int(fill_times[index]))
        order = Order(portfolio=portfolio, instrument=position.instrument, side="buy" if index % 2 == 0 else "sell",
                      order_type="market", status="filled", quantity=Decimal(1), filled_quantity=Decimal(1),
                      realism_profile="realistic", tags=[STRATEGIES[index % len(STRATEGIES)]])
        orders.append(order)
        trades.append(Trade(order=order, portfolio=portfolio, instrument=position.instrument, position=position,
                            side=order.side, quantity=Decimal(1), price=Decimal("100"), fee=Decimal("1.25"),
                            slippage=Decimal("0.4"), liquidity="taker", executed_at=executed_at,
                            realized_pnl=position.realized_pnl if index % 2 else Decimal(0), explanation={}))
    Order.objects.bulk_create(orders, batch_size=BATCH)
    Trade.objects.bulk_create(trades, batch_size=BATCH)
    LedgerEntry.objects.bulk_create([
        LedgerEntry(portfolio=portfolio, kind="borrow_fee", amount=Decimal("-3"), balance_after=Decimal(0),
                    reference=str(position.pk)) for position in positions[::10]], batch_size=BATCH)
    return user, portfolio, times.size, len(positions[::10])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fills", type=int, default=100_000)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    arguments = parser.parse_args()

    var_dir = tempfile.mkdtemp(prefix="haunt_bench_analytics_")
    os.environ.update({"DJANGO_SETTINGS_MODULE": "haunt.settings.base", "HAUNT_VAR_DIR": var_dir})
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    try:
        import django

        django.setup()
        from django.core.cache import cache
        from django.core.management import call_command

        from reporting.analytics.selectors import (
            AnalyticsQuery,
            analytics_attribution_for_user,
            analytics_metrics_for_user,
            analytics_performance_for_user,
            analytics_trades_for_user,
        )

        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        user, portfolio, snapshot_count, charge_count = populate(fills=arguments.fills, years=arguments.years)
        print(f"populated in {time.perf_counter() - started:.0f} s: {snapshot_count:,} equity snapshots over "
              f"{arguments.years} years, {arguments.fills:,} fills, {arguments.fills // 2:,} closed positions, "
              f"{charge_count:,} borrow charges (SQLite, embedded profile)")

        selectors = {"performance": analytics_performance_for_user, "metrics": analytics_metrics_for_user,
                     "trades": analytics_trades_for_user, "attribution": analytics_attribution_for_user}
        query = AnalyticsQuery()
        total_miss = 0.0
        for name, selector in selectors.items():
            misses = []
            for _ in range(arguments.repeat):
                cache.clear()
                started = time.perf_counter()
                selector(user=user, portfolio_id=portfolio.pk, query=query)
                misses.append(time.perf_counter() - started)
            started = time.perf_counter()
            selector(user=user, portfolio_id=portfolio.pk, query=query)
            hit = time.perf_counter() - started
            total_miss += statistics.median(misses)
            print(f"  {name:<12} cache miss median {statistics.median(misses) * 1e3:8.1f} ms "
                  f"(min {min(misses) * 1e3:.1f}), cache hit {hit * 1e3:6.2f} ms")
        print(f"all four on a cache miss: {total_miss * 1e3:.0f} ms")
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
