"""The live market as the order services see it: books and prices from the feed's published state,
converted to the execution module's types."""
from decimal import Decimal

from haunt.market import state
from haunt.market.models import Instrument
from orders import execution


def instrument_spec(instrument: Instrument) -> execution.InstrumentSpec:
    return execution.InstrumentSpec(
        asset_class=instrument.asset_class,
        liquidity_tier=instrument.liquidity_tier,
        tick_size=instrument.tick_size,
        lot_size=instrument.lot_size,
        contract_multiplier=instrument.contract_multiplier,
    )


def live_book(symbol: str) -> execution.OrderBook | None:
    """The aggregated book, or None when the feed has none or the session is closed (empty book)."""
    book = state.book_read(symbol)
    if book is None or not book["bids"] or not book["asks"]:
        return None
    return execution.OrderBook(
        bids=tuple((Decimal(price), Decimal(quantity)) for price, quantity in book["bids"]),
        asks=tuple((Decimal(price), Decimal(quantity)) for price, quantity in book["asks"]),
    )


def live_prices(symbol: str) -> dict[str, Decimal | None] | None:
    """bid, ask, mid and last of the live quote (None when the feed has no quote)."""
    quote = state.quote_read(symbol)
    return None if quote is None else _prices(quote)


def live_prices_many(symbols: list[str]) -> dict[str, dict[str, Decimal | None]]:
    """live_prices for many symbols in one cache round trip (symbols without a quote are absent)."""
    return {symbol: _prices(quote) for symbol, quote in state.quotes_read(symbols).items()}


def _prices(quote: dict) -> dict[str, Decimal | None]:
    bid = Decimal(quote["bid"]) if quote["bid"] is not None else None
    ask = Decimal(quote["ask"]) if quote["ask"] is not None else None
    last = Decimal(quote["last"]) if quote["last"] is not None else None
    mid = (bid + ask) / 2 if bid is not None and ask is not None else None
    # A perpetual's quote carries the mark price the derivatives watcher computed (spec §6).
    mark = Decimal(quote["mark"]) if quote.get("mark") is not None else None
    return {"bid": bid, "ask": ask, "mid": mid, "last": last, "mark": mark}
