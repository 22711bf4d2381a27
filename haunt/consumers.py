"""The one WebSocket consumer at /ws/.

Clients send `{"type": "<Command>", ...}`; the server pushes `{"type": "<Event>", "data": {...}}`,
with `seq` on market data so a client can tell when it missed an update. Every subscription to a
user's own data is authorised through the same selectors as the REST API, so someone else's
portfolio is refused here exactly as it is a 404 there.

This is the platform's half: the protocol, market data and the per-portfolio event streams. What a
portfolio is belongs to the apps above, so the two methods that read one (`owned_portfolio_id`,
`portfolio_snapshot`) are supplied by the project root's subclass (config.consumers).
"""
import uuid

import orjson

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from haunt.api.parsers import json_loads
from haunt.errors import DomainError
from haunt.market import state
from haunt.market.models import Instrument
from haunt.market.stream import BOOKS, QUOTES, cut_book, derived_market_resolve, market_hub
from haunt.realtime import ORDERS, PORTFOLIO, POSITIONS, portfolio_events_group, user_alerts_group

MAX_SYMBOLS_PER_CONNECTION = 200
DEFAULT_BOOK_DEPTH = 20
UNAUTHENTICATED_CLOSE_CODE = 4401


def error_message(code: str, message: str, field: str | None = None) -> dict:
    return {"type": "Error", "error": {"code": code, "message": message, "field": field}}


@database_sync_to_async
def active_symbols() -> set[str]:
    return set(Instrument.objects.filter(is_active=True).values_list("symbol", flat=True))


@database_sync_to_async
def derived_market(symbols: list[str]) -> dict:
    try:
        return derived_market_resolve(symbols)
    except DomainError as error:
        error.field = "symbols"  # the request's field, whichever symbol of it was refused
        raise


def symbol_list(content: dict) -> list[str]:
    """The message's `symbols`, de-duplicated in their order."""
    symbols = content.get("symbols")
    if not isinstance(symbols, list) or not symbols or not all(isinstance(s, str) for s in symbols):
        raise DomainError('"symbols" must be a non-empty list of symbols.', field="symbols")
    return list(dict.fromkeys(symbols))


class StreamConsumer(AsyncJsonWebsocketConsumer):
    async def owned_portfolio_id(self, user, portfolio_id) -> str:
        """The id of the user's portfolio `portfolio_id` (NotFound when it is not theirs)."""
        raise NotImplementedError("the project root's consumer supplies the portfolio lookup")

    async def portfolio_snapshot(self, user, portfolio_id) -> dict:
        """The PortfolioUpdate body of the user's portfolio, sent when its stream is subscribed."""
        raise NotImplementedError("the project root's consumer supplies the portfolio snapshot")

    @classmethod
    async def encode_json(cls, content) -> str:
        # The same compact encoding as the market hub's messages (orjson; decimals are strings already).
        return orjson.dumps(content, default=str).decode()

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=UNAUTHENTICATED_CLOSE_CODE)  # before accept: the handshake is refused
            return
        # portfolio id -> the streams of it this socket follows (its events group is joined while any are)
        self.streams: dict[str, set[str]] = {}
        self.follows_alerts = False
        self.is_closed = False
        self.book_depth = DEFAULT_BOOK_DEPTH
        self.batch_quotes = False
        self.handlers = {
            "SubscribeQuotes": self.subscribe_quotes,
            "UnsubscribeQuotes": self.unsubscribe_quotes,
            "SubscribeOrderBook": self.subscribe_order_book,
            "UnsubscribeOrderBook": self.unsubscribe_order_book,
            "SubscribePortfolio": self.subscribe_portfolio_stream(PORTFOLIO),
            "UnsubscribePortfolio": self.unsubscribe_portfolio_stream(PORTFOLIO),
            "SubscribeOrders": self.subscribe_portfolio_stream(ORDERS),
            "UnsubscribeOrders": self.unsubscribe_portfolio_stream(ORDERS),
            "SubscribePositions": self.subscribe_portfolio_stream(POSITIONS),
            "UnsubscribePositions": self.unsubscribe_portfolio_stream(POSITIONS),
            "SubscribeAlerts": self.subscribe_alerts,
            "UnsubscribeAlerts": self.unsubscribe_alerts,
            "Ping": self.ping,
        }
        await self.accept()

    async def disconnect(self, code):
        self.is_closed = True
        await market_hub().leave(self)
        for portfolio_id in getattr(self, "streams", ()):
            await self.channel_layer.group_discard(portfolio_events_group(portfolio_id), self.channel_name)
        if getattr(self, "follows_alerts", False):
            await self.channel_layer.group_discard(user_alerts_group(self.scope["user"].pk), self.channel_name)

    async def send_market_text(self, text: str) -> None:
        """A quote or book the market hub encoded once for every socket that wants it."""
        if not self.is_closed:
            await self.send(text_data=text)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        try:
            content = json_loads(text_data or bytes_data or "")
        except (ValueError, UnicodeDecodeError):
            await self.send_json(error_message("invalid_json", "Messages must be JSON objects."))
            return
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self.send_json(error_message("invalid_message", 'Messages are objects with a "type".', "type"))
            return
        handler = self.handlers.get(content["type"])
        if handler is None:
            await self.send_json(error_message(
                "unknown_message_type", f"Unknown message type {content['type']!r}. Known: {', '.join(self.handlers)}.",
                "type"))
            return
        try:
            await handler(content)
        except DomainError as error:
            await self.send_json(error_message(error.code, error.message, error.field))

    # --- market data -------------------------------------------------------------------
    async def _symbols(self, content, *, subscribing_to: str | None = None, derived=()) -> list[str]:
        """The message's symbols, de-duplicated and checked (`derived`: those already resolved as
        derived symbols, which need no instrument of the feed); when `subscribing_to` quotes or
        books, also checked against the per-connection subscription limit (leaving is always allowed)."""
        symbols = symbol_list(content)
        unknown = sorted(set(symbols) - set(derived) - await active_symbols())
        if unknown:
            raise DomainError(f"Unknown symbols: {', '.join(unknown)}.", code="unknown_symbol", field="symbols")
        if subscribing_to is not None:
            hub = market_hub()
            held = len(hub.symbols_of(self, QUOTES)) + len(hub.symbols_of(self, BOOKS))
            new = set(symbols) - hub.symbols_of(self, subscribing_to)
            if held + len(new) > MAX_SYMBOLS_PER_CONNECTION:
                raise DomainError(f"At most {MAX_SYMBOLS_PER_CONNECTION} market subscriptions per connection.",
                                  code="too_many_subscriptions", field="symbols")
        return symbols

    async def subscribe_quotes(self, content):
        # Option contracts are quoted off their underlying's updates (haunt.market.stream); resolving
        # them lists them on demand and publishes their quotes, so the snapshot below is current.
        derived = await derived_market(symbol_list(content))
        symbols = await self._symbols(content, subscribing_to=QUOTES, derived=derived)
        batch = content.get("batch", self.batch_quotes)
        if not isinstance(batch, bool):
            raise DomainError('"batch" must be true or false.', field="batch")
        self.batch_quotes = batch  # for every quote subscription of the connection
        hub = market_hub()
        await hub.start()
        hub.subscribe(self, QUOTES, symbols)
        hub.derive(derived)
        await self.send_json({"type": "Subscribed", "data": {"channel": "quotes", "symbols": symbols, "batch": batch}})
        quotes = await sync_to_async(state.quotes_read, thread_sensitive=False)(symbols)
        snapshot = [quotes[symbol] for symbol in symbols if symbol in quotes]
        if batch:
            await self.send_json({"type": "Quotes", "data": snapshot, "seq": None})
        else:
            for quote in snapshot:
                await self.send_json({"type": "Quote", "data": quote, "seq": None})

    async def unsubscribe_quotes(self, content):
        symbols = await self._symbols(content)
        market_hub().unsubscribe(self, QUOTES, symbols)
        await self.send_json({"type": "Unsubscribed", "data": {"channel": "quotes", "symbols": symbols}})

    async def subscribe_order_book(self, content):
        # As for quotes: option contracts' books are made off their underlying's updates, in the same
        # pricing as their quotes; resolving them publishes their books for the snapshot below.
        derived = await derived_market(symbol_list(content))
        symbols = await self._symbols(content, subscribing_to=BOOKS, derived=derived)
        depth = content.get("depth", DEFAULT_BOOK_DEPTH)
        if not isinstance(depth, int) or isinstance(depth, bool) or not 1 <= depth <= 100:
            raise DomainError('"depth" must be an integer from 1 to 100.', field="depth")
        self.book_depth = depth
        hub = market_hub()
        await hub.start()
        hub.subscribe(self, BOOKS, symbols)
        hub.derive(derived)
        await self.send_json({"type": "Subscribed", "data": {"channel": "orderbook", "symbols": symbols, "depth": depth}})
        for symbol in symbols:
            book = await sync_to_async(state.book_read, thread_sensitive=False)(symbol)
            if book is not None:
                await self.send_json({"type": "OrderBook", "data": cut_book(book, self.book_depth), "seq": None})

    async def unsubscribe_order_book(self, content):
        symbols = await self._symbols(content)
        market_hub().unsubscribe(self, BOOKS, symbols)
        await self.send_json({"type": "Unsubscribed", "data": {"channel": "orderbook", "symbols": symbols}})

    # --- the user's own rooms ------------------------------------------------------------
    def subscribe_portfolio_stream(self, stream: str):
        async def subscribe(content):
            portfolio_id = await self.owned_portfolio_id(self.scope["user"], content.get("portfolio_id"))  # NotFound if foreign
            # Join before reading the snapshot: an update committed in between then arrives after it
            # instead of being lost.
            if portfolio_id not in self.streams:
                await self.channel_layer.group_add(portfolio_events_group(portfolio_id), self.channel_name)
                self.streams[portfolio_id] = set()
            self.streams[portfolio_id].add(stream)
            await self.send_json({"type": "Subscribed", "data": {"channel": stream, "portfolio_id": portfolio_id}})
            if stream == PORTFOLIO:
                await self.send_json({"type": "PortfolioUpdate",
                                      "data": await self.portfolio_snapshot(self.scope["user"], portfolio_id)})
        return subscribe

    def unsubscribe_portfolio_stream(self, stream: str):
        async def unsubscribe(content):
            try:
                portfolio_id = str(uuid.UUID(str(content.get("portfolio_id"))))
            except ValueError:
                raise DomainError('"portfolio_id" must be a portfolio id.', field="portfolio_id") from None
            followed = self.streams.get(portfolio_id)
            if followed is not None:
                followed.discard(stream)
                if not followed:
                    del self.streams[portfolio_id]
                    await self.channel_layer.group_discard(portfolio_events_group(portfolio_id), self.channel_name)
            await self.send_json({"type": "Unsubscribed", "data": {"channel": stream, "portfolio_id": portfolio_id}})
        return unsubscribe

    async def subscribe_alerts(self, content):
        """The user's alerts as they are raised (every portfolio's, and the account's own)."""
        if not self.follows_alerts:
            await self.channel_layer.group_add(user_alerts_group(self.scope["user"].pk), self.channel_name)
            self.follows_alerts = True
        await self.send_json({"type": "Subscribed", "data": {"channel": "alerts"}})

    async def unsubscribe_alerts(self, content):
        if self.follows_alerts:
            self.follows_alerts = False
            await self.channel_layer.group_discard(user_alerts_group(self.scope["user"].pk), self.channel_name)
        await self.send_json({"type": "Unsubscribed", "data": {"channel": "alerts"}})

    async def ping(self, content):
        await self.send_json({"type": "Pong", "data": {"echo": content.get("echo")}})

    # --- group messages -------------------------------------------------------------------
    async def dispatch(self, message):
        """Group pushes skip Channels' per-message close_old_connections: they touch no database, and
        that call hops into the single thread the HTTP views run in, so every quote would queue
        behind whatever request is running. Everything else dispatches as Channels does it (and its
        database work goes through database_sync_to_async, which keeps connections clean)."""
        if message.get("type") == "stream.events":
            await self.stream_events(message)
        elif message.get("type") == "stream.alerts":
            await self.stream_alerts(message)
        else:
            await super().dispatch(message)

    async def stream_events(self, message):
        """A portfolio's committed events, oldest first: those of the streams this socket follows."""
        followed = self.streams.get(message["portfolio_id"])
        for event in message["events"]:
            if self.is_closed or not followed:  # queued before the disconnect or the last unsubscribe
                return
            if event["stream"] in followed:
                payload = {"type": event["event"], "data": event["data"]}
                if "change" in event:
                    payload["change"] = event["change"]
                await self.send_json(payload)

    async def stream_alerts(self, message):
        """The user's committed alerts, oldest first."""
        for alert in message["alerts"]:
            if self.is_closed or not self.follows_alerts:
                return
            await self.send_json({"type": "Alert", "data": alert})
