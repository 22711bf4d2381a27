"""Option prices off the live underlying: model inputs per contract, valuations, and the simulated
quotes and books that orders execute against.

Option contracts are not stepped by the market feed: their quotes are made from the underlying's
live mid, the volatility surface (options_trading.surface) and the pricing kernels
(options_trading.pricing: Black-Scholes-Merton for European options, the collocation of the
exercise boundary for American ones), and written into the same market state the feed writes (haunt.market.state), so
the order services, the trigger engine and valuations read them like any other quote. Sockets
following a contract get its quote and book made off every feed update of the underlying
(option_market_at, through haunt.market.stream's derived market).
"""
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np

from haunt.market import state
from haunt.market.calendars import calendar_for
from haunt.market.selectors import reference_price
from haunt.market.universe import spec_by_symbol
from haunt.money import format_decimal, from_float, places_of
from options_trading import pricing, surface
from options_trading.models import ExerciseStyle, OptionContract

SECONDS_PER_YEAR = pricing.DAYS_PER_YEAR * 86_400
GREEK_PLACES = 8  # Greeks, model prices and volatilities in JSON: half-even, once, from float64


@dataclass(frozen=True)
class ChainValuation:
    """Model inputs and outputs for a list of contracts on one underlying (arrays in list order)."""

    contracts: list[OptionContract]
    spot: Decimal
    rate: float
    dividend_yield: float
    time_to_expiry: np.ndarray
    volatility: np.ndarray
    moneyness: np.ndarray
    valuation: pricing.OptionValuation
    spread_vega: np.ndarray  # what the quotes' width is made from (see chain_valuation)

    def quotes(self) -> surface.OptionQuotes:
        first = self.contracts[0]
        return surface.option_quotes(
            price=self.valuation.price, vega=self.spread_vega, moneyness=self.moneyness,
            time_to_expiry=self.time_to_expiry, tier=first.underlying.liquidity_tier,
            tick_size=first.instrument.tick_size, lot_size=first.instrument.lot_size)


def years_to_expiry(contract: OptionContract, now: datetime) -> float:
    return max((contract.expires_at - now).total_seconds(), 0.0) / SECONDS_PER_YEAR


def chain_valuation(*, contracts: list[OptionContract], now: datetime, greeks: bool = True,
                    spot: Decimal | None = None) -> ChainValuation:
    """Value contracts that share one underlying at its live mid (or ``spot``): Greeks too unless
    only prices are needed (quotes), which spares American contracts their Greek work."""
    underlying = contracts[0].underlying
    spot = reference_price(symbol=underlying.symbol) if spot is None else spot
    rate = surface.RATE_BY_CLASS[underlying.asset_class]
    shape = surface.surface_shape(underlying.asset_class)
    anchor = spec_by_symbol(underlying.symbol).annual_volatility
    years = np.array([years_to_expiry(contract, now) for contract in contracts])
    strikes = np.array([float(contract.strike) for contract in contracts])
    is_call = np.array([contract.option_type == "call" for contract in contracts])
    american = np.array([contract.style == ExerciseStyle.AMERICAN for contract in contracts])
    volatility = surface.implied_volatility_at(shape=shape, anchor=anchor, spot=float(spot), strike=strikes,
                                               time_to_expiry=years, rate=rate)
    forward = float(spot) * np.exp(rate * years)
    moneyness = np.log(strikes / forward) / (volatility * np.sqrt(np.maximum(years, 1e-6)))
    valuation = _valuation(is_call=is_call, american=american, spot=float(spot), strikes=strikes, years=years,
                           rate=rate, volatility=volatility, greeks=greeks)
    # Quotes are as wide as the European vega makes them, whether or not the Greeks were asked for
    # (the American vega is not computed for prices only): a contract has one quote at one spot and
    # moment, whether a chain, an order or the market stream made it. Close enough for a spread.
    spread_vega = pricing.european_valuation(option_type=is_call, spot=float(spot), strike=strikes,
                                             time_to_expiry=years, rate=rate, dividend_yield=0.0,
                                             volatility=volatility).vega
    return ChainValuation(contracts=contracts, spot=spot, rate=rate, dividend_yield=0.0, time_to_expiry=years,
                          volatility=volatility, moneyness=moneyness, valuation=valuation,
                          spread_vega=np.asarray(spread_vega, dtype=float))


def _valuation(*, is_call, american, spot, strikes, years, rate, volatility, greeks) -> pricing.OptionValuation:
    columns = {name: np.zeros(len(strikes)) for name in ("price", "delta", "gamma", "theta", "vega", "rho")}
    for style_mask, european_style in ((~american, True), (american, False)):
        if not style_mask.any():
            continue
        inputs = dict(option_type=is_call[style_mask], spot=spot, strike=strikes[style_mask],
                      time_to_expiry=years[style_mask], rate=rate, dividend_yield=0.0,
                      volatility=volatility[style_mask])
        if greeks:
            result = (pricing.european_valuation if european_style else pricing.american_valuation)(**inputs)
            for name in columns:
                columns[name][style_mask] = getattr(result, name)
        else:
            columns["price"][style_mask] = (pricing.european_price if european_style else pricing.american_price)(
                **inputs)
    return pricing.OptionValuation(**columns)


def decimal_of(value: float, places: int = GREEK_PLACES) -> Decimal:
    return from_float(float(value), places=places)


def option_quotes_publish(*, contracts: list[OptionContract], now: datetime,
                          valuation: ChainValuation | None = None) -> dict[str, dict]:
    """Make and publish the quote and five-level book of each contract (one underlying); returns
    the quotes by symbol. Contracts whose underlying has no price yet are skipped."""
    if not contracts:
        return {}
    quote_rows, book_rows = _market_rows(contracts=contracts, now=now, valuation=valuation)
    state.market_quotes_write(quotes=quote_rows, books=book_rows)
    return {quote["symbol"]: quote for quote in quote_rows}


def option_market_at(quote: dict, contracts: list[OptionContract]) -> tuple[list[dict], list[dict]]:
    """The quotes and five-level books of contracts on one underlying made from one feed ``quote``
    of it: at its mid (its last when a side is empty, as valuations read it) at the moment it was
    published, so each is the quote and book a chain built at that price and moment publishes.
    Contracts expired by then are left out. The market stream's pricing function for option
    contracts (haunt.market.stream.DerivedMarket): no database, no cache."""
    if quote["bid"] is not None and quote["ask"] is not None:
        spot = (Decimal(quote["bid"]) + Decimal(quote["ask"])) / 2
    elif quote["last"] is not None:
        spot = Decimal(quote["last"])
    else:
        return [], []
    now = datetime.fromisoformat(quote["timestamp"])
    live = [contract for contract in contracts if contract.expires_at > now]
    if not live:
        return [], []
    valuation = chain_valuation(contracts=live, now=now, greeks=False, spot=spot)
    return _market_rows(contracts=live, now=now, valuation=valuation)


def _market_rows(*, contracts: list[OptionContract], now: datetime,
                 valuation: ChainValuation | None) -> tuple[list[dict], list[dict]]:
    """The quote and the five-level book of each contract, as the market state holds them; open
    while its underlying's session is (stock and ETF options in NYSE hours, crypto around the clock)."""
    valuation = valuation or chain_valuation(contracts=contracts, now=now, greeks=False)
    session_open = {asset_class: calendar_for(asset_class).is_open(now)
                    for asset_class in {contract.underlying.asset_class for contract in contracts}}
    quotes = valuation.quotes()
    timestamp = now.isoformat().replace("+00:00", "Z")
    quote_rows, book_rows = [], []
    for row, contract in enumerate(contracts):
        instrument = contract.instrument
        bid, ask, tick, lot = quotes.bids[row], quotes.asks[row], instrument.tick_size, instrument.lot_size
        price_places, size_places = places_of(tick), places_of(lot)
        sizes = [format_decimal(Decimal(int(lots)) * lot, size_places) for lots in quotes.level_lots[row]]
        bids = [[format_decimal(bid - tick * level, price_places), size] for level, size in enumerate(sizes)
                if bid - tick * level >= tick]
        asks = [[format_decimal(ask + tick * level, price_places), size] for level, size in enumerate(sizes)]
        common = {"symbol": instrument.symbol, "timestamp": timestamp, "sources": ["options-model"],
                  "is_open": session_open[contract.underlying.asset_class]}
        quote_rows.append({**common, "bid": bids[0][0], "ask": asks[0][0],
                           "last": format_decimal((bid + ask) / 2, price_places + 1), "bid_size": bids[0][1],
                           "ask_size": asks[0][1]})
        book_rows.append({**common, "bids": bids, "asks": asks})
    return quote_rows, book_rows


def contract_values_at(*, contract: OptionContract, spots: np.ndarray, now: datetime) -> np.ndarray:
    """The model premium of one contract at each of ``spots`` (a payoff chart's later legs)."""
    underlying = contract.underlying
    rate = surface.RATE_BY_CLASS[underlying.asset_class]
    years = years_to_expiry(contract, now)
    volatility = surface.implied_volatility_at(
        shape=surface.surface_shape(underlying.asset_class), anchor=spec_by_symbol(underlying.symbol).annual_volatility,
        spot=spots, strike=float(contract.strike), time_to_expiry=years, rate=rate)
    function = pricing.american_price if contract.style == ExerciseStyle.AMERICAN else pricing.european_price
    return np.asarray(function(option_type=contract.option_type, spot=spots, strike=float(contract.strike),
                               time_to_expiry=years, rate=rate, dividend_yield=0.0, volatility=volatility), dtype=float)
