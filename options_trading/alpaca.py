"""Alpaca's options API as a chain source: contracts and snapshots parsed into our types.

Two endpoints make a chain (https://docs.alpaca.markets/reference):

- ``GET https://paper-api.alpaca.markets/v2/options/contracts?underlying_symbols=AAPL&...`` lists
  contracts: ``{"option_contracts": [{"symbol", "underlying_symbol", "type", "style",
  "strike_price", "multiplier", "size", "expiration_date", "status", "tradable", ...}],
  "next_page_token"}``. Numbers arrive as strings.
- ``GET https://data.alpaca.markets/v1beta1/options/snapshots/{underlying}`` (or
  ``/v1beta1/options/snapshots?symbols=...``) gives each contract's latest quote and trade, with
  Greeks and implied volatility when Alpaca can compute them: ``{"snapshots": {symbol:
  {"latestQuote": {"bp", "bs", "ap", "as", "t", ...}, "latestTrade": {"p", "s", "t", ...},
  "greeks": {"delta", ...}, "impliedVolatility"}}, "next_page_token"}``. Numbers arrive as JSON
  numbers, which are parsed through their text so a price such as 3.15 stays exactly 3.15.

``AlpacaOptionsClient`` pages through both with any ``fetch(url, params, headers) -> dict``
(the platform has no network access; production would pass an HTTP GET). Pure module: no Django.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from options_trading.contracts import ContractTerms, ExerciseStyle, OptionType

TRADING_URL = "https://paper-api.alpaca.markets"
_FRACTION = re.compile(r"^(?P<whole>[^.+]+?)(?:\.(?P<digits>\d+))?(?P<zone>[+-]\d\d:\d\d)$")
DATA_URL = "https://data.alpaca.markets"
PAGE_LIMIT = 1000


@dataclass(frozen=True)
class ChainContract:
    symbol: str
    underlying_symbol: str
    option_type: OptionType
    style: ExerciseStyle
    strike: Decimal
    expiry: date
    multiplier: Decimal
    tradable: bool
    open_interest: Decimal | None
    close_price: Decimal | None

    @property
    def terms(self) -> ContractTerms:
        """The contract as our listings name it (options_trading.contracts)."""
        return ContractTerms(root=self.underlying_symbol, expiry=self.expiry, option_type=self.option_type,
                             strike=self.strike)


@dataclass(frozen=True)
class ChainQuote:
    """A contract's latest market: quote, last trade, and Alpaca's Greeks (None when absent)."""

    symbol: str
    bid: Decimal | None
    ask: Decimal | None
    bid_size: Decimal | None
    ask_size: Decimal | None
    quoted_at: datetime | None
    last: Decimal | None
    last_size: Decimal | None
    traded_at: datetime | None
    implied_volatility: Decimal | None
    delta: Decimal | None
    gamma: Decimal | None
    theta: Decimal | None
    vega: Decimal | None
    rho: Decimal | None


def market_quote(quote: ChainQuote, *, symbol: str) -> dict:
    """A snapshot as the platform's market state holds a quote (haunt.market.state; decimals as
    strings), under our ``symbol`` for the contract (Alpaca drops the OCC padding)."""
    stamp = max((moment for moment in (quote.quoted_at, quote.traded_at) if moment is not None), default=None)
    return {
        "symbol": symbol,
        "bid": _text(quote.bid), "ask": _text(quote.ask), "last": _text(quote.last),
        "bid_size": _text(quote.bid_size if quote.bid is not None else None),
        "ask_size": _text(quote.ask_size if quote.ask is not None else None),
        "timestamp": None if stamp is None else stamp.isoformat().replace("+00:00", "Z"),
        "sources": ["alpaca"], "is_open": True,
    }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def parse_contracts(payload: dict) -> tuple[list[ChainContract], str | None]:
    """One page of ``/v2/options/contracts``: the contracts and the next page's token."""
    contracts = [
        ChainContract(
            symbol=row["symbol"],
            underlying_symbol=row["underlying_symbol"],
            option_type=OptionType(row["type"]),
            style=ExerciseStyle(row["style"]),
            strike=Decimal(row["strike_price"]),
            expiry=date.fromisoformat(row["expiration_date"]),
            multiplier=Decimal(row.get("multiplier") or row["size"]),
            tradable=bool(row["tradable"]) and row["status"] == "active",
            open_interest=_decimal(row.get("open_interest")),
            close_price=_decimal(row.get("close_price")),
        )
        for row in payload["option_contracts"]
    ]
    return contracts, payload.get("next_page_token")


def parse_snapshots(payload: dict) -> tuple[list[ChainQuote], str | None]:
    """One page of ``/v1beta1/options/snapshots``: a quote per contract, in symbol order."""
    quotes = []
    for symbol, snapshot in sorted(payload["snapshots"].items()):
        quote = snapshot.get("latestQuote") or {}
        trade = snapshot.get("latestTrade") or {}
        greeks = snapshot.get("greeks") or {}
        quotes.append(ChainQuote(
            symbol=symbol,
            # Alpaca sends 0 for a side with no quote.
            bid=_decimal(quote.get("bp")) or None,
            ask=_decimal(quote.get("ap")) or None,
            bid_size=_decimal(quote.get("bs")),
            ask_size=_decimal(quote.get("as")),
            quoted_at=_timestamp(quote.get("t")),
            last=_decimal(trade.get("p")),
            last_size=_decimal(trade.get("s")),
            traded_at=_timestamp(trade.get("t")),
            implied_volatility=_decimal(snapshot.get("impliedVolatility")),
            delta=_decimal(greeks.get("delta")),
            gamma=_decimal(greeks.get("gamma")),
            theta=_decimal(greeks.get("theta")),
            vega=_decimal(greeks.get("vega")),
            rho=_decimal(greeks.get("rho")),
        ))
    return quotes, payload.get("next_page_token")


def _decimal(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _timestamp(value: str | None) -> datetime | None:
    """RFC 3339 with up to nanoseconds (``2024-05-16T19:59:59.896469008Z``), kept to microseconds."""
    if value is None:
        return None
    match = _FRACTION.match(value.replace("Z", "+00:00"))
    return datetime.fromisoformat(f"{match['whole']}.{(match['digits'] or '')[:6].ljust(6, '0')}{match['zone']}")


Fetch = Callable[[str, dict, dict], dict]


class AlpacaOptionsClient:
    """Pages through Alpaca's contracts and snapshots endpoints with an injected ``fetch``."""

    def __init__(self, *, key_id: str, secret_key: str, fetch: Fetch, feed: str = "indicative"):
        self.headers = {"APCA-API-KEY-ID": key_id, "APCA-API-SECRET-KEY": secret_key}
        self.fetch = fetch
        self.feed = feed

    def contracts(self, *, underlying: str, expiration_date_lte: date | None = None) -> Iterator[ChainContract]:
        params = {"underlying_symbols": underlying, "status": "active", "limit": PAGE_LIMIT}
        if expiration_date_lte is not None:
            params["expiration_date_lte"] = expiration_date_lte.isoformat()
        yield from self._pages(f"{TRADING_URL}/v2/options/contracts", params, parse_contracts)

    def chain(self, *, underlying: str) -> Iterator[ChainQuote]:
        params = {"feed": self.feed, "limit": PAGE_LIMIT}
        yield from self._pages(f"{DATA_URL}/v1beta1/options/snapshots/{underlying}", params, parse_snapshots)

    def _pages(self, url: str, params: dict, parse) -> Iterator:
        token = None
        while True:
            items, token = parse(self.fetch(url, {**params, **({"page_token": token} if token else {})},
                                            self.headers))
            yield from items
            if not token:
                return
