"""Market data to WebSocket subscribers: each feed update arrives once per server process and is
written straight to the sockets subscribed to each symbol.

Going through channel-layer groups, every quote became one Redis message per subscribed socket
(500 sockets × 3 symbols × 4 updates/s = 6,000 queued messages a second), each decoded, dispatched
and JSON-encoded again by its consumer: a server fell seconds behind. Here the feed publishes one
message per update — on Redis pub/sub on the production profile (the feed runs in its own
process), straight to the hub on the embedded profile (the feed runs in the server's loop) — and
the hub encodes each quote once and hands the same text to every socket that wants it.

Every Quote and OrderBook message carries the feed update's sequence number (`seq`), so a client
sees a gap when it missed an update.

Some instruments are not stepped by the feed but priced off one that is (option contracts off their
underlying). The app that owns them registers a resolver in DERIVED_MARKET_RESOLVERS; while a socket
of the hub follows such a symbol's quote or book, each update of the symbol it derives from makes
both (off the event loop, once however many sockets follow either), and they go out with the
update's own quotes and books, under the same `seq`.
"""
import asyncio
import logging
import weakref
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import orjson
import redis.asyncio as redis
from django.conf import settings

logger = logging.getLogger(__name__)

QUOTES = "quotes"
BOOKS = "orderbook"


class MarketSubscriber(Protocol):
    """What the hub needs of a socket: its book depth, whether it takes its quotes batched (one
    `Quotes` message per update), and a way to send it text."""

    book_depth: int
    batch_quotes: bool

    async def send_market_text(self, text: str) -> None: ...


@dataclass(frozen=True)
class DerivedMarket:
    """A symbol whose quote and book are made off another's feed quotes: `price(quote, terms)` makes,
    from one feed quote of `from_symbol`, the quotes and the books (two lists) of every derived symbol
    it is given the `terms` of (those sharing this `price`). It runs in a worker thread and must not
    touch the database."""

    from_symbol: str
    terms: object
    price: Callable[[dict, list], tuple[list[dict], list[dict]]]


# Functions of a list of symbols answering the ones their app prices off the feed, as DerivedMarket
# by symbol, registered in the app's AppConfig.ready; each may read the database and raises
# DomainError for a symbol it owns but cannot price (an expired contract).
DERIVED_MARKET_RESOLVERS: list[Callable[[list[str]], dict[str, DerivedMarket]]] = []


def derived_market_resolve(symbols: list[str]) -> dict[str, DerivedMarket]:
    """The derived symbols among `symbols` (synchronous: resolvers read the database)."""
    derived: dict[str, DerivedMarket] = {}
    for resolve in DERIVED_MARKET_RESOLVERS:
        derived.update(resolve(symbols))
    return derived


# Sends between two yields to the event loop while an update goes out. A socket's send only queues
# its frame; the server writes queued frames when the loop runs, so without yielding no socket got
# its bytes before every socket's frame was queued (500 sockets: ~20 ms of queuing ahead of the first
# byte). Every 10 sends keeps the loop overhead small and the wire busy from the first sockets on.
FLUSH_EVERY = 10


def update_message(*, sequence: int, quotes: list[dict], books: list[dict]) -> bytes:
    """One feed update as the hub receives it."""
    return orjson.dumps({"seq": sequence, "quotes": quotes, "books": books})


def _encoded(event: str, data: dict, sequence: int) -> str:
    return orjson.dumps({"type": event, "data": data, "seq": sequence}).decode()


class MarketHub:
    """The sockets of one event loop subscribed to each symbol's quotes and books."""

    def __init__(self):
        self.subscribers: dict[str, dict[str, set]] = {QUOTES: defaultdict(set), BOOKS: defaultdict(set)}
        self.update_listeners: list = []  # callables given every whole update (the order engine)
        # Derived symbols followed here (quote, book or both), by the feed symbol they are made from,
        # and the way back.
        self.derived: dict[str, dict[str, DerivedMarket]] = {}
        self._derived_from: dict[str, str] = {}
        self._listener: asyncio.Task | None = None
        self._listening: asyncio.Event | None = None
        self._sends = 0
        # Sockets dropped after a failed send during the update going out (_send): skipped for the
        # rest of it (their batch may still be pending); no longer subscribed to any later one.
        self._dropped: set = set()

    def subscribe(self, subscriber: MarketSubscriber, kind: str, symbols: list[str]) -> None:
        for symbol in symbols:
            self.subscribers[kind][symbol].add(subscriber)

    def unsubscribe(self, subscriber: MarketSubscriber, kind: str, symbols: list[str]) -> None:
        for symbol in symbols:
            sockets = self.subscribers[kind].get(symbol)
            if sockets is not None:
                sockets.discard(subscriber)
                if not sockets:
                    del self.subscribers[kind][symbol]
                    if (symbol in self._derived_from and symbol not in self.subscribers[QUOTES]
                            and symbol not in self.subscribers[BOOKS]):
                        self._underive(symbol)

    def derive(self, derived: dict[str, DerivedMarket]) -> None:
        """Make these symbols' quotes and books on every update of the symbols they derive from (call
        after subscribing a socket to their quotes or books: the last socket to leave both stops it)."""
        for symbol, derivation in derived.items():
            if symbol in self.subscribers[QUOTES] or symbol in self.subscribers[BOOKS]:
                self.derived.setdefault(derivation.from_symbol, {})[symbol] = derivation
                self._derived_from[symbol] = derivation.from_symbol

    def _underive(self, symbol: str) -> None:
        from_symbol = self._derived_from.pop(symbol)
        followed = self.derived[from_symbol]
        del followed[symbol]
        if not followed:
            del self.derived[from_symbol]

    def _drop(self, socket: MarketSubscriber, error: Exception) -> None:
        # A warning, not a traceback: a client that goes away is not a server error.
        logger.warning("Dropped a market socket whose send failed (%s: %s)", type(error).__name__, error)
        self._dropped.add(socket)
        for kind in (QUOTES, BOOKS):
            self.unsubscribe(socket, kind, list(self.symbols_of(socket, kind)))

    def symbols_of(self, subscriber: MarketSubscriber, kind: str) -> set[str]:
        return {symbol for symbol, sockets in self.subscribers[kind].items() if subscriber in sockets}

    def listen(self, callback) -> None:
        """Call `callback(update)` with every update (a dict: seq, quotes, books), in this loop."""
        self.update_listeners.append(callback)

    async def leave(self, subscriber: MarketSubscriber) -> None:
        """Forget a closed socket; the last one out stops the Redis listener."""
        for kind in (QUOTES, BOOKS):
            self.unsubscribe(subscriber, kind, list(self.symbols_of(subscriber, kind)))
        if not any(self.subscribers.values()) and not self.update_listeners and self._listener is not None:
            self._listener.cancel()
            self._listener, self._listening = None, None

    async def start(self) -> None:
        """Make sure updates reach this hub: on the production profile, subscribed to the feed's
        Redis channel before this returns (an update published afterwards is not missed)."""
        if not settings.REDIS_URL:
            return
        if self._listener is None:
            self._listening = asyncio.Event()
            self._listener = asyncio.create_task(self._listen(self._listening), name="market-hub")
        await self._listening.wait()

    async def _listen(self, listening: asyncio.Event) -> None:
        """Receive updates until cancelled, resubscribing after a lost connection (the updates
        missed meanwhile show as a gap in `seq`)."""
        while True:
            # No read timeout: the channel is quiet whenever the feed is stopped or between updates.
            client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=None)
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(settings.HAUNT_MARKET_CHANNEL)
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        listening.set()
                    elif message["type"] == "message":
                        try:
                            await self.deliver(orjson.loads(message["data"]))
                        except Exception:  # one bad update must not end the stream for every socket
                            logger.exception("Could not deliver a market update")
            except redis.RedisError:
                logger.exception("Market hub: Redis connection lost; resubscribing")
                await asyncio.sleep(1)
            finally:
                await pubsub.aclose()
                await client.aclose()

    async def deliver(self, update: dict) -> None:
        """Write one feed update to the subscribed sockets: each quote encoded once, each book once
        per depth in use. Derived quotes and books are made in a worker thread while the feed's own
        quotes go out, then follow them (the quotes joining the same batches, the books after the
        feed's books)."""
        sequence = update["seq"]
        self._dropped.clear()
        for listener in self.update_listeners:
            try:
                listener(update)
            except Exception:  # a failing listener must not keep the update from the sockets
                logger.exception("Market update listener %r failed", listener)
        derived = None
        if self.derived:
            work = self._derivation_work(update["quotes"])
            if work:
                derived = asyncio.ensure_future(asyncio.to_thread(_derived_market, work))
        batches: dict = defaultdict(list)  # socket -> its quotes of this update
        await self._send_quotes(update["quotes"], sequence, batches)
        derived_books = None
        if derived is not None:
            derived_quotes, derived_books = await derived
            await self._send_quotes(derived_quotes, sequence, batches)
        for socket, quotes in batches.items():
            await self._send(socket, f'{{"type":"Quotes","data":[{",".join(quotes)}],"seq":{sequence}}}')
        await self._send_books(update["books"], sequence)
        if derived_books:
            await self._send_books(derived_books, sequence)

    async def _send_books(self, books: list[dict], sequence: int) -> None:
        """Each book's OrderBook message to its sockets, encoded once per depth in use."""
        book_subscribers = self.subscribers[BOOKS]
        for book in books:
            sockets = book_subscribers.get(book["symbol"])
            if sockets:
                by_depth: dict[int, str] = {}
                for socket in list(sockets):
                    depth = socket.book_depth
                    if depth not in by_depth:
                        by_depth[depth] = _encoded("OrderBook", cut_book(book, depth), sequence)
                    await self._send(socket, by_depth[depth])

    async def _send_quotes(self, quotes: list[dict], sequence: int, batches: dict) -> None:
        """Each quote's Quote message to its unbatched sockets; its text kept for the batched ones."""
        quote_subscribers = self.subscribers[QUOTES]
        for quote in quotes:
            sockets = quote_subscribers.get(quote["symbol"])
            if sockets:
                data = orjson.dumps(quote).decode()  # once, for the Quote message and every batch
                text = f'{{"type":"Quote","data":{data},"seq":{sequence}}}'
                for socket in list(sockets):
                    if socket.batch_quotes:
                        batches[socket].append(data)
                    else:
                        await self._send(socket, text)

    async def _send(self, socket: MarketSubscriber, text: str) -> None:
        """Send to one socket; a socket whose send fails (closed mid-update, before its consumer
        left the hub) is dropped from the hub, and the update goes on to every other socket."""
        if socket in self._dropped:
            return
        try:
            await socket.send_market_text(text)
        except Exception as error:
            self._drop(socket, error)
            return
        self._sends += 1
        if self._sends % FLUSH_EVERY == 0:
            await asyncio.sleep(0)  # let the server write what is queued (see FLUSH_EVERY)

    def _derivation_work(self, quotes: list[dict]) -> list[tuple[dict, dict]]:
        """The update's quotes that derived symbols followed here are made from, each with the terms
        of those symbols grouped by pricing function (copied: sockets may come and go meanwhile).
        A symbol followed for its quote and its book is in once: both come from one pricing."""
        work = []
        for quote in quotes:
            followed = self.derived.get(quote["symbol"])
            if followed:
                by_price: dict = defaultdict(list)
                for derivation in followed.values():
                    by_price[derivation.price].append(derivation.terms)
                work.append((quote, by_price))
        return work


def _derived_market(work: list[tuple[dict, dict]]) -> tuple[list[dict], list[dict]]:
    """The derived quotes and books of one update."""
    quotes, books = [], []
    for quote, by_price in work:
        for price, terms in by_price.items():
            try:
                made_quotes, made_books = price(quote, terms)
            except Exception:  # one failed pricing must not hold up the other derived symbols
                logger.exception("Could not make the quotes and books derived from %s", quote["symbol"])
                continue
            quotes.extend(made_quotes)
            books.extend(made_books)
    return quotes, books


def cut_book(book: dict, depth: int) -> dict:
    return {**book, "bids": book["bids"][:depth], "asks": book["asks"][:depth]}


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, MarketHub]" = weakref.WeakKeyDictionary()


def market_hub() -> MarketHub:
    """This event loop's hub (a server process has one loop; tests start a loop per test)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = MarketHub()
    return hub


class MarketPublisher:
    """The feed's side: one message per update, to Redis (production) or to this loop's hub (embedded)."""

    def __init__(self):
        self._clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.Redis]" = weakref.WeakKeyDictionary()

    async def publish(self, *, sequence: int, quotes: list[dict], books: list[dict]) -> None:
        if not settings.REDIS_URL:
            await market_hub().deliver({"seq": sequence, "quotes": quotes, "books": books})
            return
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = redis.Redis.from_url(settings.REDIS_URL)
        await client.publish(settings.HAUNT_MARKET_CHANNEL, update_message(sequence=sequence, quotes=quotes, books=books))


market_publisher = MarketPublisher()
