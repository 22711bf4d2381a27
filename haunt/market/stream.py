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
"""
import asyncio
import logging
import weakref
from collections import defaultdict
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
        self._listener: asyncio.Task | None = None
        self._listening: asyncio.Event | None = None

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
        per depth in use."""
        sequence = update["seq"]
        for listener in self.update_listeners:
            try:
                listener(update)
            except Exception:  # a failing listener must not keep the update from the sockets
                logger.exception("Market update listener %r failed", listener)
        quote_subscribers, book_subscribers = self.subscribers[QUOTES], self.subscribers[BOOKS]
        batches: dict = defaultdict(list)  # socket -> its quotes of this update
        for quote in update["quotes"]:
            sockets = quote_subscribers.get(quote["symbol"])
            if sockets:
                data = orjson.dumps(quote).decode()  # once, for the Quote message and every batch
                text = f'{{"type":"Quote","data":{data},"seq":{sequence}}}'
                for socket in list(sockets):
                    if socket.batch_quotes:
                        batches[socket].append(data)
                    else:
                        await socket.send_market_text(text)
        for socket, quotes in batches.items():
            await socket.send_market_text(f'{{"type":"Quotes","data":[{",".join(quotes)}],"seq":{sequence}}}')
        for book in update["books"]:
            sockets = book_subscribers.get(book["symbol"])
            if sockets:
                by_depth: dict[int, str] = {}
                for socket in list(sockets):
                    depth = socket.book_depth
                    if depth not in by_depth:
                        by_depth[depth] = _encoded("OrderBook", cut_book(book, depth), sequence)
                    await socket.send_market_text(by_depth[depth])


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
