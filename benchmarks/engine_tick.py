"""Order engine cost per tick with 100,000 resting orders when nothing fires (issue 3; reference
target: < 1 ms per tick).

Runs the real orders.engine.OrderEngine in this process against a fresh database:

1. migrates it, syncs the instrument registry, opens --portfolios portfolios through the real
   portfolio service, and publishes the market with haunt.market.feed (MarketFeed +
   SimulatorSource, as conftest.py's market_feed fixture does, but on the wall clock);
2. bulk-inserts --orders resting GTC limit orders (Order.objects.bulk_create, with each order's
   "created" OrderEvent): status accepted, no latency pending, queue position set, limit prices on
   the tick grid half the bid below the market (buys) or twice the ask above it (sells), so none
   can fire. Their updated_at is then moved an hour back, as for orders placed earlier (the engine's
   incremental sync only re-reads rows changed in the last few seconds), and on PostgreSQL the table
   is vacuumed and analysed, as autovacuum would have done for a table of resting orders;
3. builds OrderEngine, times rebuild() (load every open order into the trigger index), then times
   engine.tick(now=...) --ticks times, advancing the market (untimed) before each tick and handing
   the engine the update as run_engine's market-hub subscription does;
4. times the parts of a tick on their own: taking the changed-order notices, the reconcile query
   (run once every HAUNT_ENGINE_RECONCILE_SECONDS), the due-order heap, the live-quote read (one
   cache round trip for every symbol with resting orders) and the in-memory index work (trail +
   fire for every symbol, quotes already read);
5. checks that every portfolio's cash equals the sum of its ledger, and on PostgreSQL prints the
   reconcile query's plan (EXPLAIN ANALYZE).

Each figure is p50/p99/mean/max in milliseconds; there is no HTTP here, so no status counts.

--profile production (default) uses PostgreSQL (a fresh haunt_bench_<random> database, dropped at
the end) and Redis for the cache, as the run_engine process does; --profile embedded uses SQLite
(in a temporary directory) and the in-process cache.

    .venv/bin/python benchmarks/engine_tick.py [--orders 100000] [--ticks 500] [--profile production|embedded] \
        [--symbols all|crypto]
"""
from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from platform_harness import percentile  # noqa: E402

BATCH = 5000


def configure(arguments) -> dict:
    """Environment for Django before setup; returns what teardown needs."""
    run_id = uuid.uuid4().hex[:10]
    os.environ["DJANGO_SETTINGS_MODULE"] = "haunt.settings.base"
    os.environ["SECRET_KEY"] = f"bench-secret-{uuid.uuid4().hex}{uuid.uuid4().hex}"  # a server key: 50+ characters
    os.environ["HAUNT_CACHE_PREFIX"] = os.environ["HAUNT_CHANNEL_PREFIX"] = f"bench-{run_id}"
    context = {"prefix": f"bench-{run_id}"}
    if arguments.profile == "production":
        import psycopg

        database = f"haunt_bench_{run_id}"
        with psycopg.connect(arguments.postgres, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{database}"')
        os.environ["DATABASE_URL"] = urlsplit(arguments.postgres)._replace(path=f"/{database}").geturl()
        os.environ["REDIS_URL"] = f"redis://127.0.0.1:6379/{arguments.redis_db}"
        context["database"] = database
    else:
        os.environ.pop("DATABASE_URL", None)
        os.environ.pop("REDIS_URL", None)
        context["var_dir"] = tempfile.mkdtemp(prefix="haunt_bench_engine_")
        os.environ["HAUNT_VAR_DIR"] = context["var_dir"]
    return context


def teardown(arguments, context: dict) -> None:
    from django.db import connections

    connections.close_all()
    if "database" in context:
        import psycopg
        import redis

        with psycopg.connect(arguments.postgres, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{context["database"]}" WITH (FORCE)')
        client = redis.Redis.from_url(os.environ["REDIS_URL"])
        removed = sum(client.delete(key) for key in client.scan_iter(match=f"{context['prefix']}*", count=1000))
        client.close()
        print(f"[teardown] database {context['database']} dropped, {removed} Redis keys removed")
    else:
        import shutil

        shutil.rmtree(context["var_dir"], ignore_errors=True)
        print(f"[teardown] SQLite directory {context['var_dir']} removed")


def far_limit(side: str, quote: dict, tick: Decimal) -> Decimal:
    """A limit price on the tick grid that the market will not reach during the run."""
    reference = Decimal(quote["bid"] if side == "buy" and quote["bid"] else quote["ask"] or quote["last"])
    if side == "buy":
        return (reference / 2 / tick).to_integral_value(rounding=ROUND_FLOOR) * tick
    return (reference * 2 / tick).to_integral_value(rounding=ROUND_CEILING) * tick


def seed(arguments, now: datetime):
    from haunt.accounts.models import User
    from haunt.market.feed import MarketFeed, SimulatorSource
    from haunt.market.models import Instrument
    from haunt.market.services import instruments_sync
    from haunt.market.simulator import MarketSimulator
    from haunt.market.state import quotes_read
    from haunt.market.universe import UNIVERSE
    from orders.models import Order, OrderEvent, OrderStatus, OrderType, TimeInForce
    from portfolios.services import portfolio_create
    from django.db import connection

    instruments_sync()
    feed = MarketFeed(sources=[SimulatorSource(MarketSimulator(UNIVERSE, seed=7, start=now), UNIVERSE)],
                      instrument_ids=dict(Instrument.objects.values_list("symbol", "pk")),
                      stale_after=timedelta(seconds=60))
    feed.update(now)
    instruments = list(Instrument.objects.filter(is_active=True).order_by("symbol"))
    if arguments.symbols == "crypto":
        instruments = [instrument for instrument in instruments if instrument.asset_class == "crypto_spot"]
    quotes = quotes_read([instrument.symbol for instrument in instruments])
    instruments = [instrument for instrument in instruments
                   if instrument.symbol in quotes and (quotes[instrument.symbol]["bid"] or quotes[instrument.symbol]["last"])]
    portfolios = []
    for index in range(arguments.portfolios):
        user = User(username=f"engine{index:04d}", email=f"engine{index:04d}@example.com")
        user.set_unusable_password()
        user.save()
        portfolios.append(portfolio_create(user=user, name="Resting", starting_balance=Decimal(5_000_000)))

    started = time.perf_counter()
    limits = {}
    for instrument in instruments:
        for side in ("buy", "sell"):
            limits[instrument.symbol, side] = far_limit(side, quotes[instrument.symbol], instrument.tick_size)
    for first in range(0, arguments.orders, BATCH):
        batch = []
        for number in range(first, min(first + BATCH, arguments.orders)):
            instrument = instruments[number % len(instruments)]
            side = "buy" if number // len(instruments) % 2 == 0 else "sell"
            quote = quotes[instrument.symbol]
            mid = quote["bid"] and quote["ask"] and (Decimal(quote["bid"]) + Decimal(quote["ask"])) / 2
            batch.append(Order(
                id=uuid.uuid4(), portfolio=portfolios[number % len(portfolios)], instrument=instrument,
                side=side, order_type=OrderType.LIMIT, time_in_force=TimeInForce.GTC, status=OrderStatus.ACCEPTED,
                quantity=instrument.min_quantity or instrument.lot_size, limit_price=limits[instrument.symbol, side],
                realism_profile="realistic", latency_ms=0, queue_ahead=Decimal(100),
                arrival_price=(mid.quantize(Decimal("1e-10")) if mid else None),
            ))
        Order.objects.bulk_create(batch)
        OrderEvent.objects.bulk_create([OrderEvent(order=order, kind=OrderEvent.Kind.CREATED, detail={"warnings": []})
                                        for order in batch])
    moved = Order.objects.update(updated_at=now - timedelta(hours=1))
    if connection.vendor == "postgresql":
        # A table that has lived for a while is vacuumed and analysed: the planner sees the real row counts.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE orders_order")
    print(f"[setup] {moved} resting limit orders on {len(instruments)} symbols over {len(portfolios)} portfolios "
          f"inserted in {time.perf_counter() - started:.1f} s")
    return feed, instruments


def ledger_check() -> None:
    """Every portfolio's cash equals the sum of its ledger (nothing here trades, so this guards the setup)."""
    from django.db.models import Sum

    from portfolios.models import Portfolio

    portfolios = Portfolio.objects.annotate(ledger=Sum("ledger_entries__amount"))
    broken = [(portfolio.pk, portfolio.cash, portfolio.ledger) for portfolio in portfolios
              if portfolio.cash != portfolio.ledger]
    print(f"\nledger check: {'PASS' if not broken else 'FAIL'} — {len(portfolios)} portfolios, {len(broken)} with "
          f"cash != sum(ledger){'; e.g. ' + str(broken[:3]) if broken else ''}")


def stats(label: str, durations: list[float]) -> None:
    ms = [value * 1000 for value in durations]
    print(f"{label}: p50 {percentile(ms, 0.5):.3f} ms, p99 {percentile(ms, 0.99):.3f} ms, "
          f"mean {sum(ms) / len(ms):.3f} ms, max {max(ms):.3f} ms (n={len(ms)})")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--portfolios", type=int, default=100)
    parser.add_argument("--ticks", type=int, default=500)
    parser.add_argument("--profile", choices=("production", "embedded"), default="production")
    parser.add_argument("--symbols", choices=("all", "crypto"), default="all",
                        help="rest orders on every active instrument with a quote, or on the crypto pairs only")
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--redis-db", type=int, default=int(os.environ.get("BENCH_REDIS_DB", "9")))
    arguments = parser.parse_args()
    context = configure(arguments)
    try:
        run(arguments)
    finally:
        teardown(arguments, context)


def run(arguments) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from orders.changes import ChangeListener, changed_order_ids
    from orders.engine import SYNC_OVERLAP, OrderEngine
    from orders.market_view import live_prices_many
    from orders.models import Order
    from orders import triggers

    started = time.perf_counter()
    call_command("migrate", "--noinput", verbosity=0)
    print(f"engine_tick: profile {arguments.profile} — database {connection.vendor}, cache "
          f"{settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}; migrated in {time.perf_counter() - started:.1f} s")
    now = datetime.now(UTC)
    feed, instruments = seed(arguments, now)

    listener = ChangeListener().start() if settings.REDIS_URL else None  # as run_engine starts it
    engine = OrderEngine()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    engine.rebuild(now=datetime.now(UTC))
    rebuild = time.perf_counter() - started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"rebuild: {rebuild * 1000:.0f} ms for {len(engine.index)} indexed orders on {len(engine.symbols)} symbols "
          f"(peak RSS grew {(rss_after - rss_before) / 1024:.0f} MiB)")

    def advance():
        """Step the market; the engine gets the update as run_engine's market-hub subscription gives it."""
        update = feed.update(datetime.now(UTC))
        engine.on_market_update({"seq": update.sequence, "quotes": update.quotes, "books": update.books})

    ticks, outcomes = [], {"executed": 0, "fired": 0, "expired": 0}
    for _ in range(arguments.ticks):
        advance()
        now = datetime.now(UTC)
        started = time.perf_counter()
        result = engine.tick(now=now)
        ticks.append(time.perf_counter() - started)
        for key, value in result.items():
            outcomes[key] += value
    print(f"\nticks: {arguments.ticks}; outcomes over all ticks {outcomes} (nothing should fire)")
    stats(f"engine.tick after each market update (change notices + pushed prices + index, and a reconcile "
          f"query every {settings.HAUNT_ENGINE_RECONCILE_SECONDS:g} s, as run_engine runs it)", ticks)

    notices, reconcile, due, quotes_cost, index_cost = [], [], [], [], []
    symbols = [symbol for symbol, keys in engine.symbols.items() if keys]
    for _ in range(arguments.ticks):
        advance()
        now = datetime.now(UTC)
        started = time.perf_counter()
        changed_order_ids()
        notices.append(time.perf_counter() - started)
        started = time.perf_counter()
        list(Order.objects.filter(updated_at__gte=now - SYNC_OVERLAP).select_related("instrument"))
        reconcile.append(time.perf_counter() - started)
        started = time.perf_counter()
        engine._pop_due(now)
        due.append(time.perf_counter() - started)
        started = time.perf_counter()
        prices = live_prices_many(symbols)
        quotes_cost.append(time.perf_counter() - started)
        started = time.perf_counter()
        for symbol in symbols:
            quote = prices.get(symbol)
            if quote is None:
                continue
            tick_prices = triggers.TickPrices(last=quote["last"], bid=quote["bid"], ask=quote["ask"], mid=quote["mid"])
            engine.index.trail(symbol, tick_prices)
            if engine.index.fire(symbol, tick_prices):
                raise RuntimeError("an order fired: the resting levels are not far enough from the market")
        index_cost.append(time.perf_counter() - started)
    print("\nparts of a tick, timed on their own:")
    stats("  change notices (drain the in-process queue the notice listener fills; none)", notices)
    stats(f"  reconcile query (orders updated in the last {SYNC_OVERLAP.seconds} s; none; once every "
          f"{settings.HAUNT_ENGINE_RECONCILE_SECONDS:g} s)", reconcile)
    stats("  due orders (in-memory heap; none)", due)
    stats(f"  live quotes (one cache read for the {len(symbols)} symbols with resting orders)", quotes_cost)
    stats(f"  index trail + fire over {len(symbols)} symbols (in memory)", index_cost)
    stats("  index per symbol", [value / len(symbols) for value in index_cost])
    ledger_check()
    if connection.vendor == "postgresql":
        plan = Order.objects.filter(updated_at__gte=datetime.now(UTC) - SYNC_OVERLAP).explain(analyze=True)
        print("\nreconcile query plan (EXPLAIN ANALYZE):\n  " + "\n  ".join(plan.splitlines()))
    gc.unfreeze()
    if listener is not None:
        listener.stop()


if __name__ == "__main__":
    main()
