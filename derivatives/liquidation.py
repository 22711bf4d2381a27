"""Liquidation engine arithmetic (spec §4 "Liquidation System (Gradual)", §6 "ADL" and "Insurance Fund").

Two halves with different number types, on purpose:
- The per-mark sweep (`sweep_mark`, `advance_warnings`, the ADL ranking) runs in float64 numpy over
  every leveraged position of a symbol at once. It only decides *who* to act on: who crossed a
  warning threshold, who is in breach, who is first in the ADL queue. The service recomputes every
  amount it books for those positions with the Decimal functions.
- The per-position money functions (`plan_partial_liquidation`, `settle_liquidation`) take and
  return Decimals and round nothing, like `portfolios.accounting.margin`, whose P&L and maintenance
  formulas both halves call (on float arrays and on Decimals alike).

Margin modes share one formula through Binance's three account inputs per position: isolated rows
carry their position margin as the wallet balance and zero for the other positions' maintenance
margin and PnL; cross rows carry the cross wallet balance and the account's other positions.
"""
from collections.abc import Sequence
import dataclasses
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

import numpy as np

from haunt.market.terms import PositionSide
from portfolios.accounting.margin import (
    PERP_LEVERAGE_TIERS,
    LeverageTier,
    liquidation_price,
    maintenance_at,
    maintenance_margin,
    margin_ratio,
    margin_surplus_base,
    tier_for,
    unrealized_pnl,
)

ZERO = Decimal(0)

WARNING_THRESHOLDS = (0.80, 0.90, 0.95)  # spec §4: alert, urgent alert, final warning
# A warning re-arms only once the ratio is this far back below its threshold, so a ratio
# hovering at 80% does not send an alert on every other mark update.
WARNING_REARM_GAP = 0.05
LIQUIDATION_FEE_RATE = Decimal("0.005")  # spec §6: 0.5% of the liquidated notional to the insurance fund
ADL_QUANTILE_BUCKETS = 5  # Binance shows 5 lights: quantiles 0 to 4
ADL_WALLET_FLOOR = 1.0  # Binance divides PnL by max(1 USDT, wallet balance)


@dataclass(frozen=True, eq=False)
class TierArrays:
    """A leverage tier table as float64 columns, lowest tier first, for vectorised lookups."""

    notional_floors: np.ndarray
    maintenance_rates: np.ndarray
    maintenance_amounts: np.ndarray


def tier_arrays(tiers: Sequence[LeverageTier] = PERP_LEVERAGE_TIERS) -> TierArrays:
    return TierArrays(
        notional_floors=np.array([float(tier.notional_floor) for tier in tiers]),
        maintenance_rates=np.array([float(tier.maintenance_rate) for tier in tiers]),
        maintenance_amounts=np.array([float(tier.maintenance_amount) for tier in tiers]),
    )


def stacked_tier_arrays(tables: Sequence[Sequence[LeverageTier]]) -> TierArrays:
    """Several tier tables as (table, tier) arrays, for a book whose rows follow different tables
    (`WatchedBook.table`: perpetual tiers, one tier at the class rates for leveraged spot). Shorter
    tables are padded with unreachable tiers (floor +inf)."""
    width = max(len(tiers) for tiers in tables)
    floors = np.full((len(tables), width), np.inf)
    rates = np.zeros((len(tables), width))
    amounts = np.zeros((len(tables), width))
    for index, tiers in enumerate(tables):
        one = tier_arrays(tiers)
        count = len(tiers)
        floors[index, :count] = one.notional_floors
        rates[index, :count], rates[index, count:] = one.maintenance_rates, one.maintenance_rates[-1]
        amounts[index, :count], amounts[index, count:] = one.maintenance_amounts, one.maintenance_amounts[-1]
    return TierArrays(notional_floors=floors, maintenance_rates=rates, maintenance_amounts=amounts)


def _one_table(tiers: TierArrays, index: int) -> TierArrays:
    """Table `index` of stacked tables, without its padding."""
    reachable = np.isfinite(tiers.notional_floors[index])
    return TierArrays(notional_floors=tiers.notional_floors[index][reachable],
                      maintenance_rates=tiers.maintenance_rates[index][reachable],
                      maintenance_amounts=tiers.maintenance_amounts[index][reachable])


def _count_reached(values: np.ndarray, boundaries: np.ndarray, dtype=np.intp) -> np.ndarray:
    """How many of `boundaries` each value is at or above. With this few boundaries and unsorted
    values, a comparison per boundary is several times faster than np.searchsorted."""
    reached = np.zeros(values.shape, dtype=dtype)
    for boundary in boundaries:
        reached += values >= boundary
    return reached


@dataclass(frozen=True, eq=False)
class LeveragedPositions:
    """Every leveraged position of one symbol, one row each, as float64 arrays of equal length.

    side: +1 long, −1 short. quantity: absolute size, > 0. wallet_balance: isolated → position
    margin; cross → the account's cross wallet balance. other_maintenance_margin and
    other_unrealized_pnl: the account's other cross positions (0 for isolated rows), valued at
    their own latest marks.
    """

    side: np.ndarray
    quantity: np.ndarray
    entry_price: np.ndarray
    wallet_balance: np.ndarray
    other_maintenance_margin: np.ndarray
    other_unrealized_pnl: np.ndarray


@dataclass(frozen=True, eq=False)
class MarkSweep:
    """State of every position at one mark price.

    margin_ratio is (this position's + other) maintenance margin / margin balance, +inf when the
    margin balance is not positive. liquidation_price is NaN where no positive price liquidates;
    liquidation_move is the fractional mark move that reaches it (−0.005 = a 0.5% fall).
    """

    unrealized_pnl: np.ndarray
    maintenance_margin: np.ndarray
    margin_balance: np.ndarray
    margin_ratio: np.ndarray
    breached: np.ndarray
    liquidation_price: np.ndarray
    liquidation_move: np.ndarray


LEVERAGED_POSITION_FIELDS = tuple(field.name for field in dataclasses.fields(LeveragedPositions))
MARK_SWEEP_FIELDS = tuple(field.name for field in dataclasses.fields(MarkSweep) if field.name != "breached")


def sweep_mark(*, positions: LeveragedPositions, mark_price: float | np.ndarray, tiers: TierArrays) -> MarkSweep:
    """Margin ratio, breach mask and distance to liquidation of every position at `mark_price` (one
    price for all, or one per row).

    Maintenance margin uses the tier of each position's notional at the mark; the liquidation price
    uses the tier of the notional at the liquidation price, as `margin.liquidation_price_tiered`.
    Breach is Binance's trigger: margin ratio ≥ 100%.
    """
    maintenance, unrealized = _own_terms(side=positions.side, quantity=positions.quantity,
                                         entry_price=positions.entry_price, mark_price=mark_price, tiers=tiers)
    return _sweep(positions=positions, mark_price=mark_price, tiers=tiers, unrealized=unrealized,
                  total_maintenance=maintenance + positions.other_maintenance_margin)


def _own_terms(*, side, quantity, entry_price, mark_price, tiers: TierArrays) -> tuple[np.ndarray, np.ndarray]:
    """Each position's own maintenance margin (tier of its notional at the mark) and unrealized P&L."""
    notional = quantity * mark_price
    tier_index = _count_reached(notional, tiers.notional_floors[1:])
    maintenance = maintenance_at(notional=notional, maintenance_rate=tiers.maintenance_rates.take(tier_index),
                                 maintenance_amount=tiers.maintenance_amounts.take(tier_index))
    return maintenance, unrealized_pnl(side=side, value=notional, cost=quantity * entry_price)


def _sweep(*, positions: LeveragedPositions, mark_price, tiers: TierArrays, unrealized: np.ndarray,
           total_maintenance: np.ndarray) -> MarkSweep:
    side = positions.side
    quantity = positions.quantity
    floors = tiers.notional_floors
    rates = tiers.maintenance_rates
    amounts = tiers.maintenance_amounts
    margin_balance = positions.wallet_balance + positions.other_unrealized_pnl + unrealized
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = total_maintenance / margin_balance
    ratio[margin_balance <= 0] = np.inf

    # Liquidation price, tier located as in margin.liquidation_price_tiered: side × surplus, which
    # rises with the notional, is ≤ 0 at the floor of the tier that holds the root and every tier
    # below it. At floor f with maintenance m: side·base + f − side·m ≤ 0.
    surplus_base = margin_surplus_base(
        side=side, quantity=quantity, entry_price=positions.entry_price, wallet_balance=positions.wallet_balance,
        other_maintenance_margin=positions.other_maintenance_margin,
        other_unrealized_pnl=positions.other_unrealized_pnl)
    directed_base = side * surplus_base
    liquidation_tier = np.zeros(side.shape, dtype=np.intp)
    floor_maintenance = maintenance_at(notional=floors, maintenance_rate=rates, maintenance_amount=amounts)
    for floor, maintenance_at_floor in zip(floors[1:], floor_maintenance[1:], strict=True):
        liquidation_tier += directed_base + floor <= side * maintenance_at_floor
    with np.errstate(divide="ignore", invalid="ignore"):
        price = liquidation_price(
            side=side, quantity=quantity, entry_price=positions.entry_price, wallet_balance=positions.wallet_balance,
            maintenance_rate=rates.take(liquidation_tier), maintenance_amount=amounts.take(liquidation_tier),
            other_maintenance_margin=positions.other_maintenance_margin,
            other_unrealized_pnl=positions.other_unrealized_pnl)
    price[directed_base >= 0] = np.nan  # no positive price liquidates (see margin.liquidation_price_tiered)

    return MarkSweep(
        unrealized_pnl=unrealized,
        maintenance_margin=total_maintenance,
        margin_balance=margin_balance,
        margin_ratio=ratio,
        breached=ratio >= 1.0,
        liquidation_price=price,
        liquidation_move=price / mark_price - 1.0,
    )


@dataclass(frozen=True, eq=False)
class WatchedBook:
    """Every leveraged perpetual position of every account, one row each, with what the sweep of one
    mark update needs of their accounts.

    Rows: instrument (index into the marks array), account (index into the account columns), side
    (+1/−1), quantity (> 0), entry_price, isolated (bool), collateral (isolated margin, quote
    currency; 0 for cross rows) and rate (quote → the account's base currency).
    Accounts: cross_wallet (wallet balance − isolated collateral, base currency), other_pnl and
    other_maintenance (what the account's positions outside this book add to its cross pool: their
    unrealized P&L and maintenance margin, as of the last refresh).
    """

    instrument: np.ndarray
    account: np.ndarray
    side: np.ndarray
    quantity: np.ndarray
    entry_price: np.ndarray
    isolated: np.ndarray
    collateral: np.ndarray
    rate: np.ndarray
    cross_wallet: np.ndarray
    other_pnl: np.ndarray
    other_maintenance: np.ndarray
    # Each row's tier table (an index into stacked_tier_arrays); None: one table for every row.
    table: np.ndarray | None = None


def sweep_book(*, book: WatchedBook, marks: np.ndarray, tiers: TierArrays) -> MarkSweep:
    """`sweep_mark` across accounts and symbols at once: each row at its own symbol's mark, each
    cross row against its account's whole cross pool at these marks (summed per account with one
    bincount), each isolated row against its own collateral. With `book.table`, `tiers` are
    stacked tables and each row follows its own; the rows of each table are swept together."""
    mark = marks.take(book.instrument)
    groups = _table_groups(book, tiers)
    maintenance, unrealized = np.empty(mark.size), np.empty(mark.size)
    for rows, table_tiers in groups:
        maintenance[rows], unrealized[rows] = _own_terms(
            side=book.side[rows], quantity=book.quantity[rows], entry_price=book.entry_price[rows],
            mark_price=mark[rows], tiers=table_tiers)
    cross = ~book.isolated
    accounts = book.cross_wallet.size
    cross_pnl = book.other_pnl + np.bincount(book.account, weights=np.where(cross, unrealized * book.rate, 0.0),
                                             minlength=accounts)
    cross_maintenance = book.other_maintenance + np.bincount(
        book.account, weights=np.where(cross, maintenance * book.rate, 0.0), minlength=accounts)
    row_cross_maintenance = cross_maintenance.take(book.account) / book.rate
    positions = LeveragedPositions(
        side=book.side,
        quantity=book.quantity,
        entry_price=book.entry_price,
        wallet_balance=np.where(book.isolated, book.collateral, book.cross_wallet.take(book.account) / book.rate),
        other_maintenance_margin=np.where(book.isolated, 0.0, row_cross_maintenance - maintenance),
        other_unrealized_pnl=np.where(book.isolated, 0.0, cross_pnl.take(book.account) / book.rate - unrealized),
    )
    total_maintenance = np.where(book.isolated, maintenance, row_cross_maintenance)
    if len(groups) == 1:
        return _sweep(positions=positions, mark_price=mark, tiers=groups[0][1], unrealized=unrealized,
                      total_maintenance=total_maintenance)
    swept = {name: np.empty(mark.size) for name in MARK_SWEEP_FIELDS}
    for rows, table_tiers in groups:
        part = _sweep(positions=LeveragedPositions(**{name: getattr(positions, name)[rows]
                                                       for name in LEVERAGED_POSITION_FIELDS}),
                      mark_price=mark[rows], tiers=table_tiers, unrealized=unrealized[rows],
                      total_maintenance=total_maintenance[rows])
        for name in MARK_SWEEP_FIELDS:
            swept[name][rows] = getattr(part, name)
    return MarkSweep(**swept, breached=swept["margin_ratio"] >= 1.0)


def _table_groups(book: WatchedBook, tiers: TierArrays) -> list[tuple[slice | np.ndarray, TierArrays]]:
    """The book's rows by tier table, each with its table in the one-table (1-D) form."""
    if book.table is None:
        return [(slice(None), tiers)]
    used = np.unique(book.table)
    if used.size == 1:
        return [(slice(None), _one_table(tiers, int(used[0])))]
    if np.all(book.table[:-1] <= book.table[1:]):  # rows kept grouped by table: slices, no copies
        starts = np.searchsorted(book.table, used)
        ends = np.append(starts[1:], book.table.size)
        return [(slice(int(start), int(end)), _one_table(tiers, int(table)))
                for start, end, table in zip(starts, ends, used, strict=True)]
    return [(np.flatnonzero(book.table == table), _one_table(tiers, int(table))) for table in used]


@dataclass(frozen=True, eq=False)
class WarningTransition:
    """level: thresholds each position now counts as crossed (0 = none). emitted: 0 for no alert, k for
    an alert naming thresholds[k − 1]."""

    level: np.ndarray
    emitted: np.ndarray


def advance_warnings(
    *,
    previous_level: np.ndarray,
    margin_ratio: np.ndarray,
    thresholds: Sequence[float] = WARNING_THRESHOLDS,
    rearm_gap: float = WARNING_REARM_GAP,
) -> WarningTransition:
    """One step of the warning ladder: each threshold alerts once per crossing.

    A level rises as soon as the ratio reaches a threshold and falls (re-arming that threshold)
    only once the ratio is below threshold − rearm_gap. A jump over several thresholds in one
    update emits a single alert naming the highest, not one per threshold.
    """
    limits = np.asarray(thresholds, dtype=np.float64)
    if limits.size and np.any(np.diff(limits) <= 0):
        raise ValueError("warning thresholds must increase")
    reached = _count_reached(margin_ratio, limits, dtype=np.int8)
    still_held = _count_reached(margin_ratio, limits - rearm_gap, dtype=np.int8)
    level = np.maximum(reached, np.minimum(previous_level, still_held))
    emitted = np.where(level > previous_level, level, np.int8(0))
    return WarningTransition(level=level, emitted=emitted)


@dataclass(frozen=True, eq=False)
class BookCheck:
    """One mark update over a WatchedBook: the sweep, each row's warning level after it, and the
    alert each row emits (0 none, k: its ladder's k-th threshold)."""

    sweep: MarkSweep
    level: np.ndarray
    emitted: np.ndarray


def check_book(*, book: WatchedBook, marks: np.ndarray, tiers: TierArrays, level: np.ndarray,
               ladders: dict[tuple[float, ...], np.ndarray]) -> BookCheck:
    """Everything the watcher computes per mark update: `sweep_book`, then each ladder's rows
    (`ladders` maps thresholds to row indices) through `advance_warnings`."""
    sweep = sweep_book(book=book, marks=marks, tiers=tiers)
    if len(ladders) == 1:
        [(thresholds, rows)] = ladders.items()
        if rows.size == level.size:  # every row on one ladder: no gather and scatter
            transition = advance_warnings(previous_level=level, margin_ratio=sweep.margin_ratio, thresholds=thresholds)
            return BookCheck(sweep=sweep, level=transition.level, emitted=transition.emitted)
    new_level = level.copy()
    emitted = np.zeros(level.shape, dtype=np.int8)
    for thresholds, rows in ladders.items():
        transition = advance_warnings(previous_level=level[rows], margin_ratio=sweep.margin_ratio[rows],
                                      thresholds=thresholds)
        new_level[rows] = transition.level
        emitted[rows] = transition.emitted
    return BookCheck(sweep=sweep, level=new_level, emitted=emitted)


@dataclass(frozen=True)
class PartialLiquidation:
    close_quantity: Decimal
    remaining_quantity: Decimal
    margin_ratio_after: Decimal  # account or isolated margin ratio once the close is booked

    @property
    def is_full(self) -> bool:
        return self.remaining_quantity == ZERO


def plan_partial_liquidation(
    *,
    side: PositionSide,
    quantity: Decimal,
    entry_price: Decimal,
    wallet_balance: Decimal,
    mark_price: Decimal,
    fill_price: Decimal,
    lot_size: Decimal,
    fee_rate: Decimal,
    tiers: Sequence[LeverageTier] = PERP_LEVERAGE_TIERS,
    other_maintenance_margin: Decimal = ZERO,
    other_unrealized_pnl: Decimal = ZERO,
) -> PartialLiquidation:
    """Smallest close, on the lot grid, that brings the margin ratio back below 100%.

    Closing c units at `fill_price` realises their PnL and pays `fee_rate` of the closed notional;
    no margin is released during a liquidation, so the whole wallet balance keeps backing the
    rest. The remainder is valued at `mark_price` under the tier of its own, smaller, notional, so
    the maintenance rate steps down as the position shrinks.

    The surplus after closing c (margin balance − maintenance margin) is linear within one tier and
    its slope, mark × MMR − the per-unit closing cost, falls with each lower tier: the surplus is
    concave in c, so the first root found walking down the tiers is the smallest close. When no
    partial close restores the ratio (the fee and slippage outweigh the maintenance released, or
    the wallet is exhausted), the plan is a full close. `quantity` must lie on the lot grid.
    """
    margin_balance_now = wallet_balance + other_unrealized_pnl + unrealized_pnl(
        side=side, value=quantity * mark_price, cost=quantity * entry_price)
    # Closing a unit at the fill instead of holding it at the mark: its P&L between the two, less the fee.
    margin_change_per_unit = unrealized_pnl(side=side, value=fill_price, cost=mark_price) - fee_rate * fill_price

    def balances_after(close: Decimal) -> tuple[Decimal, Decimal]:
        remaining_notional = (quantity - close) * mark_price
        remaining_maintenance = maintenance_margin(
            notional=remaining_notional, tier=tier_for(notional=remaining_notional, tiers=tiers)
        )
        return (
            other_maintenance_margin + remaining_maintenance,
            margin_balance_now + close * margin_change_per_unit,
        )

    def plan(close: Decimal) -> PartialLiquidation:
        maintenance, balance = balances_after(close)
        return PartialLiquidation(
            close_quantity=close,
            remaining_quantity=quantity - close,
            margin_ratio_after=margin_ratio(maintenance_margin=maintenance, margin_balance=balance),
        )

    def restores(close: Decimal) -> bool:
        maintenance, balance = balances_after(close)
        return balance > maintenance

    if restores(ZERO):
        return plan(ZERO)
    current_tier = tier_for(notional=quantity * mark_price, tiers=tiers)
    for tier in reversed(tiers[: current_tier.number]):
        slope = margin_change_per_unit + mark_price * tier.maintenance_rate
        if slope <= ZERO:
            break  # lower tiers only flatten the slope further: no close restores the ratio
        segment_end = quantity - tier.notional_floor / mark_price
        intercept = (
            margin_balance_now - other_maintenance_margin
            - maintenance_margin(notional=quantity * mark_price, tier=tier)
        )
        root = -intercept / slope
        if root > segment_end:
            continue
        close = max(root, ZERO)
        close = (close / lot_size).to_integral_value(rounding=ROUND_CEILING) * lot_size
        if not restores(close):
            close += lot_size  # the root sat exactly on the grid, where the ratio is exactly 100%
        if close < quantity and restores(close):
            return plan(close)
        break
    return plan(quantity)


@dataclass(frozen=True)
class LiquidationSettlement:
    """Cash effects of closing (part of) a position in liquidation.

    shortfall: loss beyond the collateral, which happens when the fill is past the bankruptcy
    price; the insurance fund covers it as far as its balance allows and the rest is
    `uncovered_shortfall`, the amount ADL must recover from counterparties.
    """

    realized_pnl: Decimal
    fee_to_fund: Decimal
    shortfall: Decimal
    drawn_from_fund: Decimal
    uncovered_shortfall: Decimal
    collateral_after: Decimal
    fund_balance_after: Decimal


def settle_liquidation(
    *,
    side: PositionSide,
    close_quantity: Decimal,
    entry_price: Decimal,
    fill_price: Decimal,
    collateral: Decimal,
    fee_rate: Decimal,
    fund_balance: Decimal,
) -> LiquidationSettlement:
    """Book a liquidation close: PnL to the collateral, the fee to the fund, any shortfall from the fund.

    `collateral` is what backs the position: its isolated margin, or the cross wallet balance. The
    fee (fee_rate × closed notional) is taken only from what the collateral still holds after the
    loss, so a trader never pays beyond the collateral: a close past the bankruptcy price pays no
    fee and the fund absorbs the deficit instead.
    """
    realized = unrealized_pnl(side=side, value=close_quantity * fill_price, cost=close_quantity * entry_price)
    available = collateral + realized
    fee = fee_rate * close_quantity * fill_price
    fee_to_fund = min(fee, max(available, ZERO))
    shortfall = max(-available, ZERO)
    drawn = min(shortfall, max(fund_balance, ZERO))
    return LiquidationSettlement(
        realized_pnl=realized,
        fee_to_fund=fee_to_fund,
        shortfall=shortfall,
        drawn_from_fund=drawn,
        uncovered_shortfall=shortfall - drawn,
        collateral_after=max(available, ZERO) - fee_to_fund,
        fund_balance_after=fund_balance + fee_to_fund - drawn,
    )


def leverage_pnl(
    *,
    unrealized_pnl: np.ndarray,
    wallet_balance: np.ndarray,
    maintenance_margin: np.ndarray,
    wallet_floor: float = ADL_WALLET_FLOOR,
) -> np.ndarray:
    """Binance's ADL ranking score, "LeveragePnl" = PnL percent × margin ratio, where
    PnL percent = max(0, unrealized PnL) / max(1, wallet balance) and margin ratio =
    maintenance margin / (wallet balance + unrealized PnL), or 0 when that balance is not positive.

    Rows are the positions on one side of a symbol. For an isolated position the wallet balance is
    its margin and the maintenance margin its own; for a cross position both are the account's.
    Only profit ranks: every losing or flat position scores 0 and sits at the back of the queue.
    (The older BitMEX-style score, PnL% × effective leverage for winners and PnL% / effective
    leverage for losers, also orders losers; Binance's published formula does not.)
    """
    pnl_percent = np.maximum(unrealized_pnl, 0.0) / np.maximum(wallet_balance, wallet_floor)
    balance = wallet_balance + unrealized_pnl
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(balance > 0, maintenance_margin / balance, 0.0)
    return pnl_percent * ratio


def adl_queue(scores: np.ndarray) -> np.ndarray:
    """Row indices in deleveraging order: highest score first, ties in row order."""
    return np.argsort(-scores, kind="stable")


def adl_quantiles(scores: np.ndarray, *, buckets: int = ADL_QUANTILE_BUCKETS) -> np.ndarray:
    """Bucket of each score's rank among its side: 0 (last to be deleveraged) to buckets − 1 (first).

    quantile = ⌊buckets × rank / count⌋ with rank the number of strictly lower scores, so equal
    scores share a bucket and the highest score lands in the top bucket once there are at least
    `buckets` positions.
    """
    ranks = np.searchsorted(np.sort(scores), scores, side="left")
    return (buckets * ranks // max(scores.size, 1)).astype(np.int8)
