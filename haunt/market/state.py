"""The live market state: the latest aggregated quote and book per symbol, and the feed's status.

Kept in the Django cache, which is the in-process memory on the embedded profile (the feed runs in
the platform process) and Redis in production (the feed runs in its own process). Values are stored
JSON-ready (decimals as strings), so the REST API and the WebSocket send them as they are.
Entries expire, so a feed that has stopped leaves no quote behind that looks current.

Inside `one_market_instant()` every symbol's quote and book are read from the cache once and then
served from memory: one operation (an order's checks, its fill, the events it sends) prices against
a single market instant, and asks Redis once per key instead of once per reader.
"""
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.core.cache import cache

STATE_TTL_SECONDS = 60
STATUS_KEY = "market:status"


def _key_part(symbol: str) -> str:
    # OCC option symbols pad their root with spaces, which cache keys must not contain.
    return symbol.replace(" ", "_")


def quote_key(symbol: str) -> str:
    return f"market:quote:{_key_part(symbol)}"


def book_key(symbol: str) -> str:
    return f"market:book:{_key_part(symbol)}"


# The values read (None for a key the cache did not have) in the current one_market_instant() block.
_instant: ContextVar[dict[str, dict | None] | None] = ContextVar("market_instant", default=None)


@contextmanager
def one_market_instant() -> Iterator[None]:
    """Serve repeated quote and book reads in this block from the first read of each. Nested
    blocks share the outer one. Writes made in the block (quotes published on demand) are seen."""
    if _instant.get() is not None:
        yield
        return
    token = _instant.set({})
    try:
        yield
    finally:
        _instant.reset(token)


def _read(key: str) -> dict | None:
    memo = _instant.get()
    if memo is None:
        return cache.get(key)
    if key not in memo:
        memo[key] = cache.get(key)
    return memo[key]


def _read_many(keys: list[str]) -> list[dict]:
    memo = _instant.get()
    if memo is None:
        return list(cache.get_many(keys).values())
    missing = [key for key in keys if key not in memo]
    if missing:
        found = cache.get_many(missing)
        memo.update({key: found.get(key) for key in missing})
    return [memo[key] for key in keys if memo[key] is not None]


def _write(values: dict[str, dict]) -> None:
    cache.set_many(values, timeout=STATE_TTL_SECONDS)
    memo = _instant.get()
    if memo is not None:
        memo.update(values)


def market_state_write(*, quotes: list[dict], books: list[dict], status: dict) -> None:
    """Publish one feed update for many symbols in a single cache round trip."""
    _write({**quotes_and_books(quotes=quotes, books=books), STATUS_KEY: status})


def market_quotes_write(*, quotes: list[dict], books: list[dict]) -> None:
    """Publish quotes and books made outside the feed (option contracts quoted off their underlying)."""
    _write(quotes_and_books(quotes=quotes, books=books))


def quotes_and_books(*, quotes: list[dict], books: list[dict]) -> dict[str, dict]:
    values = {quote_key(quote["symbol"]): quote for quote in quotes}
    values.update({book_key(book["symbol"]): book for book in books})
    return values


def quote_read(symbol: str) -> dict | None:
    return _read(quote_key(symbol))


def quotes_read(symbols: list[str]) -> dict[str, dict]:
    return {quote["symbol"]: quote for quote in _read_many([quote_key(symbol) for symbol in symbols])}


def book_read(symbol: str) -> dict | None:
    return _read(book_key(symbol))


def feed_status_read() -> dict | None:
    return cache.get(STATUS_KEY)
