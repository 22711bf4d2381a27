"""A portfolio's account at given marks: equity, unrealized P&L, margin, buying power and what a close
frees (spec §3 "Leverage & Margin", §6 "Margin Modes", Appendix B). The one place this arithmetic is
written: valuation, the pre-trade checks, the derivatives margin account and its watcher, and
liquidation all call it.

The platform books trades like cash trades (a buy pays its notional, a sell receives it), so a
portfolio's equity is cash + long value − short value whatever the leverage; leverage decides how
much of that equity a position ties up as margin. In Binance's terms:

- wallet balance W = equity − every position's unrealized P&L (= cash + the signed cost of the
  positions);
- an isolated position's margin balance is its collateral (initial margin + what its owner added)
  plus its unrealized P&L; it is liquidated when its maintenance margin reaches that;
- the cross pool is W − the isolated collaterals, plus the unrealized P&L of every other position
  (unlevered ones included: what a portfolio holds backs its cross positions); the cross positions
  are liquidated together when their maintenance margin reaches it;
- margin used = isolated collateral + cross initial margin (notional at mark / leverage) + the
  value of unlevered longs (they are paid for in full); available (buying power) = equity −
  isolated P&L − used: an isolated position's P&L stays inside it. Without leverage this is cash −
  short market value (each open short keeps its proceeds as collateral, each long has spent its cost).

Pure module: Decimal in, Decimal out, nothing rounded; rows are built from any objects carrying a
position's fields (see `row_for`), so the services, the checks and the tests share it.
"""
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from haunt.market.terms import AssetClass, PositionSide
from portfolios.accounting.margin import (
    CLASS_MARGIN_RATES,
    PERP_LEVERAGE_TIERS,
    LeverageTier,
    bankruptcy_price,
    initial_margin,
    leverage_tiers,
    liquidation_price_tiered,
    maintenance_margin,
    margin_ratio,
    tier_for,
    unrealized_pnl,
)

ZERO = Decimal(0)


class MarginMode(StrEnum):
    CROSS = "cross"
    ISOLATED = "isolated"


def is_margined(*, asset_class: str, leverage: Decimal, margin_mode: str) -> bool:
    """A perpetual, a position above 1x or an isolated one: its margin is notional / leverage, and it
    has a maintenance margin to watch. Unlevered cash positions have none."""
    return asset_class == AssetClass.PERPETUAL or leverage != 1 or margin_mode == MarginMode.ISOLATED


def tiers_for(asset_class: AssetClass) -> tuple[LeverageTier, ...]:
    """Perpetuals: the notional tiers of spec §6. Other classes: one tier at the class rates of §3."""
    if asset_class == AssetClass.PERPETUAL:
        return PERP_LEVERAGE_TIERS
    rates = CLASS_MARGIN_RATES[asset_class]
    return _CLASS_TIERS.setdefault(asset_class, leverage_tiers([(ZERO, rates.max_leverage, rates.maintenance_rate)]))


_CLASS_TIERS: dict[AssetClass, tuple[LeverageTier, ...]] = {}


@dataclass(frozen=True)
class PositionRow:
    """One open position. quantity is in units of the underlying (contracts × multiplier), cost is the
    cost basis and collateral the isolated margin, both in the quote currency; rate converts the quote
    currency into the portfolio's base currency."""

    key: object
    asset_class: AssetClass
    side: PositionSide
    quantity: Decimal
    cost: Decimal
    mark_price: Decimal
    leverage: Decimal
    is_isolated: bool
    is_margined: bool
    collateral: Decimal
    rate: Decimal = Decimal(1)

    @property
    def entry_price(self) -> Decimal:
        return self.cost / self.quantity

    @property
    def notional(self) -> Decimal:
        return self.quantity * self.mark_price

    @property
    def unrealized_pnl(self) -> Decimal:
        return unrealized_pnl(side=self.side, value=self.notional, cost=self.cost)

    @property
    def tiers(self) -> tuple[LeverageTier, ...]:
        return tiers_for(self.asset_class)

    @property
    def maintenance_margin(self) -> Decimal:
        notional = self.notional
        return maintenance_margin(notional=notional, tier=tier_for(notional=notional, tiers=self.tiers))


def isolated_collateral(*, cost: Decimal, leverage: Decimal, margin_added: Decimal) -> Decimal:
    """An isolated position's own margin: its initial margin plus what its owner added or removed."""
    return initial_margin(notional=cost, leverage=leverage) + margin_added


def pnl_since_invested(*, equity: Decimal, invested: Decimal) -> Decimal:
    """The account's P&L: equity − what was put in (`invested`: the starting balance + top-ups), so a
    top-up is never mistaken for a gain or a loss."""
    return equity - invested


def row_for(position, *, mark_price: Decimal, rate: Decimal = Decimal(1)) -> PositionRow:
    """A row from a position (anything with the Position model's fields and its instrument)."""
    instrument = position.instrument
    isolated = position.margin_mode == MarginMode.ISOLATED
    leverage = Decimal(position.leverage)
    return PositionRow(
        key=position.pk,
        asset_class=AssetClass(instrument.asset_class),
        side=PositionSide(position.side),
        quantity=position.quantity * instrument.contract_multiplier,
        cost=position.cost_basis,
        mark_price=mark_price,
        leverage=leverage,
        is_isolated=isolated,
        is_margined=is_margined(asset_class=instrument.asset_class, leverage=leverage,
                                margin_mode=position.margin_mode),
        collateral=isolated_collateral(cost=position.cost_basis, leverage=leverage,
                                       margin_added=position.margin_added) if isolated else ZERO,
        rate=rate,
    )


def freed_by_closing(row: PositionRow, *, units: Decimal, cash: Decimal) -> Decimal:
    """The buying power that closing `units` of `row` (in units of the underlying, as row.quantity)
    frees, negative when it costs some, when the close moves cash by `cash` in the base currency:
    + a sell's proceeds net of its fee, − a buy's cost plus its fee.

    Closing takes the units' market value out of equity (a long's asset, a short's liability) and
    releases the margin they held: all of an unlevered long's value (it was paid for in cash), a
    cross-margined position's value / leverage, nothing for an unlevered short. An isolated position
    is counted as releasing none of its collateral: what it really frees, its collateral plus P&L,
    is more unless it is past liquidation, so this never overstates.
    """
    value = units * row.mark_price * row.rate
    return cash - row.side.sign * value + _margin_held(row, value)


def _margin_held(row: PositionRow, value: Decimal) -> Decimal:
    """The margin a cross or unlevered position's `value` (base currency, at mark) ties up: value /
    leverage when margined, all of an unlevered long's value, nothing for an unlevered short.
    Isolated positions hold their collateral instead, which this does not count."""
    if row.is_isolated:
        return ZERO
    if row.is_margined:
        return initial_margin(notional=value, leverage=row.leverage)
    return value if row.side is PositionSide.LONG else ZERO


@dataclass(frozen=True)
class PositionMargin:
    """A margined position's figures. wallet_balance, other_maintenance_margin and
    other_unrealized_pnl are Binance's three account inputs of its liquidation price, in the quote
    currency: isolated, its collateral and zeros; cross, the cross wallet and the account's other
    cross positions."""

    row: PositionRow
    initial_margin: Decimal  # base currency
    maintenance_margin: Decimal  # quote currency
    margin_balance: Decimal  # isolated: collateral + P&L (quote); cross: the cross pool (base)
    margin_ratio: Decimal  # isolated: its own; cross: the cross pool's
    liquidation_price: Decimal | None
    bankruptcy_price: Decimal | None
    wallet_balance: Decimal
    other_maintenance_margin: Decimal
    other_unrealized_pnl: Decimal


@dataclass(frozen=True)
class AccountMargin:
    """Every figure of an account, in its base currency (each position's own figures in
    PositionMargin)."""

    equity: Decimal
    wallet_balance: Decimal
    long_value: Decimal
    short_value: Decimal
    unrealized_pnl: Decimal
    isolated_unrealized_pnl: Decimal
    margin_used: Decimal
    margin_available: Decimal  # buying power: equity − isolated P&L − margin used
    margin_level: Decimal | None  # equity / margin used; None when nothing is used
    cross_wallet_balance: Decimal  # the cross pool before unrealized P&L: wallet − isolated collateral
    cross_margin_balance: Decimal
    cross_maintenance_margin: Decimal
    cross_margin_ratio: Decimal
    positions: tuple[PositionMargin, ...]

    @property
    def buying_power(self) -> Decimal:
        """margin_available, by the name the order checks use: what a new order may still commit."""
        return self.margin_available

    def position(self, key) -> PositionMargin | None:
        return next((entry for entry in self.positions if entry.row.key == key), None)


def account_margin(*, cash: Decimal, rows: Sequence[PositionRow], other_margin: Decimal = ZERO) -> AccountMargin:
    """Every figure of the account at the rows' marks (see the module docstring). `other_margin` is
    what positions with margin rules of their own (option strategies) need beyond the rows' margin,
    in the base currency; it counts in the margin used."""
    long_value = sum((row.notional * row.rate for row in rows if row.side is PositionSide.LONG), ZERO)
    short_value = sum((row.notional * row.rate for row in rows if row.side is PositionSide.SHORT), ZERO)
    equity = cash + long_value - short_value
    pnl = sum((row.unrealized_pnl * row.rate for row in rows), ZERO)
    wallet = equity - pnl
    isolated = [row for row in rows if row.is_isolated]
    cross_margined = [row for row in rows if row.is_margined and not row.is_isolated]
    cross_wallet = wallet - sum((row.collateral * row.rate for row in isolated), ZERO)
    cross_pnl = sum((row.unrealized_pnl * row.rate for row in rows if not row.is_isolated), ZERO)
    cross_balance = cross_wallet + cross_pnl
    maintenance = {row.key: row.maintenance_margin for row in rows if row.is_margined}
    cross_maintenance = sum((maintenance[row.key] * row.rate for row in cross_margined), ZERO)
    cross_ratio = margin_ratio(maintenance_margin=cross_maintenance, margin_balance=cross_balance) \
        if cross_margined else ZERO
    used = other_margin
    entries = []
    for row in rows:
        if not row.is_margined:
            used += _margin_held(row, row.notional * row.rate)
            continue
        if row.is_isolated:
            initial = row.collateral * row.rate
            balance = row.collateral + row.unrealized_pnl
            ratio = margin_ratio(maintenance_margin=maintenance[row.key], margin_balance=balance)
            wallet_balance, others_maintenance, others_pnl = row.collateral, ZERO, ZERO
        else:
            initial = _margin_held(row, row.notional * row.rate)
            balance, ratio = cross_balance, cross_ratio
            wallet_balance = cross_wallet / row.rate
            others_maintenance = (cross_maintenance - maintenance[row.key] * row.rate) / row.rate
            others_pnl = (cross_pnl - row.unrealized_pnl * row.rate) / row.rate
        liquidation = liquidation_price_tiered(
            side=row.side, quantity=row.quantity, entry_price=row.entry_price, wallet_balance=wallet_balance,
            tiers=row.tiers, other_maintenance_margin=others_maintenance, other_unrealized_pnl=others_pnl)
        bankruptcy = bankruptcy_price(side=row.side, quantity=row.quantity, entry_price=row.entry_price,
                                      wallet_balance=wallet_balance, other_unrealized_pnl=others_pnl)
        used += initial
        entries.append(PositionMargin(
            row=row, initial_margin=initial, maintenance_margin=maintenance[row.key], margin_balance=balance,
            margin_ratio=ratio, liquidation_price=liquidation,
            bankruptcy_price=bankruptcy if bankruptcy > ZERO else None, wallet_balance=wallet_balance,
            other_maintenance_margin=others_maintenance, other_unrealized_pnl=others_pnl,
        ))
    isolated_pnl = sum((row.unrealized_pnl * row.rate for row in isolated), ZERO)
    return AccountMargin(
        equity=equity, wallet_balance=wallet, long_value=long_value, short_value=short_value, unrealized_pnl=pnl,
        isolated_unrealized_pnl=isolated_pnl, margin_used=used, margin_available=equity - isolated_pnl - used,
        margin_level=equity / used if used else None, cross_wallet_balance=cross_wallet,
        cross_margin_balance=cross_balance,
        cross_maintenance_margin=cross_maintenance, cross_margin_ratio=cross_ratio, positions=tuple(entries),
    )
