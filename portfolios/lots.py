"""Cost-basis lots of one position (spec §3 "Long & Short Positions" and "Position Features":
long and short, flipping, partial close, dollar-cost averaging, cost basis FIFO / LIFO / average;
spec §12 "Tax Reporting": realized gains, the cost basis method applied, short- vs long-term).

Plain Decimal functions and frozen dataclasses: no Django, no clock, no settings, no rounding.
The position service loads a position's open lots, calls ``apply_fill`` once per fill, rounds
the amounts it stores once through ``haunt.money`` and persists the lots it gets back.

A position is a side (long or short, ``None`` when flat) and its open lots. A ``Lot`` is one
opening fill's remaining quantity, its entry price per unit, when it opened, and the part of the
opening fill's fee still attached to that remaining quantity (``open_fee``).

What a fill does (``apply_fill``):

- A buy on a long or flat position, or a sell on a short or flat one, opens one new lot (DCA).
- A fill against the position closes lots in the order the cost basis method picks. A fill larger
  than the position closes every lot and opens a lot on the other side with the remainder, at the
  fill price (a flip: close, then open, in one fill).
- At most one lot opens per fill, so the caller names it up front: ``new_lot_id`` (the trade id
  is a natural choice). It is used only when a lot opens.

Which lots close first (``CostBasisMethod``):

- ``fifo``: oldest first. ``lifo``: newest first. Lots opened at the same instant keep the order
  the caller passed them in.
- ``hifo``: for a long, the highest cost per unit first (entry price plus the opening fee per
  unit), which realizes the smallest gain or the largest loss. A short mirrors that: the lowest
  proceeds per unit first (short-sale price less the opening fee per unit), which again realizes
  the smallest gain. Ties close oldest first.
- ``specific``: the fill's ``lot_selection`` names the lots and the quantity to close from each;
  it must sum exactly to the quantity this fill closes (the whole position on a flip). A
  selection with any other method is refused rather than ignored. ``selection_preferring``
  builds one from the lots an order names, topped up in the portfolio method's order.
- ``average``: every lot is valued at the position's weighted average price. On each fill the
  lots are restated to the average price and to the average opening fee per unit, but each keeps
  its own quantity and date, and disposals take lots oldest first for their dates: the IRS rule
  for average basis ("the shares sold are the shares acquired first", Publication 550). Because
  the restatement happens on every fill, a position whose method changed to average is valued
  correctly from its next fill.

Profit and loss (``Disposal``), with m the contract multiplier:

- Gross realized P&L: long ``(close − open) × q × m``, short ``(open − close) × q × m``. Fees are
  not in it; the service posts the fill's fee to the ledger separately.
- Fee shares: ``open_fee`` is the disposed part of the lot's opening fee, ``close_fee`` the part
  of the closing fill's fee. On a flip the fill's fee splits between the closing and the opening
  quantity pro rata. ``net_realized_pnl`` = gross − open_fee − close_fee.
- Tax amounts (Form 8949 style): commissions are in the basis. Long: proceeds =
  ``close × q × m − close_fee``, cost basis = ``open × q × m + open_fee``. Short: proceeds =
  ``open × q × m − open_fee`` (the short sale), cost basis = ``close × q × m + close_fee`` (the
  cover). Proceeds − cost basis equals the net realized P&L either way.
- The P&L itself is the account core's (``portfolios.accounting.margin.unrealized_pnl``, which a
  close realizes); unrealized P&L of open positions is the account's too.

Holding period:

- ``holding_seconds`` is the whole seconds from the lot's ``opened_at`` to the fill.
- Long-term means held more than one year (IRS Publication 550, "Holding Period": counting
  starts the day after acquisition and includes the day of disposal), so a lot is long-term when
  sold on a date after the first anniversary of its acquisition date. Bought 2025-03-15: sold
  2026-03-15 is short-term, sold 2026-03-16 is long-term. The anniversary of 29 February is
  taken as 28 February, so a lot bought 2024-02-29 is long-term from 2025-03-01. Dates are read
  in the time zone the datetimes carry (the service passes UTC).
- A short is always short-term: the gain or loss on a short sale takes the holding period of the
  property delivered to close it (Publication 550, "Short Sales"), and here that is bought at
  the cover.

Wash sales (``wash_sales``) flag the loss disposals of one instrument that are washed by
openings on the same side within 30 days before or after the sale (Publication 550, "Wash
Sales"; for shorts, "another short sale" within the window). The tax report adds each
disallowed loss to its replacement lots' basis; this module only finds them.

Exactness: sums, differences and products of the inputs are exact. Only the average price, the
average opening fee per unit and pro-rata fee shares divide, at the default 28 significant
digits; every split gives its last part the remainder, so the parts of a fee always add up to
the fee.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from haunt.errors import DomainError
from haunt.market.terms import PositionSide, Side
from portfolios.accounting.margin import unrealized_pnl

ZERO = Decimal(0)
ONE = Decimal(1)
ONE_SECOND = timedelta(seconds=1)
# Publication 550: a purchase within 30 days before or after the sale washes the loss.
WASH_SALE_WINDOW = timedelta(days=30)


class CostBasisMethod(StrEnum):
    FIFO = "fifo"
    LIFO = "lifo"
    AVERAGE = "average"
    HIFO = "hifo"
    SPECIFIC = "specific"


class PositionChange(StrEnum):
    OPENED = "opened"
    INCREASED = "increased"
    REDUCED = "reduced"
    CLOSED = "closed"
    FLIPPED = "flipped"


class InvalidLotOperation(DomainError, ValueError):
    """A fill, lot or lot selection that cannot be applied; ``field`` names the culprit."""

    code = "invalid_lot_operation"


def _decimal(value: Decimal | int, *, name: str) -> Decimal:
    # Floats would carry binary error into money, so only Decimal and exact ints are accepted.
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")
    value = Decimal(value)
    if not value.is_finite():
        raise InvalidLotOperation(f"{name} must be a finite number, got {value}", field=name)
    return value


def _positive(value: Decimal | int, *, name: str) -> Decimal:
    value = _decimal(value, name=name)
    if value <= 0:
        raise InvalidLotOperation(f"{name} must be greater than zero, got {value}", field=name)
    return value


def _not_negative(value: Decimal | int, *, name: str) -> Decimal:
    value = _decimal(value, name=name)
    if value < 0:
        raise InvalidLotOperation(f"{name} must not be negative, got {value}", field=name)
    return value


def _lot_id(value: str, *, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidLotOperation(f"{name} must be a non-empty string, got {value!r}", field=name)
    return value


@dataclass(frozen=True, slots=True)
class Lot:
    """The open remainder of one opening fill. ``open_fee`` is the money share of the opening
    fee that belongs to ``quantity``: it shrinks pro rata as the lot is closed."""

    lot_id: str
    quantity: Decimal
    price: Decimal
    opened_at: datetime
    open_fee: Decimal = ZERO

    def __post_init__(self) -> None:
        object.__setattr__(self, "lot_id", _lot_id(self.lot_id, name="lot_id"))
        object.__setattr__(self, "quantity", _positive(self.quantity, name="quantity"))
        object.__setattr__(self, "price", _positive(self.price, name="price"))
        object.__setattr__(self, "open_fee", _not_negative(self.open_fee, name="open_fee"))


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution against the position. ``fee`` is the fill's whole fee in money.
    ``lot_selection`` is ``((lot_id, quantity), ...)``, only with the specific method.

    ``price`` may be zero for a fill that only closes (an option expiring worthless, or exercised
    into its underlying); a lot never opens at zero (Lot refuses it)."""

    side: Side
    quantity: Decimal
    price: Decimal
    executed_at: datetime
    fee: Decimal = ZERO
    lot_selection: tuple[tuple[str, Decimal], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "side", Side(self.side))
        object.__setattr__(self, "quantity", _positive(self.quantity, name="quantity"))
        object.__setattr__(self, "price", _not_negative(self.price, name="price"))
        object.__setattr__(self, "fee", _not_negative(self.fee, name="fee"))
        selection = tuple(
            (_lot_id(lot_id, name="lot_selection"), _positive(quantity, name="lot_selection"))
            for lot_id, quantity in self.lot_selection
        )
        named = [lot_id for lot_id, _ in selection]
        if len(set(named)) != len(named):
            raise InvalidLotOperation(
                f"lot_selection names a lot more than once: {named}", field="lot_selection"
            )
        object.__setattr__(self, "lot_selection", selection)


@dataclass(frozen=True, slots=True)
class Disposal:
    """One lot, wholly or partly, closed by one fill. ``realized_pnl`` is gross of fees;
    ``proceeds`` and ``cost_basis`` are the tax amounts, fees included."""

    lot_id: str
    side: PositionSide
    quantity: Decimal
    open_price: Decimal
    close_price: Decimal
    opened_at: datetime
    closed_at: datetime
    realized_pnl: Decimal
    open_fee: Decimal
    close_fee: Decimal
    proceeds: Decimal
    cost_basis: Decimal
    holding_seconds: int
    is_long_term: bool

    @property
    def net_realized_pnl(self) -> Decimal:
        return self.realized_pnl - self.open_fee - self.close_fee


@dataclass(frozen=True, slots=True)
class FillOutcome:
    """The position after one fill. ``lots`` are in acquisition order (oldest first);
    ``disposals`` in the order the lots were closed; ``opened_lot`` is also in ``lots``."""

    change: PositionChange
    position_side: PositionSide | None
    lots: tuple[Lot, ...]
    disposals: tuple[Disposal, ...]
    opened_lot: Lot | None
    realized_pnl: Decimal

    @property
    def net_realized_pnl(self) -> Decimal:
        return sum((disposal.net_realized_pnl for disposal in self.disposals), ZERO)

    @property
    def quantity(self) -> Decimal:
        return sum((lot.quantity for lot in self.lots), ZERO)


def apply_fill(
    *,
    side_of_position: PositionSide | None,
    lots: Sequence[Lot],
    fill: Fill,
    method: CostBasisMethod,
    new_lot_id: str,
    contract_multiplier: Decimal = ONE,
) -> FillOutcome:
    """Apply one fill to a position's open lots (see the module docstring for every rule).

    Requires ``side_of_position`` to be ``None`` exactly when ``lots`` is empty, distinct lot
    ids, and a fill that does not execute before a lot it closes was opened. Raises
    ``InvalidLotOperation`` otherwise, and for a lot selection that does not fit.
    """
    method = CostBasisMethod(method)
    multiplier = _positive(contract_multiplier, name="contract_multiplier")
    side_of_position, held = _position(side_of_position, lots)
    fill_direction = PositionSide.LONG if fill.side is Side.BUY else PositionSide.SHORT
    if method is CostBasisMethod.AVERAGE:
        held = _restated_to_average(held)

    if side_of_position is None or side_of_position is fill_direction:
        if fill.lot_selection:
            raise InvalidLotOperation(
                "lot_selection names lots to close, but this fill closes nothing", field="lot_selection"
            )
        opened = Lot(
            lot_id=_lot_id(new_lot_id, name="new_lot_id"),
            quantity=fill.quantity,
            price=fill.price,
            opened_at=fill.executed_at,
            open_fee=fill.fee,
        )
        after = (*held, opened)
        if method is CostBasisMethod.AVERAGE:
            after = _restated_to_average(after)
            opened = after[-1]
        return FillOutcome(
            change=PositionChange.OPENED if side_of_position is None else PositionChange.INCREASED,
            position_side=fill_direction,
            lots=after,
            disposals=(),
            opened_lot=opened,
            realized_pnl=ZERO,
        )

    held_quantity = sum((lot.quantity for lot in held), ZERO)
    closing_quantity = min(fill.quantity, held_quantity)
    opening_quantity = fill.quantity - closing_quantity
    closing_fee = fill.fee if opening_quantity == 0 else fill.fee * closing_quantity / fill.quantity
    takes = _lots_to_close(held, closing_quantity=closing_quantity, fill=fill, method=method,
                           side=side_of_position, multiplier=multiplier)

    disposals = []
    left_by_id = {}
    for (lot, quantity), close_fee in zip(takes, _pro_rata(closing_fee, [q for _, q in takes]), strict=True):
        open_fee = lot.open_fee if quantity == lot.quantity else lot.open_fee * quantity / lot.quantity
        disposals.append(_dispose(lot=lot, quantity=quantity, open_fee=open_fee, close_fee=close_fee,
                                  fill=fill, side=side_of_position, multiplier=multiplier))
        if quantity < lot.quantity:
            left_by_id[lot.lot_id] = replace(
                lot, quantity=lot.quantity - quantity, open_fee=lot.open_fee - open_fee
            )
    fully_closed = {lot.lot_id for lot, quantity in takes if quantity == lot.quantity}
    remaining = tuple(left_by_id.get(lot.lot_id, lot) for lot in held if lot.lot_id not in fully_closed)

    if opening_quantity > 0:
        opened = Lot(
            lot_id=_lot_id(new_lot_id, name="new_lot_id"),
            quantity=opening_quantity,
            price=fill.price,
            opened_at=fill.executed_at,
            open_fee=fill.fee - closing_fee,
        )
        change, side_after, lots_after = PositionChange.FLIPPED, fill_direction, (opened,)
    else:
        opened = None
        if remaining:
            change, side_after, lots_after = PositionChange.REDUCED, side_of_position, remaining
        else:
            change, side_after, lots_after = PositionChange.CLOSED, None, ()
    return FillOutcome(
        change=change,
        position_side=side_after,
        lots=lots_after,
        disposals=tuple(disposals),
        opened_lot=opened,
        realized_pnl=sum((disposal.realized_pnl for disposal in disposals), ZERO),
    )


def average_entry_price(lots: Sequence[Lot]) -> Decimal | None:
    """Quantity-weighted entry price of the lots, fees excluded; ``None`` when there are none."""
    if not lots:
        return None
    return sum((lot.price * lot.quantity for lot in lots), ZERO) / sum((lot.quantity for lot in lots), ZERO)


def held_more_than_one_year(*, acquired_at: datetime, disposed_at: datetime) -> bool:
    """The long-term test: disposed on a date after the first anniversary of the acquisition date."""
    if acquired_at.tzinfo is not None and disposed_at.tzinfo is not None:
        disposed_at = disposed_at.astimezone(acquired_at.tzinfo)
    return disposed_at.date() > _first_anniversary(acquired_at.date())


@dataclass(frozen=True, slots=True)
class LotOpening:
    """A lot as it opened (its original quantity), the candidate replacement for a wash sale."""

    lot_id: str
    side: PositionSide
    quantity: Decimal
    opened_at: datetime


@dataclass(frozen=True, slots=True)
class WashSale:
    """The washed part of one loss disposal. ``disallowed_loss`` is positive, net of fees;
    ``replacements`` are ``((lot_id, quantity), ...)`` whose basis absorbs it."""

    washed_quantity: Decimal
    disallowed_loss: Decimal
    replacements: tuple[tuple[str, Decimal], ...]


def wash_sales(
    *, disposals: Sequence[Disposal], openings: Sequence[LotOpening]
) -> tuple[WashSale | None, ...]:
    """For each disposal of one instrument, its wash sale, or ``None`` when it is not washed.

    A disposal at a net loss is washed, share for share, by openings on the same side whose date
    is within 30 days of the sale date (Publication 550). Losses are matched in sale order, and
    replacements in acquisition order; a replacement quantity washes at most one loss. Neither
    the disposed lot itself nor the quantity of a lot sold in the same sale counts as a
    replacement: those shares leave with the loss, they do not replace it.
    """
    used: dict[str, Decimal] = defaultdict(lambda: ZERO)
    sold_in_sale: dict[tuple[datetime, str], Decimal] = defaultdict(lambda: ZERO)
    for disposal in disposals:
        sold_in_sale[disposal.closed_at, disposal.lot_id] += disposal.quantity
    by_acquisition = sorted(openings, key=lambda opening: opening.opened_at)
    found: list[WashSale | None] = [None] * len(disposals)
    for index in sorted(range(len(disposals)), key=lambda i: disposals[i].closed_at):
        disposal = disposals[index]
        loss = -disposal.net_realized_pnl
        if loss <= 0:
            continue
        sale_date = disposal.closed_at.date()
        wanted = disposal.quantity
        replacements = []
        for opening in by_acquisition:
            if wanted == 0:
                break
            if opening.side != disposal.side or opening.lot_id == disposal.lot_id:
                continue
            if abs(opening.opened_at.date() - sale_date) > WASH_SALE_WINDOW:
                continue
            free = opening.quantity - used[opening.lot_id] - sold_in_sale[disposal.closed_at, opening.lot_id]
            if free <= 0:
                continue
            taken = min(free, wanted)
            used[opening.lot_id] += taken
            wanted -= taken
            replacements.append((opening.lot_id, taken))
        if replacements:
            washed = disposal.quantity - wanted
            disallowed = loss if wanted == 0 else loss * washed / disposal.quantity
            found[index] = WashSale(
                washed_quantity=washed, disallowed_loss=disallowed, replacements=tuple(replacements)
            )
    return tuple(found)


def _position(
    side_of_position: PositionSide | str | None, lots: Sequence[Lot]
) -> tuple[PositionSide | None, tuple[Lot, ...]]:
    """The validated side and the lots in acquisition order (a stable sort keeps ties as given)."""
    if (side_of_position is None) != (not lots):
        raise InvalidLotOperation(
            f"a position with side {side_of_position} cannot hold {len(lots)} lot(s): "
            "the side is None exactly when there are no lots",
            field="lots",
        )
    ids = [lot.lot_id for lot in lots]
    if len(set(ids)) != len(ids):
        raise InvalidLotOperation(f"lot ids must be distinct, got {ids}", field="lots")
    side = None if side_of_position is None else PositionSide(side_of_position)
    return side, tuple(sorted(lots, key=lambda lot: lot.opened_at))


def _lots_to_close(
    held: tuple[Lot, ...],
    *,
    closing_quantity: Decimal,
    fill: Fill,
    method: CostBasisMethod,
    side: PositionSide,
    multiplier: Decimal,
) -> list[tuple[Lot, Decimal]]:
    for lot in held:
        if fill.executed_at < lot.opened_at:
            raise InvalidLotOperation(
                f"the fill at {fill.executed_at.isoformat()} precedes lot {lot.lot_id!r} "
                f"opened at {lot.opened_at.isoformat()}",
                field="executed_at",
            )
    if method is CostBasisMethod.SPECIFIC:
        return _selected_lots(held, closing_quantity=closing_quantity, selection=fill.lot_selection)
    if fill.lot_selection:
        raise InvalidLotOperation(
            f"lot_selection applies only to the specific method, not {method.value}", field="lot_selection"
        )
    takes = []
    wanted = closing_quantity
    for lot in _closing_order(held, method=method, side=side, multiplier=multiplier):
        if wanted == 0:
            break
        taken = min(lot.quantity, wanted)
        takes.append((lot, taken))
        wanted -= taken
    return takes


def _closing_order(
    held: Sequence[Lot], *, method: CostBasisMethod, side: PositionSide, multiplier: Decimal
) -> Sequence[Lot]:
    """The lots (in acquisition order) in the order the method closes them."""
    if method is CostBasisMethod.LIFO:
        return held[::-1]
    if method is CostBasisMethod.HIFO:
        return sorted(held, key=lambda lot: _hifo_rank(lot, side=side, multiplier=multiplier))
    return held


def selection_preferring(
    *,
    side_of_position: PositionSide,
    lots: Sequence[Lot],
    lot_ids: Sequence[str],
    closing_quantity: Decimal,
    method: CostBasisMethod,
    contract_multiplier: Decimal = ONE,
) -> tuple[tuple[str, Decimal], ...]:
    """The ``lot_selection`` of a closing fill whose order named lots (specific identification):
    the named lots that are still open, in the order named, then, if they hold less than the
    fill closes, the other lots in the order ``method`` closes them. Pass it to ``apply_fill``
    with the specific method. ``average`` cannot identify lots, so it is refused."""
    method = CostBasisMethod(method)
    if method in (CostBasisMethod.AVERAGE, CostBasisMethod.SPECIFIC):
        raise InvalidLotOperation(f"lots cannot be chosen under the {method.value} method", field="lot_ids")
    side, held = _position(side_of_position, lots)
    by_id = {lot.lot_id: lot for lot in held}
    named = [by_id[lot_id] for lot_id in dict.fromkeys(lot_ids) if lot_id in by_id]
    others = [lot for lot in held if lot not in named]
    multiplier = _positive(contract_multiplier, name="contract_multiplier")
    selection = []
    wanted = closing_quantity
    for lot in [*named, *_closing_order(others, method=method, side=side, multiplier=multiplier)]:
        if wanted == 0:
            break
        taken = min(lot.quantity, wanted)
        selection.append((lot.lot_id, taken))
        wanted -= taken
    return tuple(selection)


def _hifo_rank(lot: Lot, *, side: PositionSide, multiplier: Decimal) -> Decimal:
    # Sorted ascending: a long puts the highest cost per unit first, a short the lowest proceeds.
    fee_per_unit_of_price = lot.open_fee / (lot.quantity * multiplier)
    if side is PositionSide.LONG:
        return -(lot.price + fee_per_unit_of_price)
    return lot.price - fee_per_unit_of_price


def _selected_lots(
    held: tuple[Lot, ...], *, closing_quantity: Decimal, selection: tuple[tuple[str, Decimal], ...]
) -> list[tuple[Lot, Decimal]]:
    if not selection:
        raise InvalidLotOperation(
            "the specific method needs a lot_selection naming the lots to close", field="lot_selection"
        )
    by_id = {lot.lot_id: lot for lot in held}
    takes = []
    for lot_id, quantity in selection:
        lot = by_id.get(lot_id)
        if lot is None:
            raise InvalidLotOperation(
                f"lot {lot_id!r} is not an open lot of this position", field="lot_selection"
            )
        if quantity > lot.quantity:
            raise InvalidLotOperation(
                f"lot {lot_id!r} holds {lot.quantity}, so {quantity} cannot be closed from it",
                field="lot_selection",
            )
        takes.append((lot, quantity))
    selected = sum((quantity for _, quantity in selection), ZERO)
    if selected != closing_quantity:
        raise InvalidLotOperation(
            f"lot_selection closes {selected} but this fill closes {closing_quantity}", field="lot_selection"
        )
    return takes


def _dispose(
    *, lot: Lot, quantity: Decimal, open_fee: Decimal, close_fee: Decimal, fill: Fill,
    side: PositionSide, multiplier: Decimal,
) -> Disposal:
    opening_value = lot.price * quantity * multiplier
    closing_value = fill.price * quantity * multiplier
    realized = unrealized_pnl(side=side, value=closing_value, cost=opening_value)
    if side is PositionSide.LONG:
        proceeds, cost_basis = closing_value - close_fee, opening_value + open_fee
        is_long_term = held_more_than_one_year(acquired_at=lot.opened_at, disposed_at=fill.executed_at)
    else:
        # The short sale is the sale and the cover is the purchase.
        proceeds, cost_basis = opening_value - open_fee, closing_value + close_fee
        is_long_term = False
    return Disposal(
        lot_id=lot.lot_id,
        side=side,
        quantity=quantity,
        open_price=lot.price,
        close_price=fill.price,
        opened_at=lot.opened_at,
        closed_at=fill.executed_at,
        realized_pnl=realized,
        open_fee=open_fee,
        close_fee=close_fee,
        proceeds=proceeds,
        cost_basis=cost_basis,
        holding_seconds=(fill.executed_at - lot.opened_at) // ONE_SECOND,
        is_long_term=is_long_term,
    )


def _pro_rata(amount: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """``amount`` split in proportion to ``weights``; the last part takes the remainder, so the
    parts sum to ``amount`` exactly."""
    if amount == 0:
        return [ZERO] * len(weights)
    total = sum(weights, ZERO)
    parts = [amount * weight / total for weight in weights[:-1]]
    return [*parts, amount - sum(parts, ZERO)]


def _restated_to_average(lots: tuple[Lot, ...]) -> tuple[Lot, ...]:
    """Every lot at the weighted average price and average opening fee per unit, keeping its
    quantity and date. Lots already uniform come back unchanged, so restating is idempotent."""
    if len(lots) < 2:
        return lots
    first = lots[0]
    same_price = all(lot.price == first.price for lot in lots)
    same_fee_per_unit = all(lot.open_fee * first.quantity == first.open_fee * lot.quantity for lot in lots)
    if same_price and same_fee_per_unit:
        return lots
    price = first.price if same_price else average_entry_price(lots)
    if same_fee_per_unit:
        fees = [lot.open_fee for lot in lots]
    else:
        fees = _pro_rata(sum((lot.open_fee for lot in lots), ZERO), [lot.quantity for lot in lots])
    return tuple(replace(lot, price=price, open_fee=fee) for lot, fee in zip(lots, fees, strict=True))


def _first_anniversary(acquired: date) -> date:
    try:
        return acquired.replace(year=acquired.year + 1)
    except ValueError:  # 29 February: the year is complete on 28 February of the next year
        return date(acquired.year + 1, 2, 28)
