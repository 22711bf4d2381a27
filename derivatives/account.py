"""A portfolio's margin account at given marks (spec §3 "Leverage & Margin", §6 "Margin Modes", Appendix B).

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
  value of unlevered longs (they are paid for in full); available = equity − isolated P&L − used.

Pure module: Decimal in, Decimal out, nothing rounded; rows are built from any objects carrying a
position's fields (see `row_for`), so the order checks and the derivatives services share it.
"""
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from derivatives.margin import (
    CLASS_MARGIN_RATES,
    PERP_LEVERAGE_TIERS,
    AssetClass,
    LeverageTier,
    PositionSide,
    bankruptcy_price,
    leverage_tiers,
    liquidation_price_tiered,
    maintenance_margin,
    margin_ratio,
    tier_for,
)

ZERO = Decimal(0)
MARGIN_CLASS = {"perpetual": AssetClass.CRYPTO_PERPETUAL, "crypto_spot": AssetClass.CRYPTO_SPOT,
                "stock": AssetClass.STOCK, "etf": AssetClass.ETF, "forex": AssetClass.FOREX,
                "option": AssetClass.OPTION}


def tiers_for(asset_class: AssetClass) -> tuple[LeverageTier, ...]:
    """Perpetuals: the notional tiers of spec §6. Other classes: one tier at the class rates of §3."""
    if asset_class is AssetClass.CRYPTO_PERPETUAL:
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
        return self.side * (self.notional - self.cost)

    @property
    def tiers(self) -> tuple[LeverageTier, ...]:
        return tiers_for(self.asset_class)

    @property
    def maintenance_margin(self) -> Decimal:
        notional = self.notional
        return maintenance_margin(notional=notional, tier=tier_for(notional=notional, tiers=self.tiers))


def row_for(position, *, mark_price: Decimal, rate: Decimal = Decimal(1)) -> PositionRow:
    """A row from a position (anything with the Position model's fields and its instrument)."""
    instrument = position.instrument
    isolated = position.margin_mode == "isolated"
    leverage = Decimal(position.leverage)
    return PositionRow(
        key=position.pk,
        asset_class=MARGIN_CLASS[instrument.asset_class],
        side=PositionSide.LONG if position.side == "long" else PositionSide.SHORT,
        quantity=position.quantity * instrument.contract_multiplier,
        cost=position.cost_basis,
        mark_price=mark_price,
        leverage=leverage,
        is_isolated=isolated,
        is_margined=isolated or leverage != 1 or instrument.asset_class == "perpetual",
        collateral=position.cost_basis / leverage + position.margin_added if isolated else ZERO,
        rate=rate,
    )


@dataclass(frozen=True)
class PositionMargin:
    row: PositionRow
    initial_margin: Decimal  # base currency
    maintenance_margin: Decimal  # quote currency
    margin_balance: Decimal  # isolated: collateral + P&L (quote); cross: the cross pool (base)
    margin_ratio: Decimal  # isolated: its own; cross: the cross pool's
    liquidation_price: Decimal | None
    bankruptcy_price: Decimal | None


@dataclass(frozen=True)
class AccountMargin:
    equity: Decimal
    wallet_balance: Decimal
    margin_used: Decimal
    margin_available: Decimal
    margin_level: Decimal | None  # equity / margin used; None when nothing is used
    cross_margin_balance: Decimal
    cross_maintenance_margin: Decimal
    cross_margin_ratio: Decimal
    positions: tuple[PositionMargin, ...]

    def position(self, key) -> PositionMargin | None:
        return next((entry for entry in self.positions if entry.row.key == key), None)


def account_margin(*, cash: Decimal, rows: Sequence[PositionRow]) -> AccountMargin:
    """Every figure of the account at the rows' marks (see the module docstring)."""
    equity = cash + sum((row.side * row.notional * row.rate for row in rows), ZERO)
    wallet = equity - sum((row.unrealized_pnl * row.rate for row in rows), ZERO)
    isolated = [row for row in rows if row.is_isolated]
    cross_margined = [row for row in rows if row.is_margined and not row.is_isolated]
    cross_wallet = wallet - sum((row.collateral * row.rate for row in isolated), ZERO)
    cross_pnl = sum((row.unrealized_pnl * row.rate for row in rows if not row.is_isolated), ZERO)
    cross_balance = cross_wallet + cross_pnl
    maintenance = {row.key: row.maintenance_margin for row in rows if row.is_margined}
    cross_maintenance = sum((maintenance[row.key] * row.rate for row in cross_margined), ZERO)
    cross_ratio = margin_ratio(maintenance_margin=cross_maintenance, margin_balance=cross_balance) \
        if cross_margined else ZERO
    used = ZERO
    entries = []
    for row in rows:
        if not row.is_margined:
            used += row.notional * row.rate if row.side is PositionSide.LONG else ZERO
            continue
        if row.is_isolated:
            initial = row.collateral * row.rate
            balance = row.collateral + row.unrealized_pnl
            ratio = margin_ratio(maintenance_margin=maintenance[row.key], margin_balance=balance)
            liquidation = liquidation_price_tiered(side=row.side, quantity=row.quantity, entry_price=row.entry_price,
                                                   wallet_balance=row.collateral, tiers=row.tiers)
            bankruptcy = bankruptcy_price(side=row.side, quantity=row.quantity, entry_price=row.entry_price,
                                          wallet_balance=row.collateral)
        else:
            initial = row.notional * row.rate / row.leverage
            balance, ratio = cross_balance, cross_ratio
            others_maintenance = (cross_maintenance - maintenance[row.key] * row.rate) / row.rate
            others_pnl = (cross_pnl - row.unrealized_pnl * row.rate) / row.rate
            liquidation = liquidation_price_tiered(
                side=row.side, quantity=row.quantity, entry_price=row.entry_price,
                wallet_balance=cross_wallet / row.rate, tiers=row.tiers,
                other_maintenance_margin=others_maintenance, other_unrealized_pnl=others_pnl)
            bankruptcy = bankruptcy_price(side=row.side, quantity=row.quantity, entry_price=row.entry_price,
                                          wallet_balance=cross_wallet / row.rate, other_unrealized_pnl=others_pnl)
        used += initial
        entries.append(PositionMargin(
            row=row, initial_margin=initial, maintenance_margin=maintenance[row.key], margin_balance=balance,
            margin_ratio=ratio, liquidation_price=liquidation,
            bankruptcy_price=bankruptcy if bankruptcy > ZERO else None,
        ))
    isolated_pnl = sum((row.unrealized_pnl * row.rate for row in isolated), ZERO)
    return AccountMargin(
        equity=equity, wallet_balance=wallet, margin_used=used, margin_available=equity - isolated_pnl - used,
        margin_level=equity / used if used else None, cross_margin_balance=cross_balance,
        cross_maintenance_margin=cross_maintenance, cross_margin_ratio=cross_ratio, positions=tuple(entries),
    )
