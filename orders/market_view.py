"""The live market as the order services see it: books and prices from the feed's published state,
converted to the execution module's types."""
from collections.abc import Callable
from decimal import Decimal

from haunt.market import state
from haunt.market.models import Instrument
from orders import execution


# Instruments the feed does not step (option contracts, quoted off their underlying) are listed
# and quoted on demand by the app that owns them: it registers a function of the order's symbol
# (in its AppConfig.ready) that the order services call before they look the instrument up.
_on_demand_markets: list[Callable[[str], None]] = []


def on_demand_market_register(prepare: Callable[[str], None]) -> None:
    if prepare not in _on_demand_markets:
        _on_demand_markets.append(prepare)


def on_demand_market_prepare(symbol: str) -> None:
    for prepare in _on_demand_markets:
        prepare(symbol)


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
    return None if quote is None else market_prices(quote)


def live_prices_many(symbols: list[str]) -> dict[str, dict[str, Decimal | None]]:
    """live_prices for many symbols in one cache round trip (symbols without a quote are absent)."""
    return {symbol: market_prices(quote) for symbol, quote in state.quotes_read(symbols).items()}


def market_prices(quote: dict) -> dict[str, Decimal | None]:
    """bid, ask, mid, last, (perpetuals) mark and the volume traded since the previous update of a
    published quote, as Decimals."""
    bid = Decimal(quote["bid"]) if quote["bid"] is not None else None
    ask = Decimal(quote["ask"]) if quote["ask"] is not None else None
    last = Decimal(quote["last"]) if quote["last"] is not None else None
    mid = (bid + ask) / 2 if bid is not None and ask is not None else None
    # A perpetual's quote carries the mark price the derivatives watcher computed (spec §6).
    mark = Decimal(quote["mark"]) if quote.get("mark") is not None else None
    volume = Decimal(quote["volume"]) if quote.get("volume") is not None else Decimal(0)
    return {"bid": bid, "ask": ask, "mid": mid, "last": last, "mark": mark, "volume": volume}
