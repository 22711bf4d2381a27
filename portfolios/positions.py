"""Position writes: applying fills to a position's lots.

`position_apply_fill` is called by the order services for every fill, inside the transaction
that holds the portfolio lock. Every position row written here is passed to the POSITION_SAVED
hooks (portfolios.hooks) right after its save.
"""
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal

from django.db import transaction

from haunt.errors import DomainError
from haunt.model_select import ModelSelect
from haunt.market import state
from haunt.money import quantize_money, quantize_price, quantize_quantity
from portfolios import events, hooks, lots
from portfolios.models import CostBasisMethod, LedgerEntry, LotDisposal, MarginMode, Portfolio, Position, PositionLot
from portfolios.risk_settings import leverage_default
from portfolios.selectors import open_position_in, portfolio_open_positions
from portfolios.services import ledger_post
from portfolios.valuation import position_mark

# The lots a fill may close, oldest first: read on every fill, so compiled once (haunt.model_select).
_OPEN_LOTS = ModelSelect(PositionLot, where=("position", "quantity__gt"), order_by=("opened_at", "id"))


def position_apply_fill(*, portfolio: Portfolio, trade, now: datetime) -> tuple[Position, Decimal, str]:
    """Apply one trade to the portfolio's position in its instrument under the portfolio's cost
    basis method. Returns (the position the trade leaves open or closes, gross realized P&L, change).
    A trade dated before the newest open lot it meets has its `executed_at` moved up to that lot's.

    Call inside the transaction holding the portfolio row lock.
    """
    assert transaction.get_connection().in_atomic_block, "position_apply_fill needs the caller's transaction"
    instrument = trade.instrument
    # The portfolio lock (held by the caller) serialises every change to its positions, so the open
    # positions read once under it are current.
    open_positions = portfolio_open_positions(portfolio)
    position = open_position_in(portfolio, instrument.pk)
    rows = {str(row.pk): row for row in _OPEN_LOTS.fetch(position.pk, 0)} if position else {}
    now = _fill_time(trade=trade, rows=rows, now=now)
    outcome = _lots_outcome(portfolio=portfolio, trade=trade, position=position, rows=rows, now=now)
    _disposals_record(trade=trade, rows=rows, outcome=outcome)
    _open_lots_update(rows=rows, outcome=outcome)

    change = lots.PositionChange(outcome.change)
    realized = quantize_money(outcome.realized_pnl)
    closing_fee = sum((disposal.close_fee for disposal in outcome.disposals), Decimal(0))
    if position is not None:
        _position_realize(position=position, realized=realized, closing_fee=closing_fee, change=change, now=now,
                          open_positions=open_positions)
    if change in (lots.PositionChange.OPENED, lots.PositionChange.FLIPPED):
        position = _position_new(portfolio=portfolio, trade=trade, side=outcome.position_side.value, now=now)
        open_positions.append(position)
    elif trade.order.leverage is not None and change != lots.PositionChange.CLOSED:
        position.leverage = trade.order.leverage  # checked against its tier when the order was placed
    open_rows = [row for row in rows.values() if row.quantity > 0]
    if outcome.opened_lot is not None:
        open_rows.append(_opened_lot_record(position=position, trade=trade, opened=outcome.opened_lot, now=now))
        position.fees_paid = quantize_money(position.fees_paid + (trade.fee - closing_fee))
    if change != lots.PositionChange.CLOSED:
        _position_holdings_save(position=position, outcome=outcome, change=change, open_rows=open_rows,
                                contract_multiplier=instrument.contract_multiplier)
    return position, realized, change.value


def _fill_time(*, trade, rows: dict[str, PositionLot], now: datetime) -> datetime:
    """When the fill happens: a caller's clock (an engine tick that started earlier) may trail a
    fill another process made since, so the trade is dated no earlier than the newest lot it may
    close (and its `executed_at` moved up to it)."""
    newest_lot = max((row.opened_at for row in rows.values()), default=None)
    if newest_lot is not None and newest_lot > now:
        now = trade.executed_at = newest_lot
    return now


def _lots_outcome(*, portfolio: Portfolio, trade, position: Position | None, rows: dict[str, PositionLot],
                  now: datetime) -> lots.FillOutcome:
    """The pure lot arithmetic of the fill (portfolios.lots.apply_fill) over the open lots."""
    selection = _named_lots_selection(portfolio=portfolio, trade=trade, position=position, rows=rows)
    return lots.apply_fill(
        side_of_position=lots.PositionSide(position.side) if position else None,
        lots=[lots.Lot(lot_id=key, quantity=row.quantity, price=row.price, opened_at=row.opened_at,
                       open_fee=row.open_fee) for key, row in rows.items()],
        fill=lots.Fill(side=trade.side, quantity=trade.quantity, price=trade.price, executed_at=now, fee=trade.fee,
                       lot_selection=selection),
        method=lots.CostBasisMethod.SPECIFIC if selection else portfolio.cost_basis_method,
        new_lot_id=f"trade:{trade.pk}",
        contract_multiplier=trade.instrument.contract_multiplier,
    )


def _disposals_record(*, trade, rows: dict[str, PositionLot], outcome: lots.FillOutcome) -> None:
    """One LotDisposal for each part of a lot the fill closed."""
    for disposal in outcome.disposals:
        LotDisposal.objects.create(
            lot=rows[disposal.lot_id], trade=trade, quantity=disposal.quantity, open_price=disposal.open_price,
            close_price=disposal.close_price, opened_at=disposal.opened_at, closed_at=disposal.closed_at,
            realized_pnl=quantize_money(disposal.realized_pnl), open_fee=quantize_money(disposal.open_fee),
            close_fee=quantize_money(disposal.close_fee), is_long_term=disposal.is_long_term,
        )


def _open_lots_update(*, rows: dict[str, PositionLot], outcome: lots.FillOutcome) -> None:
    """Save what the fill left of each lot that was open (nothing, for a lot it closed)."""
    remaining = {lot.lot_id: lot for lot in outcome.lots}
    for key, row in rows.items():
        lot = remaining.get(key)
        row.quantity = lot.quantity if lot else Decimal(0)
        row.price = quantize_price(lot.price) if lot else row.price
        row.open_fee = quantize_money(lot.open_fee) if lot else Decimal(0)
        row.save(update_fields=["quantity", "price", "open_fee"])


def _position_realize(*, position: Position, realized: Decimal, closing_fee: Decimal, change: lots.PositionChange,
                      now: datetime, open_positions: list[Position]) -> None:
    """Add the fill's realized P&L and closing fees to the position it met; a close or a flip
    closes that position here (the flip's new side is a new position)."""
    position.realized_pnl = quantize_money(position.realized_pnl + realized)
    position.fees_paid = quantize_money(position.fees_paid + closing_fee)
    if change in (lots.PositionChange.CLOSED, lots.PositionChange.FLIPPED):
        position.status = Position.Status.CLOSED
        position.quantity = Decimal(0)
        position.closed_at = now
        _position_record_closed_size(position)
        position.save(update_fields=["realized_pnl", "fees_paid", "status", "quantity", "closed_at", "closed_quantity",
                                     "average_entry_price", "average_exit_price", "updated_at"])
        hooks.position_saved(position)
        open_positions.remove(position)
        _keep_open_lots(position, [])
        events.position_changed(position, "closed" if change == lots.PositionChange.CLOSED else "flipped")


def _position_new(*, portfolio: Portfolio, trade, side: str, now: datetime) -> Position:
    """The position a fill opens, unsaved: inserted once its quantity and cost are known
    (_position_holdings_save; its lot refers to its preset id)."""
    instrument = trade.instrument
    return Position(
        portfolio=portfolio, instrument=instrument, side=side, opened_at=now,
        leverage=trade.order.leverage or leverage_default(defaults=portfolio.default_leverage,
                                                          asset_class=instrument.asset_class),
        margin_mode=trade.order.margin_mode or MarginMode.CROSS,
    )


def _opened_lot_record(*, position: Position, trade, opened: lots.Lot, now: datetime) -> PositionLot:
    return PositionLot.objects.create(
        position=position, trade=trade, quantity=opened.quantity, original_quantity=opened.quantity,
        price=quantize_price(opened.price), open_fee=quantize_money(opened.open_fee), opened_at=now)


def _position_holdings_save(*, position: Position, outcome: lots.FillOutcome, change: lots.PositionChange,
                            open_rows: list[PositionLot], contract_multiplier: Decimal) -> None:
    """Save the quantity, average entry and cost basis of the position the fill leaves open."""
    position.quantity = quantize_quantity(sum((lot.quantity for lot in outcome.lots), Decimal(0)))
    position.average_entry_price = quantize_price(lots.average_entry_price(outcome.lots))
    position.cost_basis = quantize_money(
        sum((lot.price * lot.quantity for lot in outcome.lots), Decimal(0)) * contract_multiplier)
    position.save()
    hooks.position_saved(position)
    _keep_open_lots(position, open_rows)
    events.position_changed(position, change.value)


def _position_record_closed_size(position: Position) -> None:
    """Keep a closing position's record, from the disposals of its lots: the size its fills closed,
    the average entry of that size and the average exit price (spec §14 History). Unsaved."""
    disposals = list(LotDisposal.objects.filter(lot__position=position).values_list(
        "quantity", "open_price", "close_price"))
    size = sum((quantity for quantity, _, _ in disposals), Decimal(0))
    if not size:
        return
    position.closed_quantity = quantize_quantity(size)
    position.average_entry_price = quantize_price(
        sum((quantity * price for quantity, price, _ in disposals), Decimal(0)) / size)
    position.average_exit_price = quantize_price(
        sum((quantity * price for quantity, _, price in disposals), Decimal(0)) / size)


def _keep_open_lots(position: Position, open_rows: list[PositionLot]) -> None:
    """Remember the position's open lots as its prefetched `lots`, so its event (and anything else
    reading position.lots.all() in this transaction) needs no second query."""
    prefetched = PositionLot.objects.filter(position=position)
    prefetched._result_cache = open_rows  # what prefetch_related stores: filtering it again queries afresh
    prefetched._prefetch_done = True
    position._prefetched_objects_cache = {"lots": prefetched}


def lot_ids_check(*, portfolio: Portfolio, instrument, side: str, lot_ids) -> list[int]:
    """The lots a new order names (specific identification), checked: open lots of the portfolio's
    open position in the instrument, which the order's side closes. Average cost values every lot
    alike, so it cannot name lots."""
    if not lot_ids:
        return []
    if portfolio.cost_basis_method == CostBasisMethod.AVERAGE:
        raise DomainError("Average cost cannot close chosen lots; use fifo, lifo or hifo.",
                          code="lots_not_selectable", field="lot_ids")
    position = Position.objects.filter(portfolio=portfolio, instrument=instrument, status=Position.Status.OPEN).first()
    if position is None or (position.side == Position.Direction.LONG) != (side == "sell"):
        raise DomainError("lot_ids name lots to close, but this order closes no position.",
                          code="nothing_to_close", field="lot_ids")
    open_ids = set(position.lots.filter(quantity__gt=0).values_list("pk", flat=True))
    unknown = [lot_id for lot_id in lot_ids if lot_id not in open_ids]
    if unknown:
        raise DomainError(f"Not open lots of this position: {unknown}.", code="unknown_lot", field="lot_ids")
    return list(lot_ids)


def _named_lots_selection(*, portfolio: Portfolio, trade, position: Position | None,
                          rows: dict[str, PositionLot]) -> tuple[tuple[str, Decimal], ...]:
    """The lot selection of a closing fill whose order named lots: those still open first, then the
    rest in the portfolio method's order (lots.selection_preferring). Empty, so the method applies
    as usual, when nothing was named, the fill closes nothing, or the portfolio has switched to
    average cost since the order was placed."""
    named = [str(lot_id) for lot_id in trade.order.lot_ids]
    method = portfolio.cost_basis_method
    if not named or position is None or method == CostBasisMethod.AVERAGE:
        return ()
    if (position.side == Position.Direction.LONG) != (trade.side == "sell"):
        return ()
    held = [lots.Lot(lot_id=key, quantity=row.quantity, price=row.price, opened_at=row.opened_at,
                     open_fee=row.open_fee) for key, row in rows.items()]
    held_quantity = sum((row.quantity for row in rows.values()), Decimal(0))
    return lots.selection_preferring(
        side_of_position=lots.PositionSide(position.side), lots=held, lot_ids=named,
        closing_quantity=min(trade.quantity, held_quantity), method=method,
        contract_multiplier=trade.instrument.contract_multiplier)


def position_exits_changed(*, position: Position, stop_loss, take_profit) -> None:
    """Record the stop-loss and take-profit prices the position's exit orders now work at."""
    position.stop_loss = stop_loss
    position.take_profit = take_profit
    position.save(update_fields=["stop_loss", "take_profit", "updated_at"])
    hooks.position_saved(position)
    events.position_changed(position, "modified")


def borrow_fees_charge_due(*, now: datetime) -> int:
    """Charge every open short its borrow fee for each UTC midnight it has been held over since it
    was last charged: quantity × mark × annual rate / 365 per day, rounded up to the money quantum
    (fees never undercharge). Idempotent: `borrow_accrued_until` records the last midnight charged.
    Returns how many positions were charged."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    charged = 0
    shorts = Position.objects.filter(status=Position.Status.OPEN, side=Position.Direction.SHORT,
                                     instrument__borrow_rate__gt=0).values_list("pk", "portfolio_id")
    for position_id, portfolio_id in shorts:
        with transaction.atomic():
            portfolio = Portfolio.objects.select_for_update().get(pk=portfolio_id)
            position = Position.objects.select_for_update(of=("self",)).select_related("instrument").get(pk=position_id)
            if position.status != Position.Status.OPEN:
                continue
            since = position.borrow_accrued_until or position.opened_at
            days = (today - since.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)).days
            if days <= 0:
                continue
            instrument = position.instrument
            mark = position_mark(position, state.quote_read(instrument.symbol))
            fee = (position.quantity * mark * instrument.contract_multiplier * instrument.borrow_rate * days
                   / 365).quantize(Decimal("0.00000001"), rounding=ROUND_CEILING)
            ledger_post(portfolio=portfolio, amount=-fee, kind=LedgerEntry.Kind.BORROW_FEE, reference=str(position.pk),
                        description=f"Borrow {instrument.symbol} {days} day(s) at {instrument.borrow_rate:%}")
            portfolio.save(update_fields=["cash", "updated_at"])
            position.borrow_fees_paid = quantize_money(position.borrow_fees_paid + fee)
            position.borrow_accrued_until = today
            position.save(update_fields=["borrow_fees_paid", "borrow_accrued_until", "updated_at"])
            hooks.position_saved(position)
            events.position_changed(position, "borrow_fee")
            events.portfolio_changed(portfolio)
            charged += 1
    return charged


def positions_wipe(*, portfolio: Portfolio, now: datetime) -> int:
    """Close every open position without trading it (a portfolio reset): no fill, no realized P&L;
    the rows stay as history. Call inside the transaction holding the portfolio lock."""
    assert transaction.get_connection().in_atomic_block, "positions_wipe needs the caller's transaction"
    wiped = 0
    for position in Position.objects.select_for_update(of=("self",)).select_related("instrument").filter(
            portfolio=portfolio, status=Position.Status.OPEN).order_by("pk"):
        PositionLot.objects.filter(position=position).update(quantity=Decimal(0))
        position.status = Position.Status.CLOSED
        position.quantity = Decimal(0)
        position.closed_at = now
        position.save(update_fields=["status", "quantity", "closed_at", "updated_at"])
        hooks.position_saved(position)
        events.position_changed(position, "wiped")
        wiped += 1
    portfolio.open_positions = []
    return wiped
