"""Market reads: instruments, live quotes and books, candles, currency conversion."""
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db.models import QuerySet
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from haunt.errors import Conflict, DomainError, NotFound
from haunt.market import state
from haunt.market.bars import INTERVAL_SECONDS, SOURCE_RESOLUTION, Bar, resample
from haunt.market.calendars import TradingCalendar, calendar_for
from haunt.market.models import Candle, Instrument
from haunt.money import format_decimal, places_of


class MarketUnavailable(Conflict):
    code = "market_unavailable"


def instrument_list() -> QuerySet[Instrument]:
    return Instrument.objects.filter(is_active=True).select_related("underlying")


# Orders look their instrument up on every placement; the registry changes only through the admin
# and instruments_sync. Each process keeps what it read for a few seconds, and any save or delete
# of an instrument in the process clears it at once.
TRADABLE_INSTRUMENT_SECONDS = 5.0
_tradable: dict[str, tuple[float, Instrument]] = {}


def tradable_instrument(symbol: str) -> Instrument | None:
    """The active instrument `symbol` names (a copy at most TRADABLE_INSTRUMENT_SECONDS old), or None."""
    now = time.monotonic()
    cached = _tradable.get(symbol)
    if cached is not None and now - cached[0] < TRADABLE_INSTRUMENT_SECONDS:
        return cached[1]
    instrument = Instrument.objects.filter(symbol=symbol, is_active=True).first()
    if instrument is not None:
        _tradable[symbol] = (now, instrument)
    else:
        _tradable.pop(symbol, None)
    return instrument


@receiver([post_save, post_delete], sender=Instrument)
def tradable_instruments_forget(**kwargs) -> None:
    _tradable.clear()


def instrument_calendar(instrument: Instrument) -> TradingCalendar:
    """The sessions an instrument trades in: its asset class's; an option trades in its
    underlying's (stock and ETF options in NYSE hours, crypto options around the clock, as on Deribit)."""
    if instrument.asset_class == "option" and instrument.underlying_id is not None:
        return calendar_for(instrument.underlying.asset_class)
    return calendar_for(instrument.asset_class)


def instrument_get(*, symbol: str) -> Instrument:
    try:
        return Instrument.objects.select_related("underlying").get(symbol=symbol, is_active=True)
    except Instrument.DoesNotExist:
        raise NotFound(f"No instrument {symbol!r}.", code="unknown_symbol", field="symbol") from None


def quote_get(*, symbol: str) -> dict:
    """The latest aggregated quote; 409 when the instrument exists but the feed has nothing for it."""
    quote = state.quote_read(symbol)
    if quote is None:
        instrument_get(symbol=symbol)
        raise MarketUnavailable(f"No live quote for {symbol} yet: is the market feed running?")
    return quote


def book_get(*, symbol: str, depth: int) -> dict:
    book = state.book_read(symbol)
    if book is None:
        instrument_get(symbol=symbol)
        raise MarketUnavailable(f"No live order book for {symbol} yet: is the market feed running?")
    return {**book, "bids": book["bids"][:depth], "asks": book["asks"][:depth]}


def candle_range(*, instrument: Instrument, resolution: int, start: datetime, end: datetime) -> QuerySet[Candle]:
    return Candle.objects.filter(
        instrument=instrument, resolution=resolution, start__gte=start, start__lt=end
    ).order_by("start")


def last_close(*, instrument_id: int) -> Decimal | None:
    """The close of the most recent stored bar, at whatever resolution is newest."""
    candle = Candle.objects.filter(instrument_id=instrument_id).order_by("-start", "resolution").first()
    return candle.close if candle else None


def reference_price(*, symbol: str) -> Decimal:
    """Mid of the live quote, else its last trade, else the last stored close: a valuation price."""
    quote = state.quote_read(symbol)
    if quote is not None:
        if quote["bid"] is not None and quote["ask"] is not None:
            return (Decimal(quote["bid"]) + Decimal(quote["ask"])) / 2
        if quote["last"] is not None:
            return Decimal(quote["last"])
    instrument = instrument_get(symbol=symbol)
    close = last_close(instrument_id=instrument.pk)
    if close is None:
        raise MarketUnavailable(f"No price for {symbol} yet: is the market feed running?")
    return close


def conversion_rate(*, from_currency: str, to_currency: str) -> Decimal:
    """How many units of `to_currency` one unit of `from_currency` buys, from the live market.

    Uses the direct pair (EUR-USD), its inverse (USD-JPY read backwards) or a cross through USD.
    """
    if from_currency == to_currency:
        return Decimal(1)
    pairs = set(Instrument.objects.filter(
        symbol__in=[f"{from_currency}-{to_currency}", f"{to_currency}-{from_currency}"],
        asset_class__in=["forex", "crypto_spot"],
    ).values_list("symbol", flat=True))
    if f"{from_currency}-{to_currency}" in pairs:
        return reference_price(symbol=f"{from_currency}-{to_currency}")
    if f"{to_currency}-{from_currency}" in pairs:
        return 1 / reference_price(symbol=f"{to_currency}-{from_currency}")
    if "USD" in (from_currency, to_currency):
        raise MarketUnavailable(f"No market converts {from_currency} to {to_currency}.")
    return conversion_rate(from_currency=from_currency, to_currency="USD") * conversion_rate(
        from_currency="USD", to_currency=to_currency
    )


MAX_BARS_PER_REQUEST = 5000
DEFAULT_BARS_PER_REQUEST = 500


def candle_bars_get(*, instrument: Instrument, interval: str, now: datetime, start: datetime | None = None,
                    end: datetime | None = None) -> list[Bar]:
    """Bars of `interval` between start (inclusive, rounded down to the interval) and end (exclusive;
    default now, start default 500 bars before end), oldest first. Minute bars serve 1m/5m, hourly
    bars serve 1h/1d."""
    seconds = INTERVAL_SECONDS[interval]
    end = end or now
    start = start or end - timedelta(seconds=seconds * DEFAULT_BARS_PER_REQUEST)
    if start >= end:
        raise DomainError("start must be before end.", code="invalid_range", field="start")
    if (end - start).total_seconds() / seconds > MAX_BARS_PER_REQUEST:
        raise DomainError(f"At most {MAX_BARS_PER_REQUEST} bars per request: narrow the range or widen the interval.",
                          code="range_too_large", field="start")
    aligned_start = datetime.fromtimestamp(int(start.timestamp()) // seconds * seconds, tz=UTC)
    rows = candle_range(instrument=instrument, resolution=SOURCE_RESOLUTION[interval], start=aligned_start, end=end)
    return resample(
        (Bar(int(row.start.timestamp()), row.open, row.high, row.low, row.close, row.volume) for row in rows),
        seconds,
    )


def candles_get(*, instrument: Instrument, interval: str, now: datetime, start: datetime | None = None,
                end: datetime | None = None) -> list[dict]:
    """candle_bars_get's bars with prices at the instrument's tick precision and volume at its lot's."""
    bars = candle_bars_get(instrument=instrument, interval=interval, now=now, start=start, end=end)
    price_places, quantity_places = places_of(instrument.tick_size), places_of(instrument.lot_size)
    return [
        {
            "start": datetime.fromtimestamp(bar.start, tz=UTC).isoformat().replace("+00:00", "Z"),
            "open": format_decimal(bar.open, price_places),
            "high": format_decimal(bar.high, price_places),
            "low": format_decimal(bar.low, price_places),
            "close": format_decimal(bar.close, price_places),
            "volume": format_decimal(bar.volume, quantity_places),
        }
        for bar in bars
    ]
