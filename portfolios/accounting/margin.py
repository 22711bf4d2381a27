"""Leverage limits, margin, P&L and liquidation price (spec §3 "Leverage & Margin", §4
"Enforced Controls", §6 "Position Limits" and "Margin Modes", Appendix B).

Binance USDⓈ-M futures is the reference for the perpetual leverage tiers and the liquidation price.
Appendix B's `Entry × (1 − IM + MM)` is a first-order approximation of the same condition: it drops
the `1 − MMR` denominator and the tier's maintenance amount, so the exact one-way-mode formula is used.

Pure module: Decimal in, Decimal out, nothing rounded. The service rounds once through
`haunt.money` when a value becomes a stored price or amount. The tier tables are data: rows of
(notional floor, max leverage, maintenance rate) and the class rates below.
"""
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from haunt.errors import DomainError
from haunt.market.terms import AssetClass, PositionSide

ZERO = Decimal(0)
ONE = Decimal(1)
CENT = Decimal("0.01")  # messages show notionals to the cent


@dataclass(frozen=True)
class ClassMarginRates:
    """Limits of one asset class (spec §3): rates are fractions of notional (0.01 = 1%)."""

    max_leverage: Decimal
    initial_rate: Decimal
    maintenance_rate: Decimal


CLASS_MARGIN_RATES: dict[AssetClass, ClassMarginRates] = {
    # Perpetuals: these are the tier-1 figures; larger positions follow PERP_LEVERAGE_TIERS.
    AssetClass.PERPETUAL: ClassMarginRates(Decimal(100), Decimal("0.01"), Decimal("0.005")),
    AssetClass.CRYPTO_SPOT: ClassMarginRates(Decimal(10), Decimal("0.10"), Decimal("0.05")),
    # Reg-T style: the 25% maintenance equals the 25% initial requirement at 4x.
    AssetClass.STOCK: ClassMarginRates(Decimal(4), Decimal("0.25"), Decimal("0.25")),
    AssetClass.ETF: ClassMarginRates(Decimal(4), Decimal("0.25"), Decimal("0.25")),
    AssetClass.FOREX: ClassMarginRates(Decimal(50), Decimal("0.02"), Decimal("0.01")),
    # A bought option is paid for in full and can lose no more than its premium, so there is
    # nothing left to maintain.
    AssetClass.OPTION: ClassMarginRates(ONE, ONE, ZERO),
}


@dataclass(frozen=True)
class LeverageTier:
    """One bracket of a perpetual's leverage table, covering floor ≤ notional < cap.

    `maintenance_amount` is Binance's `cum`: maintenance margin = notional × maintenance_rate −
    maintenance_amount, which keeps the maintenance margin continuous where brackets meet.
    """

    number: int
    notional_floor: Decimal
    notional_cap: Decimal | None  # None: the last tier has no upper bound
    max_leverage: Decimal
    initial_rate: Decimal
    maintenance_rate: Decimal
    maintenance_amount: Decimal

    def contains(self, notional: Decimal) -> bool:
        return self.notional_floor <= notional and (self.notional_cap is None or notional < self.notional_cap)

    def describe(self) -> str:
        upper = f"< {self.notional_cap:,}" if self.notional_cap is not None else "and above"
        return f"tier {self.number} (notional {self.notional_floor:,} {upper}, max {self.max_leverage}x)"


def leverage_tiers(brackets: Sequence[tuple[Decimal, Decimal, Decimal]]) -> tuple[LeverageTier, ...]:
    """Build a tier table from (notional floor, max leverage, maintenance rate) rows, lowest first.

    The first floor must be 0. Maintenance amounts chain as cum_1 = 0,
    cum_n = cum_(n−1) + floor_n × (MMR_n − MMR_(n−1)), which is what makes
    notional × MMR − cum agree on both sides of every floor.
    """
    if not brackets or brackets[0][0] != ZERO:
        raise ValueError("the first bracket must start at notional 0")
    tiers: list[LeverageTier] = []
    maintenance_amount = ZERO
    previous_rate = brackets[0][2]
    for index, (floor, max_leverage, maintenance_rate) in enumerate(brackets):
        if tiers and floor <= tiers[-1].notional_floor:
            raise ValueError("bracket floors must increase")
        maintenance_amount += floor * (maintenance_rate - previous_rate)
        previous_rate = maintenance_rate
        cap = brackets[index + 1][0] if index + 1 < len(brackets) else None
        tiers.append(
            LeverageTier(
                number=index + 1,
                notional_floor=floor,
                notional_cap=cap,
                max_leverage=max_leverage,
                initial_rate=ONE / max_leverage,
                maintenance_rate=maintenance_rate,
                maintenance_amount=maintenance_amount,
            )
        )
    return tuple(tiers)


# Spec §6 "Position Limits"; each maintenance rate is half the tier's initial rate (1/max leverage).
PERP_LEVERAGE_TIERS = leverage_tiers(
    [
        (ZERO, Decimal(100), Decimal("0.005")),
        (Decimal(50_000), Decimal(50), Decimal("0.01")),
        (Decimal(250_000), Decimal(20), Decimal("0.025")),
        (Decimal(1_000_000), Decimal(10), Decimal("0.05")),
        (Decimal(5_000_000), Decimal(5), Decimal("0.10")),
    ]
)


class LeverageNotAllowed(DomainError):
    """Requested leverage is above what the asset class, or the position's tier, allows."""

    code = "leverage_not_allowed"

    def __init__(self, message: str, *, tier: LeverageTier | None = None):
        super().__init__(message, field="leverage")
        self.tier = tier


def tier_for(*, notional: Decimal, tiers: Sequence[LeverageTier] = PERP_LEVERAGE_TIERS) -> LeverageTier:
    """The tier whose [floor, cap) holds this notional: exactly $50,000 is tier 2, exactly $5M tier 5."""
    if notional < ZERO:
        raise ValueError("notional cannot be negative")
    for tier in reversed(tiers):
        if notional >= tier.notional_floor:
            return tier
    raise AssertionError("unreachable: the first tier starts at 0")


def max_leverage(
    *, asset_class: AssetClass, notional: Decimal, tiers: Sequence[LeverageTier] = PERP_LEVERAGE_TIERS
) -> Decimal:
    """Highest leverage allowed for a position of this notional (perpetuals by tier, others by class)."""
    if asset_class == AssetClass.PERPETUAL:
        return tier_for(notional=notional, tiers=tiers).max_leverage
    return CLASS_MARGIN_RATES[asset_class].max_leverage


def check_leverage(
    *,
    asset_class: AssetClass,
    notional: Decimal,
    leverage: Decimal,
    tiers: Sequence[LeverageTier] = PERP_LEVERAGE_TIERS,
) -> None:
    """Raise LeverageNotAllowed, naming the tier for perpetuals, unless 1 ≤ leverage ≤ the maximum.

    `notional` is the position's notional after the order, so adding to a position re-checks it
    against the tier the whole position lands in.
    """
    if leverage < ONE:
        raise LeverageNotAllowed(f"leverage {leverage}x is below 1x")
    if asset_class == AssetClass.PERPETUAL:
        tier = tier_for(notional=notional, tiers=tiers)
        if leverage > tier.max_leverage:
            raise LeverageNotAllowed(
                f"leverage {leverage}x exceeds the {tier.max_leverage}x maximum of {tier.describe()} "
                f"for a position notional of {notional.quantize(CENT):,}",
                tier=tier,
            )
        return
    limit = CLASS_MARGIN_RATES[asset_class].max_leverage
    if leverage > limit:
        raise LeverageNotAllowed(f"leverage {leverage}x exceeds the {limit}x maximum for {asset_class.value}")


def position_notional(*, quantity: Decimal, price: Decimal) -> Decimal:
    """Absolute value of a position at a price: |quantity| × price."""
    return abs(quantity) * price


def initial_margin(*, notional: Decimal, leverage: Decimal) -> Decimal:
    """Appendix B: initial margin = position size / leverage."""
    return notional / leverage


def maintenance_margin(*, notional: Decimal, tier: LeverageTier) -> Decimal:
    """notional × MMR − cum of the given tier (spec §6); continuous across tiers because cum absorbs each step."""
    return maintenance_at(notional=notional, maintenance_rate=tier.maintenance_rate,
                          maintenance_amount=tier.maintenance_amount)


def maintenance_at(*, notional, maintenance_rate, maintenance_amount):
    """notional × MMR − cum: Decimals, or numpy arrays holding each row's tier rate and amount."""
    return notional * maintenance_rate - maintenance_amount


def required_maintenance_margin(
    *, asset_class: AssetClass, notional: Decimal, tiers: Sequence[LeverageTier] = PERP_LEVERAGE_TIERS
) -> Decimal:
    """Maintenance margin of a position: by tier for perpetuals, notional × class rate otherwise."""
    if asset_class == AssetClass.PERPETUAL:
        return maintenance_margin(notional=notional, tier=tier_for(notional=notional, tiers=tiers))
    return notional * CLASS_MARGIN_RATES[asset_class].maintenance_rate


def unrealized_pnl(*, side, value, cost):
    """side × (value − cost): what a position, or the part of it being closed, gains between its
    cost (quantity × entry, or the cost basis) and its value (quantity × mark, or × the fill price).
    `side` is a PositionSide or its sign (+1 long, −1 short; numpy arrays of signs work alike)."""
    return _sign(side) * (value - cost)


def _sign(side):
    """+1 / −1 of a PositionSide; a sign (or numpy array of signs) passes through."""
    return side.sign if isinstance(side, PositionSide) else side


def margin_ratio(*, maintenance_margin: Decimal, margin_balance: Decimal) -> Decimal:
    """Binance's margin ratio, maintenance margin / margin balance; liquidation starts at 1 (100%).

    A margin balance at or below zero has nothing left to maintain with: the ratio is Infinity, so
    it compares above every warning threshold.
    """
    if margin_balance <= ZERO:
        return Decimal("Infinity")
    return maintenance_margin / margin_balance


def margin_surplus_base(*, side, quantity, entry_price, wallet_balance, other_maintenance_margin,
                        other_unrealized_pnl):
    """Margin balance − maintenance margin at price 0, less the position's own maintenance:
    WB − TMM1 + UPNL1 − side·Q·EP. The surplus at a notional N is this + side·N − maintenance(N);
    the liquidation price is where it reaches 0. Decimals, or numpy arrays as the sweep passes."""
    return wallet_balance - other_maintenance_margin + other_unrealized_pnl - _sign(side) * quantity * entry_price


def liquidation_price(
    *,
    side,
    quantity: Decimal,
    entry_price: Decimal,
    wallet_balance: Decimal,
    maintenance_rate: Decimal,
    maintenance_amount: Decimal,
    other_maintenance_margin: Decimal = ZERO,
    other_unrealized_pnl: Decimal = ZERO,
) -> Decimal:
    """Binance one-way-mode liquidation price for one given maintenance rate and amount:

        LP = (WB − TMM1 + UPNL1 + cum − side·Q·EP) / (Q·MMR − side·Q)

    Isolated: WB is the position margin and TMM1 = UPNL1 = 0. Cross: WB is the cross wallet
    balance, TMM1 and UPNL1 the maintenance margin and unrealized PnL of the account's other
    positions. The result may be ≤ 0 (a long that no fall can liquidate); use
    `liquidation_price_tiered` for the price under the tier that applies at that price. `side` is a
    PositionSide or its sign; the liquidation sweep passes numpy arrays for every argument.
    """
    sign = _sign(side)
    numerator = (
        wallet_balance - other_maintenance_margin + other_unrealized_pnl + maintenance_amount
        - sign * quantity * entry_price
    )
    return numerator / (quantity * maintenance_rate - sign * quantity)


def liquidation_price_tiered(
    *,
    side: PositionSide,
    quantity: Decimal,
    entry_price: Decimal,
    wallet_balance: Decimal,
    tiers: Sequence[LeverageTier] = PERP_LEVERAGE_TIERS,
    other_maintenance_margin: Decimal = ZERO,
    other_unrealized_pnl: Decimal = ZERO,
) -> Decimal | None:
    """Liquidation price using the tier of the notional *at the liquidation price* (Binance's rule).

    The margin surplus (margin balance − maintenance margin) moves strictly one way with the price
    (slope side·Q·(1 − side·MMR) and MMR < 1), so there is one root. Rather than retrying tiers
    until the computed price lands in the tier used, the tier is located by the sign of the surplus
    at each tier's floor price; it is the same tier the retry settles on, found without the risk of
    bouncing between two tiers over a rounding difference at a floor.

    None when no positive price liquidates: a long whose margin outlasts a fall to zero, or a short
    whose margin balance is already below maintenance at every price.
    """
    if quantity <= ZERO:
        raise ValueError("quantity must be positive")
    sign = side.sign
    surplus_base = margin_surplus_base(side=side, quantity=quantity, entry_price=entry_price,
                                       wallet_balance=wallet_balance, other_maintenance_margin=other_maintenance_margin,
                                       other_unrealized_pnl=other_unrealized_pnl)

    def surplus_towards_liquidation(notional: Decimal, tier: LeverageTier) -> Decimal:
        # side × (margin balance − maintenance margin) at price notional / Q: rises with notional,
        # crosses zero at the liquidation price.
        return sign * (surplus_base + sign * notional - maintenance_margin(notional=notional, tier=tier))

    if surplus_towards_liquidation(ZERO, tiers[0]) >= ZERO:
        return None
    tier = tiers[0]
    for candidate in tiers[1:]:
        if surplus_towards_liquidation(candidate.notional_floor, candidate) > ZERO:
            break
        tier = candidate
    return liquidation_price(
        side=side,
        quantity=quantity,
        entry_price=entry_price,
        wallet_balance=wallet_balance,
        maintenance_rate=tier.maintenance_rate,
        maintenance_amount=tier.maintenance_amount,
        other_maintenance_margin=other_maintenance_margin,
        other_unrealized_pnl=other_unrealized_pnl,
    )


def bankruptcy_price(
    *,
    side: PositionSide,
    quantity: Decimal,
    entry_price: Decimal,
    wallet_balance: Decimal,
    other_unrealized_pnl: Decimal = ZERO,
) -> Decimal:
    """Price at which the margin balance reaches zero: EP − side·(WB + UPNL1)/Q.

    Isolated (UPNL1 = 0): a long's position margin is gone at entry − margin/Q. A long at 1x has
    bankruptcy price 0 or below: it cannot lose more than it paid.
    """
    return entry_price - side.sign * (wallet_balance + other_unrealized_pnl) / quantity
