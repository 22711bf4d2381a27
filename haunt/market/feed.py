"""The live market feed: steps every source, aggregates per symbol, publishes the state (cache),
pushes Quote and OrderBook events to subscribed sockets, and records candles as ticks arrive.

One instance runs per deployment: inside the platform process on the embedded profile (the
in-memory channel layer does not cross processes), as `manage.py run_market` in production.
"""
import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils.module_loading import import_string

from haunt.market.aggregator import AggregatedMarket, MarketDataSource, SourceSnapshot, aggregate
from haunt.market.bars import BarBuilder
from haunt.market.calendars import calendar_for
from haunt.market.models import Instrument
from haunt.market.services import bars_in_progress, candles_backfill, candles_upsert, instruments_sync
from haunt.market.simulator import MarketSimulator
from haunt.market.state import market_state_write
from haunt.market.universe import UNIVERSE, InstrumentSpec
from haunt.periodic import run_every
from haunt.market.stream import market_publisher

logger = logging.getLogger(__name__)


BAR_FLUSH_SECONDS = 2.0


def iso_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class SimulatorSource(MarketDataSource):
    """The offline simulator as a market data source: each call advances it to `now`."""

    name = "simulator"

    def __init__(self, simulator: MarketSimulator, specs: tuple[InstrumentSpec, ...]):
        self.simulator = simulator
        self.calendars = [calendar_for(spec.asset_class.value) for spec in specs]

    def snapshots(self, *, now: datetime) -> list[SourceSnapshot]:
        open_by_calendar = {}
        for calendar in self.calendars:
            if calendar.name not in open_by_calendar:
                open_by_calendar[calendar.name] = calendar.is_open(now)
        is_open = np.array([open_by_calendar[calendar.name] for calendar in self.calendars])
        frame = self.simulator.step(now=now, is_open=is_open)
        snapshots = []
        for row, symbol in enumerate(frame.symbols):
            quote, book = frame.quote_for(row), frame.book_for(row)
            snapshots.append(SourceSnapshot(
                source=self.name, symbol=symbol, timestamp=now, bids=book.bids, asks=book.asks, last=quote.last,
                is_open=bool(is_open[row]), traded_quantity=quote.traded_quantity,
            ))
        return snapshots


def _decimal(value) -> str | None:
    return None if value is None else format(value, "f")


def quote_payload(market: AggregatedMarket, timestamp: str) -> dict:
    return {
        "symbol": market.symbol,
        "bid": _decimal(market.bid),
        "ask": _decimal(market.ask),
        "last": _decimal(market.last),
        "bid_size": _decimal(market.bids[0][1]) if market.bids else None,
        "ask_size": _decimal(market.asks[0][1]) if market.asks else None,
        # Quantity traded since the previous update (resting limits at the touch fill from it).
        "volume": _decimal(market.traded_quantity),
        "timestamp": timestamp,
        "sources": list(market.sources),
        "is_open": market.is_open,
    }


def book_payload(market: AggregatedMarket, timestamp: str) -> dict:
    return {
        "symbol": market.symbol,
        "bids": [[format(price, "f"), format(quantity, "f")] for price, quantity in market.bids],
        "asks": [[format(price, "f"), format(quantity, "f")] for price, quantity in market.asks],
        "timestamp": timestamp,
        "sources": list(market.sources),
        "is_open": market.is_open,
    }


@dataclass(frozen=True)
class FeedUpdate:
    sequence: int
    quotes: list[dict]
    books: list[dict]


class MarketFeed:
    def __init__(self, *, sources: list[MarketDataSource], instrument_ids: dict[str, int], stale_after: timedelta,
                 bars: BarBuilder | None = None, plugins: tuple = ()):
        self.sources = sources
        self.instrument_ids = instrument_ids
        self.stale_after = stale_after
        self.bars = bars or BarBuilder()
        self.sequence = 0
        # Apps that act on every update (HAUNT_FEED_PLUGINS): `before_publish(quotes, books, now)` may
        # add fields to the quotes; `after_publish(quotes, now)` sees the published state.
        self.plugins = plugins

    def _run_plugins(self, hook: str, **values) -> None:
        for plugin in self.plugins:
            try:
                getattr(plugin, hook)(**values)
            except Exception:  # a plugin's failure must not stop the feed
                logger.exception("Feed plugin %s.%s failed", type(plugin).__name__, hook)

    def update(self, now: datetime) -> FeedUpdate:
        """One feed step and its plugins' after-publish work (step, then after_publish)."""
        update = self.step(now)
        self.after_publish(update, now)
        return update

    def after_publish(self, update: FeedUpdate, now: datetime) -> None:
        """The plugins' work on a published update (the derivatives watcher's margin checks)."""
        self._run_plugins("after_publish", quotes=update.quotes, now=now)

    def step(self, now: datetime) -> FeedUpdate:
        """Poll sources, aggregate each symbol, publish the state, extend the bars."""
        by_symbol: dict[str, list[SourceSnapshot]] = defaultdict(list)
        for source in self.sources:
            for snapshot in source.snapshots(now=now):
                by_symbol[snapshot.symbol].append(snapshot)
        self.sequence += 1
        timestamp, epoch_seconds = iso_timestamp(now), int(now.timestamp())
        quotes, books = [], []
        for symbol, snapshots in by_symbol.items():
            if symbol not in self.instrument_ids:  # deactivated in the admin: not published, not recorded
                continue
            market = aggregate(snapshots, now=now, stale_after=self.stale_after)
            if market is None:
                continue
            quotes.append(quote_payload(market, timestamp))
            books.append(book_payload(market, timestamp))
            if market.is_open and market.last is not None:
                self.bars.update(symbol=symbol, price=market.last, volume=market.traded_quantity,
                                 epoch_seconds=epoch_seconds)
        status = {
            "timestamp": timestamp,
            "sequence": self.sequence,
            "instruments": len(quotes),
            "sources": [source.name for source in self.sources],
        }
        self._run_plugins("before_publish", quotes=quotes, books=books, now=now)
        market_state_write(quotes=quotes, books=books, status=status)
        return FeedUpdate(self.sequence, quotes, books)

    def flush_bars(self) -> int:
        bars = self.bars.drain()
        if bars:
            candles_upsert(bars, self.instrument_ids)
        return len(bars)

    async def broadcast(self, update: FeedUpdate) -> None:
        """Push the update to every subscribed socket: one message per update (haunt.market.stream)."""
        await market_publisher.publish(sequence=update.sequence, quotes=update.quotes, books=update.books)

    async def run(self, *, interval: float, stop: asyncio.Event) -> None:
        """Update every `interval` seconds until `stop` is set; bars are written every few seconds."""
        flush = database_sync_to_async(self.flush_bars)
        loop = asyncio.get_running_loop()
        last_flush = loop.time()

        async def step():
            nonlocal last_flush
            now = datetime.now(UTC)
            update = await asyncio.to_thread(self.step, now)
            await self.broadcast(update)  # sockets first: the plugins' margin checks can take milliseconds
            await asyncio.to_thread(self.after_publish, update, now)
            if loop.time() - last_flush >= BAR_FLUSH_SECONDS:
                last_flush = loop.time()
                await flush()

        await run_every(interval=interval, stop=stop, step=step, name="Market feed")
        await flush()


def build_feed(*, now: datetime | None = None) -> MarketFeed:
    """Registry synced, history backfilled to now, the simulator started from the last closes."""
    now = now or datetime.now(UTC)
    instruments_sync()
    start_prices = candles_backfill(now=now, seed=settings.HAUNT_MARKET_SEED, days=settings.HAUNT_BACKFILL_DAYS,
                                    minute_days=settings.HAUNT_BACKFILL_MINUTE_DAYS)
    # The live path is reproducible for a given seed and start time; mixing in the start time keeps a
    # restarted platform from replaying the same shocks it drew last time.
    simulator = MarketSimulator(UNIVERSE, seed=settings.HAUNT_MARKET_SEED + int(now.timestamp()), start=now,
                                start_prices=start_prices)
    bars = BarBuilder()
    for symbol, resolution, bar in bars_in_progress(now=now):
        bars.resume(symbol=symbol, resolution=resolution, bar=bar)
    instrument_ids = dict(Instrument.objects.filter(is_active=True).values_list("symbol", "pk"))
    return MarketFeed(sources=[SimulatorSource(simulator, UNIVERSE)], instrument_ids=instrument_ids,
                      stale_after=timedelta(seconds=settings.HAUNT_MARKET_STALE_SECONDS), bars=bars,
                      plugins=tuple(import_string(path)() for path in settings.HAUNT_FEED_PLUGINS))
