"""The trigger engine: resting orders in an in-memory index, fired by market ticks.

It holds every order the market can act on — stops, take-profits, trailing stops (pending a
trigger) and resting limits — in `orders.triggers.TriggerIndex`, so a tick costs O(1 + fired) per
symbol instead of a scan, GTD/DAY expiries in an `ExpiryIndex`, and orders waiting out their
simulated latency in a heap by due time. It learns which orders changed from the ids the services
hand over on commit (`orders.changes`; the API may run in other processes) and re-reads just those
rows; every few seconds it also reconciles with the database, so a lost notice costs a delay, never
an order. It rebuilds the index from the database on start and acts only through `orders.services`,
which lock and re-check each order: a restart, or two engines racing, can neither lose nor
duplicate a fill.
"""
import asyncio
import heapq
import logging
import time
from datetime import datetime, timedelta

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from haunt.periodic import freeze_startup_heap, run_every
from orders import services, triggers
from orders.changes import ChangeListener, changed_order_ids
from haunt.market.stream import market_hub
from orders.market_view import live_prices_many, market_prices
from orders.models import Order, OrderStatus, OrderType

logger = logging.getLogger(__name__)


# Changed rows are re-read with this overlap, so a transaction that committed late is not missed.
SYNC_OVERLAP = timedelta(seconds=5)
INDEXED_STATUSES = (OrderStatus.PENDING_TRIGGER, OrderStatus.ACCEPTED, OrderStatus.TRIGGERED,
                    OrderStatus.PARTIALLY_FILLED)
TRIGGER_KIND = {OrderType.STOP: triggers.TriggerKind.STOP, OrderType.STOP_LIMIT: triggers.TriggerKind.STOP,
                OrderType.TAKE_PROFIT: triggers.TriggerKind.TAKE_PROFIT}
SOURCE = {"last": triggers.PriceSource.LAST, "mid": triggers.PriceSource.MID, "bid_ask": triggers.PriceSource.BID_ASK,
          "mark": triggers.PriceSource.MARK}


class OrderEngine:
    def __init__(self):
        self.index = triggers.TriggerIndex()
        self.expiries = triggers.ExpiryIndex()
        self.symbols: dict[str, set] = {}
        self.due: list[tuple[datetime, str]] = []  # heap of (execute_after, order id)
        self.due_at: dict = {}  # order id -> the execute_after its heap entry is for
        self.synced_until: datetime | None = None
        self.reconciled_at = 0.0
        # With a market subscription (run_engine), the latest prices arrive with each feed update and
        # the triggers are evaluated only when prices moved or orders were indexed; without one
        # (tests, one-off calls) every tick reads the live quotes from the cache.
        self.pushed_prices: dict[str, dict] | None = None
        self.pushed_sequence = 0
        self.evaluated_sequence = -1
        self.index_changed = True

    def rebuild(self, *, now: datetime) -> None:
        """Load every open order from the database (on start)."""
        self.index = triggers.TriggerIndex()
        self.expiries = triggers.ExpiryIndex()
        self.symbols, self.due, self.due_at = {}, [], {}
        changed_order_ids()  # every open order is read below: earlier notices are spent
        for order in Order.objects.open().select_related("instrument").order_by("created_at"):
            self._index(order)
        self.synced_until, self.reconciled_at = now, time.monotonic()
        freeze_startup_heap()  # the index is long-lived: keep the collector from rescanning it on every tick

    def sync(self, *, now: datetime) -> int:
        """Bring the index up to date with the orders changed since the last sync: those the
        services named on commit, and every few seconds every row updated lately (the database
        is the truth; a notice is only a shortcut)."""
        if self.synced_until is None:
            self.rebuild(now=now)
            return len(self.index)
        changed_ids, missed = changed_order_ids()
        if missed or time.monotonic() - self.reconciled_at >= settings.HAUNT_ENGINE_RECONCILE_SECONDS:
            changed = list(Order.objects.filter(updated_at__gte=self.synced_until - SYNC_OVERLAP)
                           .select_related("instrument").order_by("updated_at"))
            changed_ids.difference_update(str(order.pk) for order in changed)
            self.synced_until, self.reconciled_at = now, time.monotonic()
        else:
            changed = []
        if changed_ids:
            changed += list(Order.objects.filter(pk__in=changed_ids).select_related("instrument"))
        for order in changed:
            self._reindex(order)
        return len(changed)

    def _reindex(self, order: Order) -> None:
        self._forget(order.pk)
        if order.is_open:
            self._index(order)

    def on_market_update(self, update: dict) -> None:
        """A feed update from the market hub (called in the engine's event loop; the tick reads the
        new dict, never a half-built one)."""
        self.pushed_prices = {quote["symbol"]: market_prices(quote) for quote in update["quotes"]}
        self.pushed_sequence = update["seq"]

    def _index(self, order: Order) -> None:
        key = order.pk
        symbol = order.instrument.symbol
        self.index_changed = True
        if order.expires_at is not None:
            self.expiries.add(order_id=key, expires_at=order.expires_at)
        if order.execute_after is not None and order.status in INDEXED_STATUSES:
            self.due_at[key] = order.execute_after
            heapq.heappush(self.due, (order.execute_after, key))
        side = triggers.Side(order.side)
        if order.status == OrderStatus.PENDING_TRIGGER:
            source = SOURCE[order.trigger_source]
            if order.order_type == OrderType.TRAILING_STOP:
                if order.stop_price is None:
                    return
                self.index.add_trailing(triggers.TrailingEntry(
                    order_id=key, symbol=symbol, source=source, tick_size=order.instrument.tick_size,
                    state=triggers.TrailingStop(side=side, high_water_mark=order.high_water_mark,
                                                stop_price=order.stop_price, trail_amount=order.trail_amount,
                                                trail_percent=order.trail_percent)))
            else:
                self.index.add(triggers.TriggerEntry.for_order(
                    order_id=key, symbol=symbol, kind=TRIGGER_KIND[order.order_type], side=side,
                    level=order.stop_price, source=source))
        elif order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) and order.execute_after is None \
                and order.status in INDEXED_STATUSES:
            self.index.add(triggers.TriggerEntry.for_order(
                order_id=key, symbol=symbol, kind=triggers.TriggerKind.LIMIT, side=side, level=order.limit_price,
                source=triggers.PriceSource.BID_ASK))
        else:
            return
        self.symbols.setdefault(symbol, set()).add(key)

    def _forget(self, key) -> None:
        self.index.remove(key)
        self.expiries.remove(key)
        self.due_at.pop(key, None)
        for keys in self.symbols.values():
            keys.discard(key)

    def tick(self, *, now: datetime) -> dict[str, int]:
        """One engine step: sync, execute orders whose latency has passed, move trailing stops,
        fire what the market reached, expire what is due. An order whose action fails is logged
        and kept in the index, so one bad order never costs the others their turn."""
        self.sync(now=now)
        executed = 0
        for order_id in self._pop_due(now):
            order = self._act(services.order_execute_due, order_id, now)
            if order is not None:
                executed += 1
                self._reindex(order)  # e.g. a market order bigger than the book, due again next tick
        fired = 0
        watched = [symbol for symbol, keys in self.symbols.items() if keys]
        if self.pushed_prices is None:
            quotes = live_prices_many(watched) if watched else {}
        elif self.pushed_sequence != self.evaluated_sequence or self.index_changed:
            quotes, self.evaluated_sequence = self.pushed_prices, self.pushed_sequence
            # Instruments the feed does not step (option contracts) are quoted into the market
            # state by the app that owns them: read those there.
            unpushed = [symbol for symbol in watched if symbol not in quotes]
            if unpushed:
                quotes = {**quotes, **live_prices_many(unpushed)}
        else:
            watched, quotes = [], {}  # nothing moved since the last evaluation
        self.index_changed = False
        for symbol in watched:
            keys, quote = self.symbols[symbol], quotes.get(symbol)
            if quote is None:
                continue
            prices = triggers.TickPrices(last=quote["last"], bid=quote["bid"], ask=quote["ask"], mid=quote["mid"],
                                         mark=quote["mark"])
            for moved in self.index.trail(symbol, prices):
                services.order_trail(order_id=moved.order_id, high_water_mark=moved.state.high_water_mark,
                                     stop_price=moved.state.stop_price)
            if quote.get("volume") and quote["last"] is not None:
                # Volume printed at or through resting limits' prices works through their queues.
                for order_id in self.index.limits_traded_at(symbol, quote["last"]):
                    order = self._act(services.order_trade_through, order_id, now, traded_quantity=quote["volume"])
                    if order is not None:
                        self._reindex(order)
            for order_id in self.index.fire(symbol, prices):
                keys.discard(order_id)
                self.expiries.remove(order_id)
                order = self._act(services.order_fire, order_id, now)
                if order is not None:
                    # Still working (a limit the profiled book did not reach, the rest of a partial fill, a
                    # stop limit now resting, or an action that failed): the row may not have changed, so
                    # sync would not bring it back.
                    self._reindex(order)
                fired += 1
        expired = 0
        for order_id in self.expiries.pop_expired(now=now):
            self.index.remove(order_id)
            order = self._act(services.order_expire, order_id, now)
            if order is not None:
                self._reindex(order)
            expired += 1
        return {"executed": executed, "fired": fired, "expired": expired}

    def _pop_due(self, now: datetime) -> list:
        """Orders whose latency has passed (entries for orders changed or gone since are dropped)."""
        due = []
        while self.due and self.due[0][0] <= now:
            execute_after, key = heapq.heappop(self.due)
            if self.due_at.get(key) == execute_after:
                del self.due_at[key]
                due.append(key)
        return due

    @staticmethod
    def _act(action, order_id, now: datetime, **arguments) -> Order | None:
        """Run one service action for one order; on failure log it and answer the order as it stands."""
        try:
            return action(order_id=order_id, now=now, **arguments)
        except Exception:
            logger.exception("Order engine: %s failed for order %s", action.__name__, order_id)
            return Order.objects.select_related("instrument").filter(pk=order_id).first()


async def run_engine(*, engine: OrderEngine, interval: float, stop: asyncio.Event) -> None:
    """Tick the engine every `interval` seconds until `stop` is set; each tick runs in a worker thread
    (it does database work)."""
    hub = market_hub()
    hub.listen(engine.on_market_update)
    await hub.start()
    listener = await asyncio.to_thread(ChangeListener().start) if settings.REDIS_URL else None
    tick = database_sync_to_async(lambda: engine.tick(now=timezone.now()))
    try:
        await run_every(interval=interval, stop=stop, step=tick, name="Order engine")
    finally:
        if listener is not None:
            await asyncio.to_thread(listener.stop)
