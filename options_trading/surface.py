"""The simulated implied-volatility surface and the quotes made around model prices (spec §7).

Volatility surface. Each underlying's surface is anchored on the total volatility the simulator
gives it (haunt.market.universe), so option prices agree with how the underlying actually moves:

- Term structure: the at-the-money volatility starts at ``short_ratio`` × the anchor for the
  shortest expiries and converges to the anchor with a three-month time constant. Equity markets
  are usually in contango (short-dated below long-dated), crypto slightly inverted.
- Skew and smile, in standardised moneyness x = ln(K/F) / (σ_atm·√T), so a strike as many
  standard deviations away has the same premium over the at-the-money volatility at every expiry:
  σ = σ_atm · (1 + skew·x + smile·x²), kept between 0.5 and 3 times σ_atm. Equity skew is negative
  (puts dearer, the crash premium); crypto smiles on both wings with a slight call skew.

Quotes. The half-spread is a volatility spread turned into price through vega, widened for strikes
far from the money and for long tenors and thinner names, with at least one tick: an option at a
fixed volatility spread costs more to make the further away or longer it is, as market makers
quote. Books show five levels a side, one tick apart, whose sizes fall with moneyness and tenor.
Deterministic: the same inputs always give the same quote.

Pure module (numpy in, numpy or Decimal out); no Django.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import numpy as np

BOOK_LEVELS = 5


@dataclass(frozen=True)
class SurfaceShape:
    short_ratio: float
    skew: float
    smile: float


EQUITY_SURFACE = SurfaceShape(short_ratio=0.85, skew=-0.10, smile=0.02)
CRYPTO_SURFACE = SurfaceShape(short_ratio=1.05, skew=0.02, smile=0.05)
TERM_TIME_CONSTANT_YEARS = 0.25
MIN_SMILE_RATIO, MAX_SMILE_RATIO = 0.5, 3.0

# Risk-free rate by underlying class: US T-bills for dollar equity options; crypto options are
# priced off the spot with no carry, as Deribit's forward curve sits close to it on average.
RATE_BY_CLASS = {"stock": 0.04, "etf": 0.04, "crypto_spot": 0.0}


def surface_shape(asset_class: str) -> SurfaceShape:
    return CRYPTO_SURFACE if asset_class == "crypto_spot" else EQUITY_SURFACE


def implied_volatility_at(*, shape: SurfaceShape, anchor: float, spot, strike, time_to_expiry, rate,
                          dividend_yield=0.0) -> np.ndarray:
    """The surface's volatility for each (spot, strike, time to expiry); arrays broadcast."""
    strike, years = np.asarray(strike, dtype=float), np.maximum(np.asarray(time_to_expiry, dtype=float), 1e-6)
    atm = anchor * (1.0 + (shape.short_ratio - 1.0) * np.exp(-years / TERM_TIME_CONSTANT_YEARS))
    forward = np.asarray(spot, dtype=float) * np.exp((rate - dividend_yield) * years)
    x = np.log(strike / forward) / (atm * np.sqrt(years))
    ratio = np.clip(1.0 + shape.skew * x + shape.smile * x * x, MIN_SMILE_RATIO, MAX_SMILE_RATIO)
    return atm * ratio


@dataclass(frozen=True)
class QuoteModel:
    """How wide and deep option markets are on an underlying of a liquidity tier (1 deepest)."""

    volatility_spread: float  # full bid-ask width in volatility points (0.01 = 1 point) at the money
    top_size: float  # contracts at the best bid and ask at the money, near-dated


QUOTE_MODEL_BY_TIER = {
    1: QuoteModel(volatility_spread=0.006, top_size=150.0),
    2: QuoteModel(volatility_spread=0.012, top_size=60.0),
    3: QuoteModel(volatility_spread=0.025, top_size=20.0),
}


@dataclass(frozen=True)
class OptionQuotes:
    """Best bid and ask per contract (Decimal, on the tick grid) and the book sizes at each level."""

    bids: list[Decimal]
    asks: list[Decimal]
    level_lots: np.ndarray  # (contracts, BOOK_LEVELS): the size at each level as a whole number of lots


def option_quotes(*, price, vega, moneyness, time_to_expiry, tier: int, tick_size: Decimal,
                  lot_size: Decimal) -> OptionQuotes:
    """Bid and ask around each model ``price`` (per unit), from its ``vega`` per volatility point
    and its standardised ``moneyness`` (ln(K/F)/(σ√T)).

    half-spread = max(tick, ½ · spread points · vega · (1 + ½|x|) · (1 + T)); the bid is rounded
    down and the ask up to the tick, and neither goes below one tick, so the market never quotes a
    contract for nothing.
    """
    model = QUOTE_MODEL_BY_TIER[tier]
    price, vega = np.asarray(price, dtype=float), np.asarray(vega, dtype=float)
    moneyness = np.abs(np.asarray(moneyness, dtype=float))
    years = np.asarray(time_to_expiry, dtype=float)
    widening = (1.0 + 0.5 * moneyness) * (1.0 + years)
    half = np.maximum(0.5 * model.volatility_spread * 100.0 * vega * widening, float(tick_size))
    price, half = np.broadcast_arrays(price, half)
    bids, asks = [], []
    for value, width in zip(price.ravel(), half.ravel()):
        bid = _to_tick(Decimal(float(value - width)), tick_size, ROUND_FLOOR)
        ask = _to_tick(Decimal(float(value + width)), tick_size, ROUND_CEILING)
        bid = max(bid, tick_size)
        bids.append(bid)
        asks.append(max(ask, bid + tick_size))
    top = model.top_size * np.exp(-0.35 * moneyness) / (1.0 + years)
    depth = top.reshape(-1, 1) * (1.0 + 0.5 * np.arange(BOOK_LEVELS))
    lots = np.maximum(np.floor(depth / float(lot_size)), 1.0).astype(np.int64)
    return OptionQuotes(bids=bids, asks=asks, level_lots=lots)


def _to_tick(value: Decimal, tick: Decimal, rounding: str) -> Decimal:
    return (value / tick).to_integral_value(rounding=rounding) * tick
