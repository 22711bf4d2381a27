"""The live market state: the latest aggregated quote and book per symbol, and the feed's status.

Kept in the Django cache, which is the in-process memory on the embedded profile (the feed runs in
the platform process) and Redis in production (the feed runs in its own process). Values are stored
JSON-ready (decimals as strings), so the REST API and the WebSocket send them as they are.
Entries expire, so a feed that has stopped leaves no quote behind that looks current.
"""
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


def market_state_write(*, quotes: list[dict], books: list[dict], status: dict) -> None:
    """Publish one feed update for many symbols in a single cache round trip."""
    values = {quote_key(quote["symbol"]): quote for quote in quotes}
    values.update({book_key(book["symbol"]): book for book in books})
    values[STATUS_KEY] = status
    cache.set_many(values, timeout=STATE_TTL_SECONDS)


def quote_read(symbol: str) -> dict | None:
    return cache.get(quote_key(symbol))


def quotes_read(symbols: list[str]) -> dict[str, dict]:
    found = cache.get_many([quote_key(symbol) for symbol in symbols])
    return {quote["symbol"]: quote for quote in found.values()}


def book_read(symbol: str) -> dict | None:
    return cache.get(book_key(symbol))


def feed_status_read() -> dict | None:
    return cache.get(STATUS_KEY)
