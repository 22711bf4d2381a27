"""The seed instrument universe (spec §2 Asset Classes): what the offline market simulator quotes.

Pure data, no Django. Prices are late-2025 levels; tick and lot sizes follow the venues each class
trades on (Coinbase spot, Binance USDⓈ-M perpetuals, US equities in whole shares, forex in micro
lots). Volatilities are annualised over a calendar year (365.25 days) and are each instrument's total
volatility, jumps and overnight gaps included.

Co-movement is one factor per instrument: the crypto factor is Bitcoin itself (BTC has beta 1 and no
idiosyncratic part), the equity factor is SPY, and the dollar factor is the broad US dollar (a
DXY-like index) that ties the forex majors together. Instruments that are derived rather than
simulated on their own (perpetuals from their spot plus a basis; forex crosses from two majors) carry
the volatility, factor and beta that their legs imply, so the numbers here describe what the
simulator produces.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from haunt.market.terms import AssetClass


class Factor(str, Enum):
    CRYPTO = "crypto"
    EQUITY = "equity"
    DOLLAR = "dollar"


# Annualised volatility of each factor's log-return: BTC's for crypto, SPY's for equity, and the
# dollar index's (about 7%) for forex.
FACTOR_ANNUAL_VOLATILITY: dict[Factor, float] = {
    Factor.CRYPTO: 0.50,
    Factor.EQUITY: 0.15,
    Factor.DOLLAR: 0.07,
}


@dataclass(frozen=True, slots=True)
class CrossRate:
    """A forex cross as a product of majors: price = Π price(symbol) ** exponent.

    EUR-GBP is ((EUR-USD, 1), (GBP-USD, -1)); EUR-JPY is ((EUR-USD, 1), (USD-JPY, 1)). Deriving the
    cross from its legs keeps the three rates triangularly consistent at every instant.
    """

    legs: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class InstrumentSpec:
    symbol: str
    name: str
    asset_class: AssetClass
    base_currency: str
    quote_currency: str
    tick_size: Decimal
    lot_size: Decimal
    # The smallest order quantity when it is more than one lot (forex: one micro lot is both).
    min_quantity: Decimal | None = None
    contract_multiplier: Decimal = Decimal(1)
    # 1 is the deepest book, 3 the thinnest.
    liquidity_tier: int
    initial_price: Decimal
    annual_volatility: float
    factor: Factor | None
    beta: float
    # Perpetuals name the spot instrument they track.
    underlying: str | None = None
    derivation: CrossRate | None = None

    @property
    def minimum_quantity(self) -> Decimal:
        return self.lot_size if self.min_quantity is None else self.min_quantity


def _crypto(symbol: str, name: str, *, price: str, tick: str, lot: str, tier: int, volatility: float,
            beta: float) -> InstrumentSpec:
    base, quote = symbol.split("-")
    return InstrumentSpec(
        symbol=symbol, name=name, asset_class=AssetClass.CRYPTO_SPOT, base_currency=base,
        quote_currency=quote, tick_size=Decimal(tick), lot_size=Decimal(lot), liquidity_tier=tier,
        initial_price=Decimal(price), annual_volatility=volatility, factor=Factor.CRYPTO, beta=beta,
    )


def _equity(symbol: str, name: str, asset_class: AssetClass, *, price: str, tier: int, volatility: float,
            beta: float) -> InstrumentSpec:
    # Whole shares only: lot and minimum are one share.
    return InstrumentSpec(
        symbol=symbol, name=name, asset_class=asset_class, base_currency=symbol, quote_currency="USD",
        tick_size=Decimal("0.01"), lot_size=Decimal(1), min_quantity=Decimal(1), liquidity_tier=tier,
        initial_price=Decimal(price), annual_volatility=volatility, factor=Factor.EQUITY, beta=beta,
    )


def _perpetual(spot: InstrumentSpec, *, price: str, tick: str, lot: str, tier: int) -> InstrumentSpec:
    return InstrumentSpec(
        symbol=f"{spot.base_currency}-PERP", name=f"{spot.name} perpetual", asset_class=AssetClass.PERPETUAL,
        base_currency=spot.base_currency, quote_currency="USD", tick_size=Decimal(tick),
        lot_size=Decimal(lot), liquidity_tier=tier, initial_price=Decimal(price),
        annual_volatility=spot.annual_volatility, factor=spot.factor, beta=spot.beta, underlying=spot.symbol,
    )


def _forex(symbol: str, name: str, *, price: str, tier: int, volatility: float, beta: float,
           derivation: CrossRate | None = None) -> InstrumentSpec:
    base, quote = symbol.split("-")
    # Quotes to a tenth of a pip: 0.00001, or 0.001 against the yen. One micro lot is 1,000 base units.
    return InstrumentSpec(
        symbol=symbol, name=name, asset_class=AssetClass.FOREX, base_currency=base, quote_currency=quote,
        tick_size=Decimal("0.001") if quote == "JPY" else Decimal("0.00001"), lot_size=Decimal(1000),
        min_quantity=Decimal(1000), liquidity_tier=tier, initial_price=Decimal(price),
        annual_volatility=volatility, factor=Factor.DOLLAR, beta=beta, derivation=derivation,
    )


_BTC = _crypto("BTC-USD", "Bitcoin", price="91250.00", tick="0.01", lot="0.00001", tier=1, volatility=0.50, beta=1.0)
_ETH = _crypto("ETH-USD", "Ethereum", price="3085.40", tick="0.01", lot="0.0001", tier=1, volatility=0.65, beta=1.15)
_SOL = _crypto("SOL-USD", "Solana", price="138.25", tick="0.01", lot="0.01", tier=2, volatility=0.80, beta=1.3)
_XRP = _crypto("XRP-USD", "XRP", price="2.0850", tick="0.0001", lot="0.1", tier=2, volatility=0.85, beta=1.2)
_BNB = _crypto("BNB-USD", "BNB", price="885.60", tick="0.01", lot="0.001", tier=2, volatility=0.55, beta=0.8)
_DOGE = _crypto("DOGE-USD", "Dogecoin", price="0.14520", tick="0.00001", lot="1", tier=3, volatility=0.95, beta=1.4)

CRYPTO_SPOT: tuple[InstrumentSpec, ...] = (
    _BTC, _ETH, _SOL, _XRP, _BNB,
    _crypto("ADA-USD", "Cardano", price="0.4215", tick="0.0001", lot="0.1", tier=3, volatility=0.85, beta=1.3),
    _DOGE,
    _crypto("AVAX-USD", "Avalanche", price="13.62", tick="0.01", lot="0.01", tier=3, volatility=0.90, beta=1.4),
    _crypto("LINK-USD", "Chainlink", price="13.845", tick="0.001", lot="0.01", tier=3, volatility=0.85, beta=1.3),
    _crypto("DOT-USD", "Polkadot", price="2.143", tick="0.001", lot="0.01", tier=3, volatility=0.85, beta=1.3),
    _crypto("LTC-USD", "Litecoin", price="82.45", tick="0.01", lot="0.001", tier=3, volatility=0.75, beta=1.0),
)

STOCKS: tuple[InstrumentSpec, ...] = (
    _equity("AAPL", "Apple Inc.", AssetClass.STOCK, price="278.50", tier=1, volatility=0.25, beta=1.1),
    _equity("MSFT", "Microsoft Corporation", AssetClass.STOCK, price="483.20", tier=1, volatility=0.22, beta=1.0),
    _equity("NVDA", "NVIDIA Corporation", AssetClass.STOCK, price="181.40", tier=1, volatility=0.45, beta=1.7),
    _equity("AMZN", "Amazon.com, Inc.", AssetClass.STOCK, price="229.80", tier=1, volatility=0.32, beta=1.2),
    _equity("GOOGL", "Alphabet Inc. Class A", AssetClass.STOCK, price="316.90", tier=1, volatility=0.30, beta=1.1),
    _equity("META", "Meta Platforms, Inc.", AssetClass.STOCK, price="648.30", tier=1, volatility=0.38, beta=1.3),
    _equity("TSLA", "Tesla, Inc.", AssetClass.STOCK, price="438.70", tier=1, volatility=0.60, beta=2.0),
    _equity("JPM", "JPMorgan Chase & Co.", AssetClass.STOCK, price="311.60", tier=2, volatility=0.22, beta=1.0),
    _equity("V", "Visa Inc.", AssetClass.STOCK, price="334.20", tier=2, volatility=0.19, beta=0.9),
    _equity("XOM", "Exxon Mobil Corporation", AssetClass.STOCK, price="117.40", tier=2, volatility=0.24, beta=0.5),
    _equity("JNJ", "Johnson & Johnson", AssetClass.STOCK, price="206.10", tier=2, volatility=0.17, beta=0.4),
    _equity("WMT", "Walmart Inc.", AssetClass.STOCK, price="114.90", tier=2, volatility=0.20, beta=0.5),
)

ETFS: tuple[InstrumentSpec, ...] = (
    _equity("SPY", "SPDR S&P 500 ETF Trust", AssetClass.ETF, price="681.50", tier=1, volatility=0.15, beta=1.0),
    _equity("QQQ", "Invesco QQQ Trust", AssetClass.ETF, price="622.40", tier=1, volatility=0.18, beta=1.15),
    _equity("IWM", "iShares Russell 2000 ETF", AssetClass.ETF, price="249.30", tier=1, volatility=0.21, beta=1.2),
    _equity("DIA", "SPDR Dow Jones Industrial Average ETF", AssetClass.ETF, price="479.80", tier=2, volatility=0.14,
            beta=0.9),
    _equity("GLD", "SPDR Gold Shares", AssetClass.ETF, price="386.20", tier=2, volatility=0.16, beta=0.1),
    _equity("TLT", "iShares 20+ Year Treasury Bond ETF", AssetClass.ETF, price="88.35", tier=2, volatility=0.14,
            beta=-0.2),
    _equity("EEM", "iShares MSCI Emerging Markets ETF", AssetClass.ETF, price="54.12", tier=2, volatility=0.17,
            beta=0.8),
)

PERPETUALS: tuple[InstrumentSpec, ...] = (
    _perpetual(_BTC, price="91270.0", tick="0.1", lot="0.001", tier=1),
    _perpetual(_ETH, price="3086.10", tick="0.01", lot="0.001", tier=1),
    _perpetual(_SOL, price="138.28", tick="0.01", lot="0.01", tier=2),
    _perpetual(_XRP, price="2.0853", tick="0.0001", lot="0.1", tier=2),
    _perpetual(_BNB, price="885.75", tick="0.01", lot="0.01", tier=2),
    _perpetual(_DOGE, price="0.14522", tick="0.00001", lot="1", tier=2),
)

# Dollar-factor betas are for the pair as quoted: EUR-USD falls when the dollar rises (negative beta),
# USD-JPY rises. The crosses' volatilities and betas are the ones their legs imply: EUR-GBP, for
# example, has beta -0.95 - (-0.8) = -0.15 and variance σ_EUR² + σ_GBP² - 2·0.95·0.8·σ_dollar².
FOREX: tuple[InstrumentSpec, ...] = (
    _forex("EUR-USD", "Euro / US Dollar", price="1.16480", tier=1, volatility=0.07, beta=-0.95),
    _forex("GBP-USD", "British Pound / US Dollar", price="1.33210", tier=1, volatility=0.08, beta=-0.8),
    _forex("USD-JPY", "US Dollar / Japanese Yen", price="155.420", tier=1, volatility=0.09, beta=0.7),
    _forex("USD-CHF", "US Dollar / Swiss Franc", price="0.80460", tier=2, volatility=0.075, beta=0.9),
    _forex("AUD-USD", "Australian Dollar / US Dollar", price="0.66150", tier=2, volatility=0.10, beta=-0.7),
    _forex("USD-CAD", "US Dollar / Canadian Dollar", price="1.38420", tier=2, volatility=0.06, beta=0.5),
    _forex("NZD-USD", "New Zealand Dollar / US Dollar", price="0.57830", tier=2, volatility=0.10, beta=-0.7),
    _forex("EUR-GBP", "Euro / British Pound", price="0.87441", tier=3, volatility=0.062, beta=-0.15,
           derivation=CrossRate(legs=(("EUR-USD", 1), ("GBP-USD", -1)))),
    _forex("EUR-JPY", "Euro / Japanese Yen", price="181.033", tier=3, volatility=0.0805, beta=-0.25,
           derivation=CrossRate(legs=(("EUR-USD", 1), ("USD-JPY", 1)))),
    _forex("GBP-JPY", "British Pound / Japanese Yen", price="207.035", tier=3, volatility=0.0949, beta=-0.1,
           derivation=CrossRate(legs=(("GBP-USD", 1), ("USD-JPY", 1)))),
)

UNIVERSE: tuple[InstrumentSpec, ...] = CRYPTO_SPOT + STOCKS + ETFS + PERPETUALS + FOREX

_BY_SYMBOL: dict[str, InstrumentSpec] = {spec.symbol: spec for spec in UNIVERSE}


def spec_by_symbol(symbol: str) -> InstrumentSpec:
    """The universe's spec for `symbol`; KeyError for a symbol outside the universe."""
    return _BY_SYMBOL[symbol]
