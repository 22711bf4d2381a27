"""Offline market simulator: prices, spreads and L2 books for the whole universe, deterministic per seed.

Implements the offline feed that stands in for the exchanges (spec preamble, "an offline market
simulator as the default feed"; §5 Execution Simulation: the spreads and books fills run against) and
the history backfill behind the candles.

Price model (same for live steps and history):

- Log-returns with one factor per instrument: r_i = β_i·F + ε_i, scaled so each instrument's total
  variance is its spec's ``annual_volatility``² per calendar year (365.25 days). The crypto factor is
  Bitcoin and carries Merton jumps (Poisson arrivals, normal sizes); crypto spot also has
  idiosyncratic jumps. Jump variance is part of the annual volatility, not added on top.
- Sessions. An instrument whose session is closed shows a frozen price while its fair value keeps
  drifting at ``closed_variance_ratio`` (0.3) of the calendar-average variance rate; at the re-open
  the accumulated drift appears as one gap. The open hours carry the rest of the year's variance, so
  a stock open 32.5 hours a week moves about twice as fast per open hour as per calendar hour, as real
  stocks do, and realises its annual volatility over a year of sessions with ~24% of it overnight.
- Perpetuals are their spot × exp(basis), the basis an Ornstein-Uhlenbeck process of a few bps.
  Forex crosses are products of two majors, so triangles hold exactly before rounding.
- Spreads are a base width by class and liquidity tier (at least one tick) times a mean-reverting
  random factor, widened by recent realised volatility (an EWMA of squared standardised moves).
  Books have ``book_depth`` levels a side spaced by whole ticks that grow with depth, with lognormal
  sizes whose total notional follows the tier; every level is redrawn each step.

Every step draws the same count of random numbers whatever the session mask, so a path depends only
on the seed and the sequence of timestamps. Floats inside; outputs are tick and lot counts (int64) that
convert exactly to Decimal as ``ticks * tick_size``. No Django, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import ClassVar, NamedTuple

import numpy as np
from scipy.signal import lfilter

from haunt.market.terms import AssetClass
from haunt.market.universe import FACTOR_ANNUAL_VOLATILITY, Factor, InstrumentSpec

SECONDS_PER_YEAR = 365.25 * 86_400


@dataclass(frozen=True, slots=True)
class _SessionModel:
    # Share of calendar time the session is open (no holidays: they are a few % and move nothing here).
    open_fraction: float
    # Variance rate while closed, relative to the calendar-average rate: the damping of overnight gaps.
    closed_variance_ratio: float
    # Seconds of trading in one session day, over which a day's volume is spread.
    session_seconds_per_day: float

    @property
    def open_variance_ratio(self) -> float:
        """Variance rate while open such that a calendar year carries exactly the annual variance."""
        return (1.0 - self.closed_variance_ratio * (1.0 - self.open_fraction)) / self.open_fraction


_ALWAYS_OPEN = _SessionModel(open_fraction=1.0, closed_variance_ratio=1.0, session_seconds_per_day=86_400)
_NYSE = _SessionModel(open_fraction=32.5 / 168, closed_variance_ratio=0.3, session_seconds_per_day=6.5 * 3600)
_FOREX = _SessionModel(open_fraction=120 / 168, closed_variance_ratio=0.3, session_seconds_per_day=86_400)

_SESSION_BY_CLASS: dict[AssetClass, _SessionModel] = {
    AssetClass.CRYPTO_SPOT: _ALWAYS_OPEN,
    AssetClass.PERPETUAL: _ALWAYS_OPEN,
    AssetClass.STOCK: _NYSE,
    AssetClass.ETF: _NYSE,
    AssetClass.FOREX: _FOREX,
}


@dataclass(frozen=True, slots=True)
class _Liquidity:
    spread_bps: float
    level_spacing_bps: float
    # Notional on one side of the whole book, in USD; for forex in base-currency units (every base here
    # is worth between $0.5 and $1.4, and FX depth is quoted in units).
    depth_per_side: float
    # Traded notional per session day on this venue, in the same unit as depth.
    daily_volume: float


# By class and liquidity tier: spread bps, level spacing bps, depth per side, daily volume.
_LIQUIDITY: dict[tuple[AssetClass, int], _Liquidity] = {
    (AssetClass.CRYPTO_SPOT, 1): _Liquidity(0.4, 0.3, 10e6, 1.2e9),
    (AssetClass.CRYPTO_SPOT, 2): _Liquidity(2.0, 1.5, 1.7e6, 2e8),
    (AssetClass.CRYPTO_SPOT, 3): _Liquidity(5.0, 3.0, 2.5e5, 4e7),
    (AssetClass.PERPETUAL, 1): _Liquidity(0.02, 0.1, 12e6, 1e10),
    (AssetClass.PERPETUAL, 2): _Liquidity(0.8, 0.8, 1.7e6, 1e9),
    (AssetClass.PERPETUAL, 3): _Liquidity(3.0, 2.0, 2.5e5, 1.5e8),
    (AssetClass.STOCK, 1): _Liquidity(0.2, 0.2, 8e6, 1e10),
    (AssetClass.STOCK, 2): _Liquidity(0.8, 0.5, 1.7e6, 2e9),
    (AssetClass.STOCK, 3): _Liquidity(3.0, 2.0, 2.5e5, 2e8),
    (AssetClass.ETF, 1): _Liquidity(0.15, 0.1, 12e6, 2e10),
    (AssetClass.ETF, 2): _Liquidity(1.0, 0.6, 1.7e6, 1.5e9),
    (AssetClass.ETF, 3): _Liquidity(3.0, 2.0, 2.5e5, 2e8),
    (AssetClass.FOREX, 1): _Liquidity(0.6, 0.3, 60e6, 2e10),
    (AssetClass.FOREX, 2): _Liquidity(1.5, 0.5, 25e6, 5e9),
    (AssetClass.FOREX, 3): _Liquidity(1.6, 0.8, 10e6, 1.5e9),
}

# Merton jumps: (arrivals per year, standard deviation of the log jump size).
_FACTOR_JUMPS: dict[Factor, tuple[float, float]] = {Factor.CRYPTO: (24.0, 0.03)}
_IDIOSYNCRATIC_JUMPS: dict[AssetClass, tuple[float, float]] = {AssetClass.CRYPTO_SPOT: (12.0, 0.04)}

# Perpetual basis, log(perp / spot): mean, stationary standard deviation, mean-reversion time.
_BASIS_MEAN = 0.5e-4
_BASIS_SD = 3e-4
_BASIS_REVERSION_SECONDS = 600.0

# Spread and depth states: log-factors reverting to zero.
_SPREAD_STATE_SD, _SPREAD_REVERSION_SECONDS = 0.3, 30.0
_DEPTH_STATE_SD, _DEPTH_REVERSION_SECONDS = 0.25, 120.0
# Recent-volatility memory, and how far it may narrow (quiet) or widen (after a jump or gap) the spread.
_ACTIVITY_MEMORY_SECONDS = 60.0
_ACTIVITY_FLOOR, _ACTIVITY_CAP = 0.5, 5.0

# Book shape: level gaps grow linearly with depth; level sizes grow too (thin top, thicker behind).
_GAP_GROWTH_PER_LEVEL = 0.12
_GAP_NOISE_SD = 0.4
_SIZE_GROWTH_PER_LEVEL = 0.1
_SIZE_NOISE_SD = 0.5
_VOLUME_NOISE_SD = 0.6
# A floor on the quoted price in ticks, far below any price here, so a book's deepest bid stays positive.
_MINIMUM_PRICE_TICKS = 1_000.0


def _lognormal(sd: float, normals: np.ndarray) -> np.ndarray:
    """exp(sd·z) scaled to mean one."""
    return np.exp(sd * normals - 0.5 * sd * sd)


def _reversion(value: np.ndarray, *, dt: float, reversion_seconds: float, sd: float,
               normals: np.ndarray) -> np.ndarray:
    """Exact Ornstein-Uhlenbeck step towards zero over dt seconds."""
    decay = math.exp(-dt / reversion_seconds)
    return value * decay + sd * math.sqrt(1.0 - decay * decay) * normals


class _PriceModel:
    """Per-instrument parameters of the price process, shared by live steps and history."""

    def __init__(self, specs: Sequence[InstrumentSpec]) -> None:
        if not specs:
            raise ValueError("The simulator needs at least one instrument.")
        row_of = {spec.symbol: row for row, spec in enumerate(specs)}
        if len(row_of) != len(specs):
            raise ValueError("Symbols must be unique.")
        for spec in specs:
            if spec.asset_class not in _SESSION_BY_CLASS:
                raise ValueError(f"{spec.symbol}: {spec.asset_class.value} instruments are not simulated.")
        self.n = len(specs)
        per_second = 1.0 / SECONDS_PER_YEAR

        factors = list(Factor)
        factor_volatility = np.array([FACTOR_ANNUAL_VOLATILITY[factor] for factor in factors])
        factor_jump_intensity = np.array([_FACTOR_JUMPS.get(factor, (0.0, 0.0))[0] for factor in factors])
        factor_jump_sd = np.array([_FACTOR_JUMPS.get(factor, (0.0, 0.0))[1] for factor in factors])
        self.factor_diffusion_sd = np.sqrt((factor_volatility**2 - factor_jump_intensity * factor_jump_sd**2)
                                           * per_second)
        self.jumping_factors = np.flatnonzero(factor_jump_intensity)
        self.factor_jump_intensity = factor_jump_intensity[self.jumping_factors] * per_second
        self.factor_jump_sd = factor_jump_sd[self.jumping_factors]

        self.annual_volatility = np.array([spec.annual_volatility for spec in specs])
        self.factor_index = np.array([factors.index(spec.factor) if spec.factor else 0 for spec in specs])
        self.beta = np.array([spec.beta if spec.factor else 0.0 for spec in specs])
        idiosyncratic_variance = self.annual_volatility**2 - (self.beta * factor_volatility[self.factor_index]) ** 2
        if np.any(idiosyncratic_variance < -1e-12):
            bad = [spec.symbol for spec, room in zip(specs, idiosyncratic_variance, strict=True) if room < -1e-12]
            raise ValueError(f"Factor loading exceeds total volatility for {bad}.")
        idiosyncratic_variance = np.maximum(idiosyncratic_variance, 0.0)
        jump_intensity = np.array([_IDIOSYNCRATIC_JUMPS.get(spec.asset_class, (0.0, 0.0))[0] for spec in specs])
        jump_sd = np.array([_IDIOSYNCRATIC_JUMPS.get(spec.asset_class, (0.0, 1.0))[1] for spec in specs])
        # Jumps take at most half of the idiosyncratic variance; an instrument that is all factor (BTC) has none.
        jump_intensity = np.minimum(jump_intensity, idiosyncratic_variance / (2.0 * jump_sd**2))
        self.idiosyncratic_sd = np.sqrt((idiosyncratic_variance - jump_intensity * jump_sd**2) * per_second)
        self.jumping_rows = np.flatnonzero(jump_intensity)
        self.jump_intensity = jump_intensity[self.jumping_rows] * per_second
        self.jump_sd = jump_sd[self.jumping_rows]

        sessions = [_SESSION_BY_CLASS[spec.asset_class] for spec in specs]
        self.open_variance_ratio = np.array([session.open_variance_ratio for session in sessions])
        self.closed_variance_ratio = np.array([session.closed_variance_ratio for session in sessions])

        self.perp_rows = np.array([row for row, spec in enumerate(specs) if spec.underlying], dtype=np.intp)
        self.underlying_rows = np.array(
            [self._leg_row(row_of, spec, spec.underlying) for spec in specs if spec.underlying], dtype=np.intp
        )
        self.cross_rows = np.array([row for row, spec in enumerate(specs) if spec.derivation], dtype=np.intp)
        self.cross_exponents = np.zeros((len(self.cross_rows), self.n))
        for cross, row in enumerate(self.cross_rows):
            for symbol, exponent in specs[row].derivation.legs:
                self.cross_exponents[cross, self._leg_row(row_of, specs[row], symbol)] = exponent

    @staticmethod
    def _leg_row(row_of: Mapping[str, int], spec: InstrumentSpec, symbol: str) -> int:
        if symbol not in row_of or symbol == spec.symbol:
            raise ValueError(f"{spec.symbol} is derived from {symbol}, which is not among the instruments.")
        return row_of[symbol]

    def variance_ratio(self, is_open: np.ndarray) -> np.ndarray:
        """Variance rate relative to the calendar average, per instrument, for a session mask (..., n)."""
        return np.where(is_open, self.open_variance_ratio, self.closed_variance_ratio)

    def log_returns(self, rng: np.random.Generator, *, dt: float, steps: int) -> np.ndarray:
        """Fair-value log-returns (steps, n) over `dt` seconds each, at the calendar-average variance rate.

        Callers scale rows by √variance_ratio for the session state. The count of numbers drawn depends
        only on `steps` and the instruments. Columns of derived instruments are drawn too and later
        overwritten by `derive`.
        """
        root_dt = math.sqrt(dt)
        factor_returns = rng.standard_normal((steps, len(self.factor_diffusion_sd)))
        factor_returns *= self.factor_diffusion_sd * root_dt
        # k normal jumps in one step sum to one normal with √k times the size.
        jump_counts = rng.poisson(self.factor_jump_intensity * dt, (steps, len(self.jumping_factors)))
        factor_returns[:, self.jumping_factors] += (
            self.factor_jump_sd * np.sqrt(jump_counts) * rng.standard_normal(jump_counts.shape))

        returns = rng.standard_normal((steps, self.n))
        returns *= self.idiosyncratic_sd * root_dt
        jump_counts = rng.poisson(self.jump_intensity * dt, (steps, len(self.jumping_rows)))
        returns[:, self.jumping_rows] += self.jump_sd * np.sqrt(jump_counts) * rng.standard_normal(jump_counts.shape)
        returns += self.beta * factor_returns[:, self.factor_index]
        return returns

    def basis_path(self, basis: np.ndarray, *, dt: float, normals: np.ndarray) -> np.ndarray:
        """Perpetual log-basis after each of the steps in `normals` (steps, n_perps), starting from `basis`."""
        decay = math.exp(-dt / _BASIS_REVERSION_SECONDS)
        shocks = _BASIS_SD * math.sqrt(1.0 - decay * decay) * normals
        deviation, _ = lfilter([1.0], [1.0, -decay], shocks, axis=0, zi=(decay * (basis - _BASIS_MEAN))[None, :])
        return _BASIS_MEAN + deviation

    def derive(self, log_prices: np.ndarray, basis: np.ndarray) -> None:
        """Overwrite the perpetual and cross columns of `log_prices` (…, n) from their legs, in place."""
        if len(self.perp_rows):
            log_prices[..., self.perp_rows] = log_prices[..., self.underlying_rows] + basis
        if len(self.cross_rows):
            log_prices[..., self.cross_rows] = log_prices @ self.cross_exponents.T


def _start_log_prices(model: _PriceModel, specs: Sequence[InstrumentSpec],
                      start_prices: Mapping[str, Decimal] | None) -> tuple[np.ndarray, np.ndarray]:
    """Log prices (derived columns filled in) and perpetual log-basis implied by the start prices."""
    given = start_prices or {}
    prices = np.array([float(given.get(spec.symbol, spec.initial_price)) for spec in specs])
    if np.any(prices <= 0):
        raise ValueError("Start prices must be positive.")
    log_prices = np.log(prices)
    basis = np.full(len(model.perp_rows), _BASIS_MEAN)
    for perp, (row, underlying) in enumerate(zip(model.perp_rows, model.underlying_rows, strict=True)):
        if specs[row].symbol in given and specs[underlying].symbol in given:
            basis[perp] = np.clip(log_prices[row] - log_prices[underlying], -50e-4, 50e-4)
    model.derive(log_prices, basis)
    return log_prices, basis


class Quote(NamedTuple):
    """Top of book as Decimals; bid and ask are None while the session is closed."""

    bid: Decimal | None
    ask: Decimal | None
    last: Decimal
    bid_quantity: Decimal | None
    ask_quantity: Decimal | None
    traded_quantity: Decimal


class Book(NamedTuple):
    """(price, quantity) levels as Decimals, best first; both sides empty while the session is closed."""

    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]


@dataclass(frozen=True, slots=True)
class MarketFrame:
    """The whole universe at one instant: one row per instrument, in the simulator's order.

    Prices are int64 counts of the row's tick size, quantities int64 counts of its lot size. Book
    arrays are (n, depth), best level first: bids strictly descending, asks strictly ascending, best
    bid below best ask, every size at least one lot. Closed rows have zero bid/ask and all-zero books.
    """

    _ARRAYS: ClassVar[tuple[str, ...]] = (
        "is_open", "bid_ticks", "ask_ticks", "last_ticks", "bid_lots", "ask_lots", "book_bid_ticks",
        "book_bid_lots", "book_ask_ticks", "book_ask_lots", "traded_lots",
    )

    timestamp: datetime
    symbols: tuple[str, ...]
    tick_sizes: tuple[Decimal, ...]
    lot_sizes: tuple[Decimal, ...]
    is_open: np.ndarray
    bid_ticks: np.ndarray
    ask_ticks: np.ndarray
    last_ticks: np.ndarray
    bid_lots: np.ndarray
    ask_lots: np.ndarray
    book_bid_ticks: np.ndarray
    book_bid_lots: np.ndarray
    book_ask_ticks: np.ndarray
    book_ask_lots: np.ndarray
    traded_lots: np.ndarray

    def __post_init__(self) -> None:
        for name in self._ARRAYS:
            getattr(self, name).flags.writeable = False

    def quote_for(self, row: int) -> Quote:
        tick, lot = self.tick_sizes[row], self.lot_sizes[row]
        last = Decimal(int(self.last_ticks[row])) * tick
        traded = Decimal(int(self.traded_lots[row])) * lot
        if not self.is_open[row]:
            return Quote(None, None, last, None, None, traded)
        return Quote(
            Decimal(int(self.bid_ticks[row])) * tick, Decimal(int(self.ask_ticks[row])) * tick, last,
            Decimal(int(self.bid_lots[row])) * lot, Decimal(int(self.ask_lots[row])) * lot, traded,
        )

    def book_for(self, row: int, depth: int | None = None) -> Book:
        if not self.is_open[row]:
            return Book((), ())
        tick, lot = self.tick_sizes[row], self.lot_sizes[row]
        levels = slice(0, depth)
        return Book(
            tuple((Decimal(price) * tick, Decimal(size) * lot) for price, size in zip(
                self.book_bid_ticks[row, levels].tolist(), self.book_bid_lots[row, levels].tolist(), strict=True)),
            tuple((Decimal(price) * tick, Decimal(size) * lot) for price, size in zip(
                self.book_ask_ticks[row, levels].tolist(), self.book_ask_lots[row, levels].tolist(), strict=True)),
        )


class _Microstructure:
    """Per-instrument constants for spreads, books and volume."""

    def __init__(self, specs: Sequence[InstrumentSpec]) -> None:
        liquidity = [_LIQUIDITY[spec.asset_class, spec.liquidity_tier] for spec in specs]
        self.tick = np.array([float(spec.tick_size) for spec in specs])
        self.lot = np.array([float(spec.lot_size) for spec in specs])
        self.spread_fraction = np.array([level.spread_bps for level in liquidity]) * 1e-4
        self.spacing_fraction = np.array([level.level_spacing_bps for level in liquidity]) * 1e-4
        self.depth_per_side = np.array([level.depth_per_side for level in liquidity])
        session_seconds = np.array([_SESSION_BY_CLASS[spec.asset_class].session_seconds_per_day for spec in specs])
        self.volume_per_second = np.array([level.daily_volume for level in liquidity]) / session_seconds
        self.quantity_in_base_units = np.array([spec.asset_class is AssetClass.FOREX for spec in specs])

    def lot_value(self, price: np.ndarray) -> np.ndarray:
        """Value of one lot in the depth/volume unit: USD, or base units for forex."""
        return np.where(self.quantity_in_base_units, 1.0, price) * self.lot


class MarketSimulator:
    """Live quotes, trades and books for a set of instruments, advanced by `step`.

    The path depends only on `seed`, `start`, the start prices and the sequence of `now`s passed to
    `step`; the session masks decide what is shown, never what is drawn.
    """

    def __init__(self, specs: Sequence[InstrumentSpec], *, seed: int, start: datetime,
                 start_prices: Mapping[str, Decimal] | None = None, book_depth: int = 25) -> None:
        if book_depth < 1:
            raise ValueError("book_depth must be at least 1.")
        self.specs = tuple(specs)
        self.symbols = tuple(spec.symbol for spec in self.specs)
        self.book_depth = book_depth
        self._model = _PriceModel(self.specs)
        self._micro = _Microstructure(self.specs)
        self._tick_sizes = tuple(spec.tick_size for spec in self.specs)
        self._lot_sizes = tuple(spec.lot_size for spec in self.specs)
        self._rng = np.random.Generator(np.random.PCG64(seed))
        self._time = start
        n = len(self.specs)
        self._fair_log_price, self._basis = _start_log_prices(self._model, self.specs, start_prices)
        self._shown_log_price = self._fair_log_price.copy()
        self._spread_state = np.zeros(n)
        self._depth_state = np.zeros(n)
        self._activity = np.ones(n)
        self._was_open: np.ndarray | None = None
        self._last_ticks = np.rint(np.exp(self._fair_log_price) / self._micro.tick).astype(np.int64)
        level = np.arange(book_depth)
        self._size_weights = (1.0 + _SIZE_GROWTH_PER_LEVEL * level) / np.sum(1.0 + _SIZE_GROWTH_PER_LEVEL * level)
        self._gap_growth = 1.0 + _GAP_GROWTH_PER_LEVEL * np.arange(1, book_depth)

    @property
    def time(self) -> datetime:
        return self._time

    def step(self, *, now: datetime, is_open: np.ndarray) -> MarketFrame:
        """Advance to `now` and return the frame there. `is_open[i]`: instrument i's session is open at `now`."""
        dt = (now - self._time).total_seconds()
        if dt < 0:
            raise ValueError(f"Time went backwards: {now} is before {self._time}.")
        n, depth = len(self.specs), self.book_depth
        is_open = np.array(is_open, dtype=bool)
        if is_open.shape != (n,):
            raise ValueError(f"is_open must have shape ({n},), not {is_open.shape}.")
        is_open.flags.writeable = False

        # Fixed-size draws, whatever the mask: prices first, then everything the book needs.
        n_perps = len(self._model.perp_rows)
        normals = self._rng.standard_normal(n_perps + 3 * n)
        book_normals = self._rng.standard_normal((n, 2, 2 * depth - 1))
        uniforms = self._rng.random((2, n))
        activity = self._advance_prices(dt=dt, is_open=is_open, basis_normals=normals[:n_perps])
        self._spread_state = _reversion(self._spread_state, dt=dt, reversion_seconds=_SPREAD_REVERSION_SECONDS,
                                        sd=_SPREAD_STATE_SD, normals=normals[n_perps: n_perps + n])
        self._depth_state = _reversion(self._depth_state, dt=dt, reversion_seconds=_DEPTH_REVERSION_SECONDS,
                                       sd=_DEPTH_STATE_SD, normals=normals[n_perps + n: n_perps + 2 * n])
        micro = self._micro
        price_ticks = np.maximum(np.exp(self._shown_log_price) / micro.tick, _MINIMUM_PRICE_TICKS)
        lot_value = micro.lot_value(price_ticks * micro.tick)

        spread_ticks = np.maximum(1, np.rint(
            price_ticks * micro.spread_fraction * np.exp(self._spread_state) * activity)).astype(np.int64)
        best_bid = np.rint(price_ticks - spread_ticks / 2).astype(np.int64)
        best_ask = best_bid + spread_ticks
        # Level gaps: whole ticks, at least one, widening with depth and redrawn every step.
        level_spacing = (price_ticks * micro.spacing_fraction)[:, None, None] * self._gap_growth
        gaps = np.maximum(1, np.rint(level_spacing * _lognormal(_GAP_NOISE_SD, book_normals[:, :, : depth - 1])))
        offsets = np.zeros((n, 2, depth), dtype=np.int64)
        np.cumsum(gaps.astype(np.int64), axis=2, out=offsets[:, :, 1:])
        # Books thin out when the market is moving fast.
        side_lots = micro.depth_per_side * np.exp(self._depth_state) / np.sqrt(activity) / lot_value
        lots = np.maximum(1, np.rint(side_lots[:, None, None] * self._size_weights * _lognormal(
            _SIZE_NOISE_SD, book_normals[:, :, depth - 1:]))).astype(np.int64)

        expected_lots = micro.volume_per_second * dt * activity / lot_value
        traded = np.floor(expected_lots * _lognormal(_VOLUME_NOISE_SD, normals[n_perps + 2 * n:]) + uniforms[0])
        traded = np.where(is_open, traded, 0).astype(np.int64)
        self._last_ticks = np.where(traded > 0, np.where(uniforms[1] < 0.5, best_bid, best_ask), self._last_ticks)
        self._time = now
        self._was_open = is_open

        book_bid_ticks = np.where(is_open[:, None], best_bid[:, None] - offsets[:, 0], 0)
        book_ask_ticks = np.where(is_open[:, None], best_ask[:, None] + offsets[:, 1], 0)
        lots = np.where(is_open[:, None, None], lots, 0)
        return MarketFrame(
            timestamp=now, symbols=self.symbols, tick_sizes=self._tick_sizes, lot_sizes=self._lot_sizes,
            is_open=is_open, bid_ticks=book_bid_ticks[:, 0], ask_ticks=book_ask_ticks[:, 0],
            last_ticks=self._last_ticks, bid_lots=lots[:, 0, 0], ask_lots=lots[:, 1, 0],
            book_bid_ticks=book_bid_ticks, book_bid_lots=lots[:, 0], book_ask_ticks=book_ask_ticks,
            book_ask_lots=lots[:, 1], traded_lots=traded,
        )

    def _advance_prices(self, *, dt: float, is_open: np.ndarray, basis_normals: np.ndarray) -> np.ndarray:
        """Move fair values over dt, show them where open; return the volatility factor for spreads and books."""
        model = self._model
        # The interval (previous step, now] is mostly in the session state of the previous step; with
        # fine steps the difference vanishes, with coarse ones it keeps a whole night at the closed rate.
        was_open = is_open if self._was_open is None else self._was_open
        variance_ratio = model.variance_ratio(was_open)
        self._fair_log_price += np.sqrt(variance_ratio) * model.log_returns(self._rng, dt=dt, steps=1)[0]
        self._basis = _BASIS_MEAN + _reversion(self._basis - _BASIS_MEAN, dt=dt,
                                               reversion_seconds=_BASIS_REVERSION_SECONDS, sd=_BASIS_SD,
                                               normals=basis_normals)
        model.derive(self._fair_log_price, self._basis)
        if dt > 0:
            # Recent volatility: squared move of the shown price in units of its expected size over dt,
            # so a jump or an opening gap widens the spread for about a minute.
            expected_variance = model.annual_volatility**2 * variance_ratio * dt / SECONDS_PER_YEAR
            standardised = (self._fair_log_price - self._shown_log_price) ** 2 / expected_variance
            memory = math.exp(-dt / _ACTIVITY_MEMORY_SECONDS)
            self._activity = np.where(is_open, memory * self._activity + (1 - memory) * standardised, self._activity)
        self._shown_log_price = np.where(is_open, self._fair_log_price, self._shown_log_price)
        return np.clip(np.sqrt(self._activity), _ACTIVITY_FLOOR, _ACTIVITY_CAP)


class Candle(NamedTuple):
    start: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


@dataclass(frozen=True, slots=True)
class HistoryBars:
    """OHLCV bars for every instrument: arrays (n, n_bars), prices in ticks, volume in lots.

    Bars outside the session are absent: `is_present` False and all values zero. `final_prices` are
    the last closes (the start price where no bar is present), to start the next segment or the live
    simulator from.
    """

    symbols: tuple[str, ...]
    tick_sizes: tuple[Decimal, ...]
    lot_sizes: tuple[Decimal, ...]
    bar_seconds: int
    bar_starts: np.ndarray  # int64 epoch seconds (UTC), shape (n_bars,)
    is_present: np.ndarray
    open_ticks: np.ndarray
    high_ticks: np.ndarray
    low_ticks: np.ndarray
    close_ticks: np.ndarray
    volume_lots: np.ndarray
    final_prices: dict[str, Decimal]

    def candles_for(self, row: int) -> list[Candle]:
        """The present bars of instrument `row` as Decimals, oldest first."""
        tick, lot = self.tick_sizes[row], self.lot_sizes[row]
        present = self.is_present[row]
        columns = (self.bar_starts[present], self.open_ticks[row, present], self.high_ticks[row, present],
                   self.low_ticks[row, present], self.close_ticks[row, present], self.volume_lots[row, present])
        return [
            Candle(datetime.fromtimestamp(start, UTC), Decimal(open_) * tick, Decimal(high) * tick,
                   Decimal(low) * tick, Decimal(close) * tick, Decimal(volume) * lot)
            for start, open_, high, low, close, volume in zip(*(column.tolist() for column in columns), strict=True)
        ]


def generate_history(specs: Sequence[InstrumentSpec], *, seed: int, start: datetime, end: datetime,
                     bar_seconds: int, session_mask: np.ndarray,
                     start_prices: Mapping[str, Decimal] | None = None,
                     substeps_per_bar: int = 12) -> HistoryBars:
    """Simulate bars of `bar_seconds` from `start` to `end` with the live price model, vectorised.

    `session_mask[i, b]` says whether instrument i trades in bar b; (end - start) must be a whole
    number of bars. Each bar is `substeps_per_bar` steps of the price model, so highs and lows come
    from the path inside the bar. Fair value keeps drifting through closed bars, so the first bar of a
    session opens with the overnight gap.
    """
    specs = tuple(specs)
    total_seconds = (end - start).total_seconds()
    if bar_seconds <= 0 or total_seconds <= 0 or total_seconds % bar_seconds:
        raise ValueError("end - start must be a positive whole number of bars.")
    n, n_bars = len(specs), int(total_seconds // bar_seconds)
    session_mask = np.asarray(session_mask, dtype=bool)
    if session_mask.shape != (n, n_bars):
        raise ValueError(f"session_mask must have shape ({n}, {n_bars}), not {session_mask.shape}.")

    model, micro = _PriceModel(specs), _Microstructure(specs)
    rng = np.random.Generator(np.random.PCG64(seed))
    dt = bar_seconds / substeps_per_bar
    start_log_prices, start_basis = _start_log_prices(model, specs, start_prices)

    open_bars = session_mask.T  # (n_bars, n): time runs down the rows from here on
    returns = model.log_returns(rng, dt=dt, steps=n_bars * substeps_per_bar)
    returns_by_bar = returns.reshape(n_bars, substeps_per_bar, n)  # a view: scaling it scales `returns`
    returns_by_bar *= np.sqrt(model.variance_ratio(open_bars))[:, None, :]
    path = np.empty((n_bars * substeps_per_bar + 1, n))
    path[0] = start_log_prices
    np.cumsum(returns, axis=0, out=path[1:])
    path[1:] += start_log_prices
    basis = model.basis_path(start_basis, dt=dt, normals=rng.standard_normal((len(path) - 1, len(model.perp_rows))))
    model.derive(path[1:], basis)

    inside = path[1:].reshape(n_bars, substeps_per_bar, n)
    open_log, close_log = path[:-1:substeps_per_bar], inside[:, -1]
    high_log = np.maximum(open_log, inside.max(axis=1))
    low_log = np.minimum(open_log, inside.min(axis=1))

    def to_ticks(log_prices: np.ndarray) -> np.ndarray:
        ticks = np.maximum(np.rint(np.exp(log_prices) / micro.tick), 1).astype(np.int64)
        return np.where(open_bars, ticks, 0).T

    # Volume follows the bar's activity: its move in units of the expected move, as in live steps.
    expected_sd = model.annual_volatility * np.sqrt(model.variance_ratio(open_bars) * bar_seconds / SECONDS_PER_YEAR)
    activity = np.clip(np.abs(close_log - open_log) / expected_sd, _ACTIVITY_FLOOR, _ACTIVITY_CAP)
    expected_lots = micro.volume_per_second * bar_seconds * activity / micro.lot_value(np.exp(close_log))
    noise = _lognormal(_VOLUME_NOISE_SD, rng.standard_normal((n_bars, n)))
    volume = np.where(open_bars, np.floor(expected_lots * noise + rng.random((n_bars, n))), 0).astype(np.int64).T

    close_ticks = to_ticks(close_log)
    has_bars = session_mask.any(axis=1)
    last_present = n_bars - 1 - np.argmax(session_mask[:, ::-1], axis=1)
    start_ticks = np.rint(np.exp(start_log_prices) / micro.tick).astype(np.int64)
    final_ticks = np.where(has_bars, close_ticks[np.arange(n), last_present], start_ticks)
    first_bar = int(start.timestamp())
    return HistoryBars(
        symbols=tuple(spec.symbol for spec in specs), tick_sizes=tuple(spec.tick_size for spec in specs),
        lot_sizes=tuple(spec.lot_size for spec in specs), bar_seconds=bar_seconds,
        bar_starts=first_bar + bar_seconds * np.arange(n_bars, dtype=np.int64), is_present=session_mask.copy(),
        open_ticks=to_ticks(open_log), high_ticks=to_ticks(high_log), low_ticks=to_ticks(low_log),
        close_ticks=close_ticks, volume_lots=volume,
        final_prices={spec.symbol: Decimal(int(ticks)) * spec.tick_size
                      for spec, ticks in zip(specs, final_ticks.tolist(), strict=True)},
    )
