"""Execution simulation against a live L2 book (spec §5 "Execution Simulation", appendix A).

Plain Decimal functions and frozen dataclasses: no Django, no clock, no settings. The order
service loads the book, the instrument and the portfolio's realism profile, calls these
functions and records what they return.

What each piece implements:

- ``simulate_execution``: the immediate (taker) part of a market or limit order. Market orders
  walk the book level by level (buys take asks, sells hit bids), one slice per level at its own
  price. The spec's slippage formula is applied on top of the walk, once per order, as a price
  adjustment on every slice. A limit order takes only the slices whose adjusted price is within
  its limit; a non-marketable limit order takes nothing here and rests. What the book cannot fill
  follows the time in force (``RemainderAction``).
- ``simulate_resting_limit_update``: one market update for a resting limit order: fills when the
  opposite side reaches its price, or when it sits at the touch and traded volume has consumed
  the size queued ahead of it.
- ``profile_book``: the book a realism profile trades against (shallower, wider).
- ``fee_for`` / ``round_fee_up``: maker/taker fee schedules per asset class.
- ``sample_latency_ms``: deterministic acceptance-to-execution delay.

Slippage (spec §5)::

    slippage = base_slippage + (order_size / available_liquidity) * impact_factor

- base_slippage by liquidity tier: tier 1 (liquid) 0.01%, tier 3 (illiquid) 0.05% as the spec
  says; tier 2 is our choice, the midpoint 0.03%.
- impact_factor by asset class: crypto spot and perpetuals 0.1, stocks and ETFs 0.05 as the spec
  says; forex 0.02 (our choice: the deepest market, majors trade at fractions of a pip) and
  options 0.1 (our choice: option books are thin and wide, closer to crypto than to the
  underlying stock).
- available_liquidity is the total visible quantity on the side being taken, in the profiled
  book. order_size is the order quantity capped at that liquidity: the part the book cannot fill
  does not trade now, so it moves no price now, and the impact term never exceeds impact_factor.
- A buy pays ``level_price × (1 + s)``, a sell receives ``level_price × (1 − s)``.

Realism profiles (``PROFILES``, all version 1; the multipliers are our choices):

- ``frictionless``: the whole quantity at the touch, no slippage, no latency, first in queue.
- ``realistic`` (default): the raw book, depth walking, the slippage formula, 50–200 ms
  latency (spec §5's default), resting limits wait for the size queued ahead of them.
- ``thin_book``: a quarter of the depth, twice the spread, 100–400 ms.
- ``stress``: a tenth of the depth, four times the spread, 250–1500 ms.

Rounding policy (everything else is exact, unrounded Decimal):

- Fill prices are snapped to the instrument's tick AGAINST the taker: buys round up, sells round
  down. A fill is therefore never better than its book level, and a sale whose price would
  round to zero or below is not taken.
- Fees are rounded UP to the money quantum (8 places) by ``round_fee_up``; every fee this module
  returns in a fill has been through it exactly once.
- Book quantities reshaped by a profile are rounded DOWN to the lot grid (a profile never
  invents liquidity), and so is every resting fill.

Decimal contexts are left at Python's default (28 significant digits).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import IntEnum, StrEnum
from functools import lru_cache
from types import MappingProxyType

from haunt.market.terms import AssetClass, Side

ZERO = Decimal(0)
ONE = Decimal(1)
BASIS_POINTS_PER_UNIT = Decimal(10_000)
# The money quantum of haunt.money (MONEY_PLACES = 8): fees are ledger amounts.
FEE_QUANTUM = Decimal("1e-8")

PriceLevel = tuple[Decimal, Decimal]


class LiquidityTier(IntEnum):
    LIQUID = 1
    MODERATE = 2
    ILLIQUID = 3


class Liquidity(StrEnum):
    MAKER = "maker"
    TAKER = "taker"


class TimeInForce(StrEnum):
    GTC = "gtc"
    GTD = "gtd"
    IOC = "ioc"
    FOK = "fok"


class RemainderAction(StrEnum):
    """What happens to the quantity the immediate execution did not fill.

    NONE: nothing remains. REST: the order stays working (a limit order rests at its price; a
    market order walks the next books until filled, cancelled or expired). CANCEL: the remainder
    is cancelled, fills stand (IOC). KILL: the whole order is cancelled with no fills (FOK).
    """

    NONE = "none"
    REST = "rest"
    CANCEL = "cancel"
    KILL = "kill"


# ---------------------------------------------------------------------------------------------
# Book and instrument


@dataclass(frozen=True, slots=True, init=False)
class OrderBook:
    """An L2 book: (price, quantity) Decimal pairs, best first on each side.

    Preconditions, checked: prices and quantities positive, bids strictly descending, asks
    strictly ascending, and the book not crossed (best bid < best ask). Either side may be empty.
    """

    bids: tuple[PriceLevel, ...]
    asks: tuple[PriceLevel, ...]

    def __init__(self, *, bids: Sequence[PriceLevel], asks: Sequence[PriceLevel]) -> None:
        bid_levels = tuple((price, quantity) for price, quantity in bids)
        ask_levels = tuple((price, quantity) for price, quantity in asks)
        _check_book_side(bid_levels, name="bids", descending=True)
        _check_book_side(ask_levels, name="asks", descending=False)
        if bid_levels and ask_levels and bid_levels[0][0] >= ask_levels[0][0]:
            raise ValueError(f"crossed book: best bid {bid_levels[0][0]} >= best ask {ask_levels[0][0]}")
        object.__setattr__(self, "bids", bid_levels)
        object.__setattr__(self, "asks", ask_levels)

    @property
    def best_bid(self) -> Decimal | None:
        return self.bids[0][0] if self.bids else None

    @property
    def best_ask(self) -> Decimal | None:
        return self.asks[0][0] if self.asks else None

    @property
    def mid(self) -> Decimal | None:
        if not self.bids or not self.asks:
            return None
        return (self.bids[0][0] + self.asks[0][0]) / 2

    def side_levels(self, side: Side) -> tuple[PriceLevel, ...]:
        """The levels an order on ``side`` rests on (bids for a buy)."""
        return self.bids if side == Side.BUY else self.asks

    def opposite_levels(self, side: Side) -> tuple[PriceLevel, ...]:
        """The levels an order on ``side`` trades against (asks for a buy)."""
        return self.asks if side == Side.BUY else self.bids


def _check_book_side(levels: tuple[PriceLevel, ...], *, name: str, descending: bool) -> None:
    previous: Decimal | None = None
    for price, quantity in levels:
        if price <= 0 or quantity <= 0:
            raise ValueError(f"{name}: price and quantity must be positive, got ({price}, {quantity})")
        if previous is not None and (price >= previous if descending else price <= previous):
            order = "descending" if descending else "ascending"
            raise ValueError(f"{name} must be strictly {order}: {price} after {previous}")
        previous = price


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """What the simulation needs to know about an instrument.

    ``contract_multiplier`` turns quantity × price into notional (100 for US equity options, 1
    elsewhere).
    """

    asset_class: AssetClass
    liquidity_tier: LiquidityTier
    tick_size: Decimal
    lot_size: Decimal
    contract_multiplier: Decimal = ONE

    def __post_init__(self) -> None:
        object.__setattr__(self, "asset_class", AssetClass(self.asset_class))
        object.__setattr__(self, "liquidity_tier", LiquidityTier(self.liquidity_tier))
        if self.tick_size <= 0 or self.lot_size <= 0 or self.contract_multiplier <= 0:
            raise ValueError("tick_size, lot_size and contract_multiplier must be positive")


# ---------------------------------------------------------------------------------------------
# Realism profiles

BASE_SLIPPAGE_BY_TIER: Mapping[LiquidityTier, Decimal] = MappingProxyType(
    {
        LiquidityTier.LIQUID: Decimal("0.0001"),
        LiquidityTier.MODERATE: Decimal("0.0003"),
        LiquidityTier.ILLIQUID: Decimal("0.0005"),
    }
)

IMPACT_FACTOR_BY_CLASS: Mapping[AssetClass, Decimal] = MappingProxyType(
    {
        AssetClass.CRYPTO_SPOT: Decimal("0.1"),
        AssetClass.PERPETUAL: Decimal("0.1"),
        AssetClass.STOCK: Decimal("0.05"),
        AssetClass.ETF: Decimal("0.05"),
        AssetClass.FOREX: Decimal("0.02"),
        AssetClass.OPTION: Decimal("0.1"),
    }
)


@dataclass(frozen=True, slots=True)
class RealismProfile:
    """A named, versioned execution parameter set (spec §5). Same profile + seed + orders + market
    gives the same fills.

    - ``walks_book``: walk the book level by level; when False the whole quantity fills at the
      touch price, however deep the book.
    - ``slippage_enabled``: apply the spec §5 formula on top of the book prices.
    - ``depth_multiplier`` (0, 1]: every level's size is scaled by it (rounded down to the lot).
    - ``spread_multiplier`` ≥ 1: the spread is widened around the mid by this factor; each side
      moves out as a block, so the shape of the book behind the touch is kept.
    - ``latency_ms_range``: inclusive (low, high) for a uniform draw; None means no latency.
    - ``queue_position``: a resting limit waits for the size queued ahead of it at its price; when
      False it is first in the queue.
    """

    name: str
    version: int
    seed: int
    walks_book: bool
    slippage_enabled: bool
    depth_multiplier: Decimal
    spread_multiplier: Decimal
    latency_ms_range: tuple[int, int] | None
    queue_position: bool
    base_slippage_by_tier: Mapping[LiquidityTier, Decimal] = field(
        default_factory=lambda: BASE_SLIPPAGE_BY_TIER, hash=False
    )
    impact_factor_by_class: Mapping[AssetClass, Decimal] = field(
        default_factory=lambda: IMPACT_FACTOR_BY_CLASS, hash=False
    )

    def __post_init__(self) -> None:
        base = MappingProxyType({LiquidityTier(tier): rate for tier, rate in self.base_slippage_by_tier.items()})
        impact = MappingProxyType({AssetClass(cls): rate for cls, rate in self.impact_factor_by_class.items()})
        object.__setattr__(self, "base_slippage_by_tier", base)
        object.__setattr__(self, "impact_factor_by_class", impact)
        if self.version < 1:
            raise ValueError("version starts at 1")
        if not ZERO < self.depth_multiplier <= ONE:
            raise ValueError("depth_multiplier must be in (0, 1]")
        if self.spread_multiplier < ONE:
            raise ValueError("spread_multiplier must be at least 1")
        if self.latency_ms_range is not None:
            low, high = self.latency_ms_range
            if not 0 <= low <= high:
                raise ValueError("latency_ms_range must satisfy 0 <= low <= high")
        if set(base) != set(LiquidityTier) or any(not ZERO <= rate < ONE for rate in base.values()):
            raise ValueError("base_slippage_by_tier needs every tier, each rate in [0, 1)")
        if set(impact) != set(AssetClass) or any(rate < 0 for rate in impact.values()):
            raise ValueError("impact_factor_by_class needs every asset class, each factor >= 0")


FRICTIONLESS = RealismProfile(
    name="frictionless",
    version=1,
    seed=0,
    walks_book=False,
    slippage_enabled=False,
    depth_multiplier=ONE,
    spread_multiplier=ONE,
    latency_ms_range=None,
    queue_position=False,
)
REALISTIC = RealismProfile(
    name="realistic",
    version=1,
    seed=1,
    walks_book=True,
    slippage_enabled=True,
    depth_multiplier=ONE,
    spread_multiplier=ONE,
    latency_ms_range=(50, 200),
    queue_position=True,
)
THIN_BOOK = RealismProfile(
    name="thin_book",
    version=1,
    seed=2,
    walks_book=True,
    slippage_enabled=True,
    depth_multiplier=Decimal("0.25"),
    spread_multiplier=Decimal(2),
    latency_ms_range=(100, 400),
    queue_position=True,
)
STRESS = RealismProfile(
    name="stress",
    version=1,
    seed=3,
    walks_book=True,
    slippage_enabled=True,
    depth_multiplier=Decimal("0.1"),
    spread_multiplier=Decimal(4),
    latency_ms_range=(250, 1500),
    queue_position=True,
)

PROFILES: Mapping[str, RealismProfile] = MappingProxyType(
    {profile.name: profile for profile in (FRICTIONLESS, REALISTIC, THIN_BOOK, STRESS)}
)
DEFAULT_PROFILE_NAME = REALISTIC.name


def profile_book(book: OrderBook, *, profile: RealismProfile, tick_size: Decimal, lot_size: Decimal) -> OrderBook:
    """The book ``profile`` trades against.

    Each side moves away from the mid by ``(spread / 2) × (spread_multiplier − 1)``; prices snap to
    the tick outwards (bids down, asks up), levels landing on the same tick merge, and bids that
    would reach zero are dropped. Sizes are scaled by ``depth_multiplier`` and rounded down to the
    lot; levels left empty are dropped. With one side empty there is no spread to widen. The
    result is on both grids, strictly ordered, no deeper than ``book``, and its spread is at least
    ``spread_multiplier`` times the original.
    """
    return OrderBook(
        bids=_profiled_side(book, is_bid_side=True, profile=profile, tick_size=tick_size, lot_size=lot_size),
        asks=_profiled_side(book, is_bid_side=False, profile=profile, tick_size=tick_size, lot_size=lot_size),
    )


def _profiled_side(
    book: OrderBook, *, is_bid_side: bool, profile: RealismProfile, tick_size: Decimal, lot_size: Decimal
) -> tuple[PriceLevel, ...]:
    """One side of ``profile_book``: a taker needs only the side it trades against."""
    half_spread_shift = ZERO
    if profile.spread_multiplier != ONE and book.bids and book.asks:
        half_spread_shift = (book.asks[0][0] - book.bids[0][0]) / 2 * (profile.spread_multiplier - ONE)
    snap_price = _step_snapper(tick_size, ROUND_FLOOR if is_bid_side else ROUND_CEILING)
    snap_quantity = _step_snapper(lot_size, ROUND_FLOOR)
    price_shift = -half_spread_shift if is_bid_side else half_spread_shift
    merged: list[list[Decimal]] = []
    for price, quantity in book.bids if is_bid_side else book.asks:
        shaped_price = snap_price(price + price_shift)
        if shaped_price <= 0:
            break  # only bids reach here, and every later bid is lower still
        if merged and merged[-1][0] == shaped_price:
            merged[-1][1] += quantity
        else:
            merged.append([shaped_price, quantity])
    shaped: list[PriceLevel] = []
    for price, quantity in merged:
        shaped_quantity = snap_quantity(quantity * profile.depth_multiplier)
        if shaped_quantity > 0:
            shaped.append((price, shaped_quantity))
    return tuple(shaped)


def _to_step(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    return _step_snapper(step, rounding)(value)


@lru_cache(maxsize=256)
def _step_snapper(step: Decimal, rounding: str) -> Callable[[Decimal], Decimal]:
    """Round to a multiple of ``step``. Ticks and lots are nearly always powers of ten (0.01,
    1e-8), and for those one ``quantize`` does the job at a fraction of divide-round-multiply."""
    _, digits, exponent = step.normalize().as_tuple()
    if digits == (1,):
        quantum = Decimal((0, (1,), exponent))
        return lambda value: value.quantize(quantum, rounding=rounding)
    return lambda value: (value / step).to_integral_value(rounding=rounding) * step


# ---------------------------------------------------------------------------------------------
# Fees


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """fee = notional × (maker_rate or taker_rate) + quantity × per_unit_fee, at least minimum_fee.

    Rates are fractions (0.001 = 0.10%). ``per_unit_fee`` is charged per unit of quantity (per
    contract for options). ``minimum_fee`` applies to each fill, since each fill is recorded as
    its own trade with its own fee.
    """

    maker_rate: Decimal
    taker_rate: Decimal
    per_unit_fee: Decimal = ZERO
    minimum_fee: Decimal = ZERO

    def __post_init__(self) -> None:
        if min(self.maker_rate, self.taker_rate, self.per_unit_fee, self.minimum_fee) < 0:
            raise ValueError("fee rates and amounts must not be negative")


DEFAULT_FEE_SCHEDULES: Mapping[AssetClass, FeeSchedule] = MappingProxyType(
    {
        AssetClass.CRYPTO_SPOT: FeeSchedule(maker_rate=Decimal("0.0008"), taker_rate=Decimal("0.0010")),
        # Binance USDⓈ-M futures, regular (VIP 0) tier.
        AssetClass.PERPETUAL: FeeSchedule(maker_rate=Decimal("0.0002"), taker_rate=Decimal("0.0005")),
        AssetClass.STOCK: FeeSchedule(maker_rate=ZERO, taker_rate=ZERO),
        AssetClass.ETF: FeeSchedule(maker_rate=ZERO, taker_rate=ZERO),
        # Forex is priced through the spread, with no commission.
        AssetClass.FOREX: FeeSchedule(maker_rate=ZERO, taker_rate=ZERO),
        AssetClass.OPTION: FeeSchedule(maker_rate=ZERO, taker_rate=ZERO, per_unit_fee=Decimal("0.65")),
    }
)


def fee_for(*, schedule: FeeSchedule, liquidity: Liquidity, quantity: Decimal, notional: Decimal) -> Decimal:
    """The exact (unrounded) fee for one fill; ``notional`` = quantity × price × contract multiplier.

    No fill, no fee: a zero quantity costs nothing, not the minimum. Pass the result through
    ``round_fee_up`` before recording it.
    """
    if quantity == 0:
        return ZERO
    rate = schedule.maker_rate if liquidity == Liquidity.MAKER else schedule.taker_rate
    return max(notional * rate + quantity * schedule.per_unit_fee, schedule.minimum_fee)


def round_fee_up(fee: Decimal) -> Decimal:
    """Fees are rounded UP to the 8-place money quantum: the venue never undercharges."""
    return fee.quantize(FEE_QUANTUM, rounding=ROUND_CEILING)


# ---------------------------------------------------------------------------------------------
# Latency


def sample_latency_ms(*, profile: RealismProfile, order_key: str) -> int:
    """Simulated delay between acceptance and execution, uniform over the profile's inclusive range.

    Deterministic: SHA-256 of the profile name, version and seed with ``order_key`` (the order's
    id), so a replay gives the same delay on any machine and Python version. 0 when the profile
    has no latency.
    """
    if profile.latency_ms_range is None:
        return 0
    low, high = profile.latency_ms_range
    digest = hashlib.sha256(f"{profile.name}|{profile.version}|{profile.seed}|{order_key}".encode()).digest()
    # 64 bits against a range of a few thousand: the modulo bias is below 1e-15.
    return low + int.from_bytes(digest[:8], "big") % (high - low + 1)


# ---------------------------------------------------------------------------------------------
# Immediate (taker) execution


def slippage_fraction(
    *, order_quantity: Decimal, available_liquidity: Decimal, base_slippage: Decimal, impact_factor: Decimal
) -> Decimal:
    """spec §5: base_slippage + (order_size / available_liquidity) × impact_factor.

    order_size is capped at available_liquidity (the unfillable part trades later, if ever). With
    no liquidity nothing fills, and the base slippage is returned.
    """
    if available_liquidity <= 0:
        return base_slippage
    return base_slippage + min(order_quantity, available_liquidity) / available_liquidity * impact_factor


@dataclass(frozen=True, slots=True)
class FillSlice:
    """One fill: one book level, or the touch for a profile that does not walk.

    ``book_price`` is the level's price in the profiled book (the raw one for ``realistic``).
    ``slippage_cost`` is the money paid against the book level, |fill − book| × quantity ×
    contract multiplier, exact. ``fee`` has been rounded up by ``round_fee_up``.
    """

    level_index: int
    book_price: Decimal
    fill_price: Decimal
    quantity: Decimal
    fee: Decimal
    slippage_cost: Decimal
    liquidity: Liquidity

    def explain(self) -> dict[str, object]:
        return {
            "level_index": self.level_index,
            "book_price": _text(self.book_price),
            "fill_price": _text(self.fill_price),
            "quantity": _text(self.quantity),
            "fee": _text(self.fee),
            "slippage_cost": _text(self.slippage_cost),
            "liquidity": self.liquidity.value,
        }


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    """Everything one immediate execution did, and why.

    Slippage in basis points is signed so that positive is a cost to the taker: for a buy
    (vwap − reference) / reference × 10 000, for a sell (reference − vwap) / reference × 10 000.
    The mid is the unprofiled book's; the arrival price is the one the caller gave (the mid when
    the order was accepted), else that mid. ``queue_ahead`` is set only for a limit order whose
    remainder rests: the size ahead of it at its price, for ``simulate_resting_limit_update``.
    """

    side: Side
    quantity: Decimal
    limit_price: Decimal | None
    time_in_force: TimeInForce
    instrument: InstrumentSpec
    profile_name: str
    profile_version: int
    seed: int
    latency_ms: int
    mid_price: Decimal | None
    arrival_price: Decimal | None
    available_liquidity: Decimal
    slippage_fraction_applied: Decimal
    slices: tuple[FillSlice, ...]
    filled_quantity: Decimal
    remaining_quantity: Decimal
    remainder: RemainderAction
    queue_ahead: Decimal | None
    vwap: Decimal | None
    slippage_bps_vs_mid: Decimal | None
    slippage_bps_vs_arrival: Decimal | None
    liquidity: Liquidity = Liquidity.TAKER

    @property
    def total_fee(self) -> Decimal:
        return sum((piece.fee for piece in self.slices), ZERO)

    @property
    def total_slippage_cost(self) -> Decimal:
        return sum((piece.slippage_cost for piece in self.slices), ZERO)

    def explain(self) -> dict[str, object]:
        """A JSON-ready account of the execution; Decimals are strings."""
        return {
            "profile": {"name": self.profile_name, "version": self.profile_version, "seed": self.seed},
            "side": self.side.value,
            "quantity": _text(self.quantity),
            "limit_price": _text(self.limit_price),
            "time_in_force": self.time_in_force.value,
            "asset_class": self.instrument.asset_class.value,
            "liquidity_tier": int(self.instrument.liquidity_tier),
            "tick_size": _text(self.instrument.tick_size),
            "lot_size": _text(self.instrument.lot_size),
            "latency_ms": self.latency_ms,
            "mid_price": _text(self.mid_price),
            "arrival_price": _text(self.arrival_price),
            "available_liquidity": _text(self.available_liquidity),
            "slippage_fraction_applied": _text(self.slippage_fraction_applied),
            "levels": [piece.explain() for piece in self.slices],
            "filled_quantity": _text(self.filled_quantity),
            "remaining_quantity": _text(self.remaining_quantity),
            "remainder": self.remainder.value,
            "queue_ahead": _text(self.queue_ahead),
            "vwap": _text(self.vwap),
            "slippage_bps_vs_mid": _text(self.slippage_bps_vs_mid),
            "slippage_bps_vs_arrival": _text(self.slippage_bps_vs_arrival),
            "liquidity": self.liquidity.value,
            "total_fee": _text(self.total_fee),
            "total_slippage_cost": _text(self.total_slippage_cost),
        }


def _text(value: Decimal | None) -> str | None:
    """Fixed-point text, so a zero fee reads "0.00000000", not "0E-8"."""
    return None if value is None else format(value, "f")


def simulate_execution(
    *,
    side: Side,
    quantity: Decimal,
    book: OrderBook,
    profile: RealismProfile,
    instrument: InstrumentSpec,
    order_key: str,
    time_in_force: TimeInForce = TimeInForce.GTC,
    limit_price: Decimal | None = None,
    arrival_price: Decimal | None = None,
    fee_schedule: FeeSchedule | None = None,
) -> ExecutionResult:
    """Execute the immediate part of a market order (``limit_price`` None) or a limit order.

    ``book`` is the live book at execution time, i.e. after the latency the profile samples for
    ``order_key``; the result records that latency. The book is first reshaped by
    ``profile_book``. A walking profile takes levels best first, each a separate slice at the
    slippage-adjusted, tick-rounded price; a limit order stops at the first level whose adjusted
    price is beyond its limit, so a marketable limit fills like a market order capped at its
    price and a non-marketable one fills nothing here. A non-walking profile fills the whole
    quantity at the touch.

    The unfilled remainder follows ``time_in_force``: GTC/GTD rest, IOC cancels, and FOK, unless
    the book fills everything, kills the order with no slices at all.

    Requires ``quantity`` > 0 on the lot grid and ``limit_price`` > 0 on the tick grid. Fees come
    from ``fee_schedule``, by default the asset class's ``DEFAULT_FEE_SCHEDULES`` entry.
    """
    side = Side(side)
    time_in_force = TimeInForce(time_in_force)
    _require_on_grid(quantity, instrument.lot_size, name="quantity")
    if limit_price is not None:
        _require_on_grid(limit_price, instrument.tick_size, name="limit_price")
    schedule = DEFAULT_FEE_SCHEDULES[instrument.asset_class] if fee_schedule is None else fee_schedule

    levels = _profiled_side(
        book,
        is_bid_side=side == Side.SELL,
        profile=profile,
        tick_size=instrument.tick_size,
        lot_size=instrument.lot_size,
    )
    available_liquidity = sum((level_quantity for _, level_quantity in levels), ZERO)
    slippage = ZERO
    if profile.slippage_enabled:
        slippage = slippage_fraction(
            order_quantity=quantity,
            available_liquidity=available_liquidity,
            base_slippage=profile.base_slippage_by_tier[instrument.liquidity_tier],
            impact_factor=profile.impact_factor_by_class[instrument.asset_class],
        )

    slices = _take_levels(
        levels,
        side=side,
        quantity=quantity,
        slippage=slippage,
        limit_price=limit_price,
        walks_book=profile.walks_book,
        instrument=instrument,
        schedule=schedule,
    )
    filled = sum((piece.quantity for piece in slices), ZERO)
    if filled == quantity:
        remainder = RemainderAction.NONE
    elif time_in_force == TimeInForce.FOK:
        remainder, slices, filled = RemainderAction.KILL, (), ZERO
    elif time_in_force == TimeInForce.IOC:
        remainder = RemainderAction.CANCEL
    else:
        remainder = RemainderAction.REST

    queue_ahead = None
    if remainder == RemainderAction.REST and limit_price is not None:
        queue_ahead = initial_queue_ahead(
            side=side, limit_price=limit_price, book=book, profile=profile, instrument=instrument
        )

    mid = book.mid
    arrival = mid if arrival_price is None else arrival_price
    vwap = sum((piece.fill_price * piece.quantity for piece in slices), ZERO) / filled if filled else None
    return ExecutionResult(
        side=side,
        quantity=quantity,
        limit_price=limit_price,
        time_in_force=time_in_force,
        instrument=instrument,
        profile_name=profile.name,
        profile_version=profile.version,
        seed=profile.seed,
        latency_ms=sample_latency_ms(profile=profile, order_key=order_key),
        mid_price=mid,
        arrival_price=arrival,
        available_liquidity=available_liquidity,
        slippage_fraction_applied=slippage,
        slices=slices,
        filled_quantity=filled,
        remaining_quantity=quantity - filled,
        remainder=remainder,
        queue_ahead=queue_ahead,
        vwap=vwap,
        slippage_bps_vs_mid=_cost_in_bps(side, vwap, mid),
        slippage_bps_vs_arrival=_cost_in_bps(side, vwap, arrival),
    )


def _take_levels(
    levels: tuple[PriceLevel, ...],
    *,
    side: Side,
    quantity: Decimal,
    slippage: Decimal,
    limit_price: Decimal | None,
    walks_book: bool,
    instrument: InstrumentSpec,
    schedule: FeeSchedule,
) -> tuple[FillSlice, ...]:
    is_buy = side == Side.BUY
    price_factor = ONE + slippage if is_buy else ONE - slippage
    snap_fill_price = _step_snapper(instrument.tick_size, ROUND_CEILING if is_buy else ROUND_FLOOR)
    multiplier = instrument.contract_multiplier
    slices: list[FillSlice] = []
    remaining = quantity
    for index, (book_price, level_quantity) in enumerate(levels):
        fill_price = snap_fill_price(book_price * price_factor)
        if is_buy:
            beyond_limit = limit_price is not None and fill_price > limit_price
        else:
            beyond_limit = fill_price <= 0 or (limit_price is not None and fill_price < limit_price)
        if beyond_limit:
            break  # levels only get worse from here
        taken = min(level_quantity, remaining) if walks_book else remaining
        notional = fill_price * taken * multiplier
        slices.append(
            FillSlice(
                level_index=index,
                book_price=book_price,
                fill_price=fill_price,
                quantity=taken,
                fee=round_fee_up(
                    fee_for(schedule=schedule, liquidity=Liquidity.TAKER, quantity=taken, notional=notional)
                ),
                slippage_cost=abs(fill_price - book_price) * taken * multiplier,
                liquidity=Liquidity.TAKER,
            )
        )
        remaining -= taken
        if remaining == 0:
            break
    return tuple(slices)


def _cost_in_bps(side: Side, vwap: Decimal | None, reference: Decimal | None) -> Decimal | None:
    if vwap is None or reference is None:
        return None
    difference = vwap - reference if side == Side.BUY else reference - vwap
    return difference / reference * BASIS_POINTS_PER_UNIT


def _require_on_grid(value: Decimal, step: Decimal, *, name: str) -> None:
    if value <= 0 or value % step != 0:
        raise ValueError(f"{name} must be a positive multiple of {step}, got {value}")


def _visible_at_price(levels: tuple[PriceLevel, ...], price: Decimal) -> Decimal:
    for level_price, level_quantity in levels:
        if level_price == price:
            return level_quantity
    return ZERO


# ---------------------------------------------------------------------------------------------
# Resting limit orders


def initial_queue_ahead(
    *, side: Side, limit_price: Decimal, book: OrderBook, profile: RealismProfile, instrument: InstrumentSpec
) -> Decimal:
    """The size queued ahead of a limit order placed now: the visible size at its price on its own
    side of the profiled book (0 if it improves the touch or the profile ignores queues)."""
    if not profile.queue_position:
        return ZERO
    own_levels = _profiled_side(
        book,
        is_bid_side=Side(side) == Side.BUY,
        profile=profile,
        tick_size=instrument.tick_size,
        lot_size=instrument.lot_size,
    )
    return _visible_at_price(own_levels, limit_price)


@dataclass(frozen=True, slots=True)
class RestingUpdate:
    """The outcome of one market update for a resting limit order.

    ``fill_price`` is the limit price when ``fill_quantity`` > 0, else None. ``fee`` has been
    rounded up by ``round_fee_up``. ``filled_from_trades`` + ``filled_from_crossing`` =
    ``fill_quantity``.
    """

    fill_quantity: Decimal
    fill_price: Decimal | None
    fee: Decimal
    queue_ahead: Decimal
    filled_from_trades: Decimal
    filled_from_crossing: Decimal
    liquidity: Liquidity = Liquidity.MAKER

    def explain(self) -> dict[str, object]:
        return {
            "fill_quantity": _text(self.fill_quantity),
            "fill_price": _text(self.fill_price),
            "fee": _text(self.fee),
            "queue_ahead": _text(self.queue_ahead),
            "filled_from_trades": _text(self.filled_from_trades),
            "filled_from_crossing": _text(self.filled_from_crossing),
            "liquidity": self.liquidity.value,
        }


def simulate_resting_limit_update(
    *,
    side: Side,
    limit_price: Decimal,
    remaining_quantity: Decimal,
    queue_ahead: Decimal,
    book: OrderBook,
    traded_quantity: Decimal,
    profile: RealismProfile,
    instrument: InstrumentSpec,
    fee_schedule: FeeSchedule | None = None,
) -> RestingUpdate:
    """Decide what one market update fills of a resting limit order (spec §5, appendix A "Limit").

    Inputs: the book after the update and ``traded_quantity``, the volume that traded at the
    order's price during the update against its side (sellers hitting bids, for a resting buy).
    Both go through the profile (``profile_book``; traded volume scaled by ``depth_multiplier``,
    rounded down to the lot), so a thin profile thins the flow as well as the book.

    In this order:

    1. Trades: if the order is at the touch (no own-side level better than its price), traded
       volume first consumes ``queue_ahead`` and the excess fills the order.
    2. Cancellations: the queue ahead can never exceed the size still visible at the price, so it
       is clamped to it. (Cancels are assumed to come from ahead of us.)
    3. Crossing: opposite-side size at the order's price or better (asks ≤ limit for a buy) fills
       it. An opposite level at our exact price counts, because a real matching engine would have
       matched it with the bids resting there, us included. The queue ahead is then already 0:
       an uncrossed book shows no own-side size at a price the other side has reached.

    Every fill is at the limit price, as maker, even when the opposite best is strictly better:
    the market came to a resting order, and the counterparty trades at the resting price; no
    price improvement is granted. The fill is capped at ``remaining_quantity`` and rounded down
    to the lot.
    """
    side = Side(side)
    _require_on_grid(limit_price, instrument.tick_size, name="limit_price")
    _require_on_grid(remaining_quantity, instrument.lot_size, name="remaining_quantity")
    if queue_ahead < 0 or traded_quantity < 0:
        raise ValueError("queue_ahead and traded_quantity must not be negative")
    schedule = DEFAULT_FEE_SCHEDULES[instrument.asset_class] if fee_schedule is None else fee_schedule
    is_buy = side == Side.BUY
    traded_book = profile_book(book, profile=profile, tick_size=instrument.tick_size, lot_size=instrument.lot_size)
    own_levels = traded_book.side_levels(side)
    traded = _to_step(traded_quantity * profile.depth_multiplier, instrument.lot_size, ROUND_FLOOR)

    queue = queue_ahead if profile.queue_position else ZERO
    own_best = own_levels[0][0] if own_levels else None
    at_touch = own_best is None or (own_best <= limit_price if is_buy else own_best >= limit_price)
    from_trades = ZERO
    if at_touch:
        from_trades = max(traded - queue, ZERO)
        queue = max(queue - traded, ZERO)
    queue = min(queue, _visible_at_price(own_levels, limit_price))

    crossing = ZERO
    for price, level_quantity in traded_book.opposite_levels(side):
        if (price > limit_price) if is_buy else (price < limit_price):
            break
        crossing += level_quantity

    fill_quantity = _to_step(min(remaining_quantity, from_trades + crossing), instrument.lot_size, ROUND_FLOOR)
    used_from_trades = min(fill_quantity, from_trades)
    fee = ZERO
    if fill_quantity > 0:
        notional = limit_price * fill_quantity * instrument.contract_multiplier
        fee = round_fee_up(
            fee_for(schedule=schedule, liquidity=Liquidity.MAKER, quantity=fill_quantity, notional=notional)
        )
    return RestingUpdate(
        fill_quantity=fill_quantity,
        fill_price=limit_price if fill_quantity > 0 else None,
        fee=fee,
        queue_ahead=queue,
        filled_from_trades=used_from_trades,
        filled_from_crossing=fill_quantity - used_from_trades,
    )
