"""Order writes: placement with pre-trade checks, execution against the live book, fills into
positions and the ledger, cancellation, modification, triggers and expiry.

Every function runs in one transaction that locks the portfolio row first, then the order and
position rows it changes, so two requests (or the API and the engine) can never fill an order
twice or spend the same cash twice. Events go out on commit (orders.events).
"""
import dataclasses
import uuid
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from django.db import transaction
from django.utils import timezone

from haunt.errors import Conflict, DomainError
from haunt.market import state
from haunt.market.models import Instrument
from haunt.market.selectors import conversion_rate, instrument_calendar, tradable_instrument
from haunt.money import format_decimal, is_multiple_of, quantize_money, quantize_price
from orders import events, execution
from orders.market_view import instrument_spec, live_book, live_prices, on_demand_market_prepare
from orders.models import Order, OrderEvent, OrderRole, OrderStatus, OrderType, Side, TimeInForce, Trade
from orders import triggers
from portfolios.positions import lot_ids_check, position_apply_fill, position_exits_changed, positions_wipe
from portfolios.selectors import open_position_in, position_get_for_user
from portfolios.valuation import buying_power, buying_power_freed_by_closing, position_mark
from orders.risk import RiskCheckFailed, asset_class_checks_at_execution, order_leverage, pre_trade_checks
from orders.selectors import order_get_for_user
from portfolios.models import LedgerEntry, Portfolio, Position
from portfolios.selectors import portfolio_get
from portfolios.services import (
    Posting, ledger_post_all, portfolio_lock_for_user, portfolio_reset, portfolio_settle_fill,
)

TRIGGERED_TYPES = (OrderType.STOP, OrderType.TAKE_PROFIT, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP)
NOTHING_TO_REDUCE = "Reduce-only: no open position left to reduce."


class MarketClosed(DomainError):
    code = "market_closed"


@dataclasses.dataclass(frozen=True)
class OrderRequest:
    """One order as the client asked for it (validated for types and required fields)."""

    symbol: str
    side: str
    order_type: str
    quantity: Decimal
    time_in_force: str = TimeInForce.GTC
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trail_amount: Decimal | None = None
    trail_percent: Decimal | None = None
    trigger_source: str = "last"
    expires_at: datetime | None = None
    client_order_id: str = ""
    reduce_only: bool = False
    post_only: bool = False
    tags: tuple[str, ...] = ()
    lot_ids: tuple[int, ...] = ()  # lots a closing order closes first (specific identification)
    leverage: Decimal | None = None  # None: the position's, or the portfolio's default for the class
    margin_mode: str = ""  # cross or isolated for a new position; blank: cross


def realism_profile_for(portfolio: Portfolio) -> execution.RealismProfile:
    """The profile a new order of this portfolio is placed under (its latency switched off if asked)."""
    profile = execution.PROFILES[portfolio.realism_profile]
    if not portfolio.simulate_latency:
        profile = dataclasses.replace(profile, latency_ms_range=None)
    return profile


def order_profile(order: Order) -> execution.RealismProfile:
    """The profile an order executes under: the one recorded when it was placed, so switching the
    portfolio's profile never changes how orders already working fill."""
    return execution.PROFILES[order.realism_profile]


# --- placement ---------------------------------------------------------------------------------


def _instrument_for_order(symbol: str) -> Instrument:
    on_demand_market_prepare(symbol)
    instrument = tradable_instrument(symbol)
    if instrument is None:
        raise DomainError(f"No tradable instrument {symbol!r}.", code="unknown_symbol", field="symbol")
    return instrument


def _check_grid(request: OrderRequest, instrument: Instrument) -> None:
    if not is_multiple_of(request.quantity, instrument.lot_size):
        raise DomainError(f"Quantity must be a multiple of the lot size {instrument.lot_size.normalize():f}.",
                          code="invalid_lot_size", field="quantity")
    if request.quantity < instrument.min_quantity:
        raise DomainError(f"Quantity is below the minimum {instrument.min_quantity.normalize():f}.",
                          code="below_min_quantity", field="quantity")
    for field in ("limit_price", "stop_price", "trail_amount"):
        value = getattr(request, field)
        if value is not None and not is_multiple_of(value, instrument.tick_size):
            raise DomainError(f"{field} must be a multiple of the tick size {instrument.tick_size.normalize():f}.",
                              code="invalid_tick_size", field=field)


def _initial_status(request: OrderRequest) -> str:
    return OrderStatus.PENDING_TRIGGER if request.order_type in TRIGGERED_TYPES else OrderStatus.ACCEPTED


def _expiry(request: OrderRequest, instrument: Instrument, now: datetime) -> datetime | None:
    if request.time_in_force == TimeInForce.GTD:
        if request.expires_at is None or request.expires_at <= now:
            raise DomainError("A GTD order needs expires_at in the future.", code="invalid_expiry", field="expires_at")
        return request.expires_at
    if request.time_in_force == TimeInForce.DAY:
        close = instrument_calendar(instrument).next_close(now)
        if close is None:
            raise DomainError("DAY orders need an instrument with trading hours; use GTC or GTD for 24/7 markets.",
                              code="day_not_supported", field="time_in_force")
        return close
    return None


def order_place(*, user, portfolio_id, request: OrderRequest, now: datetime | None = None,
                role: str = OrderRole.SINGLE, group_id=None) -> tuple[Order, bool]:
    """Place one order. Returns (order, created); resubmitting a client_order_id returns the
    existing order with created False and changes nothing."""
    with transaction.atomic(), state.one_market_instant():
        portfolio = portfolio_lock_for_user(user=user, portfolio_id=portfolio_id)
        if request.client_order_id:
            existing = Order.objects.filter(portfolio=portfolio, client_order_id=request.client_order_id).first()
            if existing is not None:
                return existing, False
        order = _create_order(portfolio=portfolio, request=request, now=now or timezone.now(), role=role,
                              group_id=group_id)
        _start(order=order, portfolio=portfolio, now=now or timezone.now())
        return order, True


def _create_order(*, portfolio: Portfolio, request: OrderRequest, now: datetime, role: str, group_id,
                  status: str | None = None, parent: Order | None = None, checks: bool = True,
                  protective_stop: Decimal | None = None) -> Order:
    instrument = _instrument_for_order(request.symbol)
    _check_grid(request, instrument)
    expires_at = _expiry(request, instrument, now)
    is_open = instrument_calendar(instrument).is_open(now)
    if not is_open and request.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
        raise MarketClosed(f"{instrument.symbol} is outside its trading session; IOC and FOK orders cannot rest.",
                           field="time_in_force")
    prices = live_prices(instrument.symbol)
    if is_open and prices is None:
        raise Conflict(f"No live market for {instrument.symbol}: is the market feed running?", code="market_unavailable")
    warnings = pre_trade_checks(portfolio=portfolio, instrument=instrument, request=request, prices=prices,
                                protective_stop=protective_stop) \
        if checks else []
    profile = realism_profile_for(portfolio)
    order = Order(
        portfolio=portfolio, instrument=instrument, client_order_id=request.client_order_id, side=request.side,
        order_type=request.order_type, time_in_force=request.time_in_force,
        status=status or _initial_status(request), quantity=request.quantity, limit_price=request.limit_price,
        stop_price=request.stop_price, trail_amount=request.trail_amount, trail_percent=request.trail_percent,
        trigger_source=request.trigger_source, reduce_only=request.reduce_only, post_only=request.post_only,
        role=role, group_id=group_id, parent=parent, realism_profile=profile.name, expires_at=expires_at,
        tags=list(request.tags), warnings=warnings, leverage=request.leverage, margin_mode=request.margin_mode,
        arrival_price=quantize_price(prices["mid"]) if prices and prices["mid"] is not None else None,
        lot_ids=lot_ids_check(portfolio=portfolio, instrument=instrument, side=request.side, lot_ids=request.lot_ids),
    )
    order.id = uuid.uuid4()
    order.latency_ms = execution.sample_latency_ms(profile=profile, order_key=str(order.id))
    order.save(force_insert=True)
    OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.CREATED, detail={"warnings": warnings})
    return order


def _start(*, order: Order, portfolio: Portfolio, now: datetime) -> None:
    """What happens to a new order at once: trailing stops start trailing, post-only orders that would
    take liquidity are rejected, and marketable orders execute now or after their latency."""
    events.order_changed(order, "created")
    if order.status in (OrderStatus.HELD, OrderStatus.PENDING_TRIGGER):
        if order.order_type == OrderType.TRAILING_STOP and order.status == OrderStatus.PENDING_TRIGGER:
            _trailing_start(order)
        return
    _schedule_or_execute(order=order, portfolio=portfolio, now=now)


def _schedule_or_execute(*, order: Order, portfolio: Portfolio, now: datetime) -> None:
    if not instrument_calendar(order.instrument).is_open(now):
        order.execute_after = instrument_calendar(order.instrument).next_open(now)
        order.save(update_fields=["execute_after", "updated_at"])
        return
    marketable = _is_marketable(order)
    if order.post_only and marketable:
        _finish(order, OrderStatus.REJECTED, "Post-only order would take liquidity.", OrderEvent.Kind.REJECTED)
        return
    if not marketable:
        book = live_book(order.instrument.symbol)
        if book is not None:
            order.queue_ahead = execution.initial_queue_ahead(
                side=order.side, limit_price=order.limit_price, book=book, profile=order_profile(order),
                instrument=instrument_spec(order.instrument))
            order.save(update_fields=["queue_ahead", "updated_at"])
        if order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
            _finish(order, OrderStatus.CANCELLED, "Nothing available at the limit price.", OrderEvent.Kind.CANCELLED)
        return
    if order.latency_ms == 0:
        _execute(order=order, portfolio=portfolio, now=now)
    else:
        order.execute_after = now + timedelta(milliseconds=order.latency_ms)
        order.save(update_fields=["execute_after", "updated_at"])


def _is_marketable(order: Order) -> bool:
    if order.order_type in (OrderType.MARKET, OrderType.STOP, OrderType.TAKE_PROFIT, OrderType.TRAILING_STOP):
        return True
    prices = live_prices(order.instrument.symbol)
    if prices is None:
        return False
    if order.side == Side.BUY:
        return prices["ask"] is not None and prices["ask"] <= order.limit_price
    return prices["bid"] is not None and prices["bid"] >= order.limit_price


# --- execution ---------------------------------------------------------------------------------


def order_execute_due(*, order_id, now: datetime) -> Order | None:
    """Execute an accepted order whose latency has passed (the engine calls this). Idempotent:
    an order that is no longer open, or not yet due, is left as it is."""
    with transaction.atomic(), state.one_market_instant():
        order = Order.objects.select_related("instrument").get(pk=order_id)
        portfolio = portfolio_get(portfolio_id=order.portfolio_id, for_update=True)
        order = Order.objects.select_for_update(of=("self",)).select_related("instrument").get(pk=order_id)
        if not order.is_open or order.execute_after is None or order.execute_after > now:
            return order
        order.execute_after = None
        order.save(update_fields=["execute_after", "updated_at"])
        if not instrument_calendar(order.instrument).is_open(now):
            _schedule_or_execute(order=order, portfolio=portfolio, now=now)
        elif _is_marketable(order):
            _execute(order=order, portfolio=portfolio, now=now)
        return order


def _execute(*, order: Order, portfolio: Portfolio, now: datetime) -> None:
    """Take liquidity from the live book for the order's remaining quantity, within buying power."""
    book = live_book(order.instrument.symbol)
    if book is None:
        order.execute_after = now + timedelta(seconds=1)  # no book this instant: retry shortly
        order.save(update_fields=["execute_after", "updated_at"])
        return
    quantity = _tradable_quantity(order=order, portfolio=portfolio)
    if quantity == 0:
        _finish(order, OrderStatus.CANCELLED, NOTHING_TO_REDUCE, OrderEvent.Kind.CANCELLED)
        return
    if not _passes_execution_checks(order=order, portfolio=portfolio, quantity=quantity):
        return
    result = _simulate(order=order, portfolio=portfolio, book=book, quantity=quantity)
    notional = sum((piece.fill_price * piece.quantity for piece in result.slices), Decimal(0)) \
        * order.instrument.contract_multiplier
    affordable = _affordable_quantity(order=order, portfolio=portfolio, filled=result.filled_quantity,
                                      notional=notional, fee=result.total_fee)
    short_of_funds = affordable < result.filled_quantity
    if short_of_funds:
        # Fill or kill is all or nothing, buying power included: it never shrinks to what the cash pays for.
        shrinkable = affordable and order.time_in_force != TimeInForce.FOK
        result = _simulate(order=order, portfolio=portfolio, book=book, quantity=affordable) if shrinkable else None
    explanation = _readable(result.explain()) if result else {}
    for piece in result.slices if result else ():
        _record_fill(order=order, portfolio=portfolio, quantity=piece.quantity, price=piece.fill_price,
                     fee=piece.fee, slippage=piece.slippage_cost, liquidity=piece.liquidity.value,
                     explanation={**explanation, "level": _readable(piece.explain())}, now=now)
    if order.filled_quantity == order.quantity:
        return
    if order.reduce_only and _tradable_quantity(order=order, portfolio=portfolio) == 0:
        _finish(order, OrderStatus.CANCELLED, NOTHING_TO_REDUCE, OrderEvent.Kind.CANCELLED)
    elif short_of_funds:
        _finish(order, OrderStatus.CANCELLED if order.filled_quantity else OrderStatus.REJECTED,
                "Insufficient buying power.", OrderEvent.Kind.CANCELLED if order.filled_quantity else OrderEvent.Kind.REJECTED)
    elif result.remainder == execution.RemainderAction.KILL:
        _finish(order, OrderStatus.CANCELLED, "Fill or kill: the book could not fill the whole quantity.",
                OrderEvent.Kind.CANCELLED)
    elif result.remainder == execution.RemainderAction.CANCEL:
        _finish(order, OrderStatus.CANCELLED, "Immediate or cancel: the rest was cancelled.", OrderEvent.Kind.CANCELLED)
    elif order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        order.queue_ahead = result.queue_ahead
        order.save(update_fields=["queue_ahead", "updated_at"])
    else:
        # A market order bigger than the visible book keeps taking liquidity on the next updates.
        order.execute_after = now
        order.save(update_fields=["execute_after", "updated_at"])


def _passes_execution_checks(*, order: Order, portfolio: Portfolio, quantity: Decimal) -> bool:
    """The asset-class checks at the moment of execution (option margin for a short sold after it
    waited); an order they refuse now is rejected, or its rest cancelled if part has filled."""
    try:
        asset_class_checks_at_execution(portfolio=portfolio, order=order, quantity=quantity)
    except RiskCheckFailed as refusal:
        if order.filled_quantity:
            _finish(order, OrderStatus.CANCELLED, refusal.message, OrderEvent.Kind.CANCELLED)
        else:
            _finish(order, OrderStatus.REJECTED, refusal.message, OrderEvent.Kind.REJECTED)
        return False
    return True


def _tradable_quantity(*, order: Order, portfolio: Portfolio) -> Decimal:
    """The order's remaining quantity; for a reduce-only order no more than the open position it
    shrinks (placement checked that, but the position may have shrunk or closed since)."""
    if not order.reduce_only:
        return order.remaining_quantity
    position = open_position_in(portfolio, order.instrument_id)
    if position is None or (position.side == Position.Direction.LONG) == (order.side == Side.BUY):
        return Decimal(0)
    return min(order.remaining_quantity, position.quantity)


# Places the exact figures of an execution explanation are shown with (the fills themselves are exact).
EXPLANATION_PLACES = {"slippage_bps_vs_mid": 4, "slippage_bps_vs_arrival": 4, "slippage_fraction_applied": 10,
                      "slippage_cost": 8, "total_slippage_cost": 8, "vwap": 10}


def _readable(explanation: dict) -> dict:
    """The explanation with its derived ratios rounded for people (half-even, once, for display),
    the levels walked included."""
    return {key: ([_readable(level) for level in value] if key == "levels"
                  else format_decimal(Decimal(value), EXPLANATION_PLACES[key])
                  if key in EXPLANATION_PLACES and value is not None else value)
            for key, value in explanation.items()}


def _simulate(*, order: Order, portfolio: Portfolio, book: execution.OrderBook,
              quantity: Decimal) -> execution.ExecutionResult:
    limit = order.limit_price if order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None
    return execution.simulate_execution(
        side=order.side, quantity=quantity, book=book, profile=order_profile(order),
        instrument=instrument_spec(order.instrument), order_key=str(order.id),
        time_in_force=_execution_tif(order), limit_price=limit, arrival_price=order.arrival_price,
    )


def _execution_tif(order: Order) -> str:
    return order.time_in_force if order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK) else TimeInForce.GTC


def _affordable_quantity(*, order: Order, portfolio: Portfolio, filled: Decimal, notional: Decimal,
                         fee: Decimal) -> Decimal:
    """How much of a simulated fill of `filled` units, of `notional` (price times quantity times the
    contract multiplier) and `fee` in all, the portfolio can pay for.

    Closing an existing position is always allowed. The opening part of a buy spends cash (notional
    plus fees); the opening part of a sell (a new or bigger short) must be covered by free buying
    power, which keeps short proceeds as collateral. When the fill costs more than that, the
    quantity is scaled down to what the average cost per unit allows, on the lot grid.

    An order that closes a position and opens the other way (a flip) closes first: the opening
    part may spend the buying power left after the close has paid or received its cash and freed
    what the position held (portfolios.valuation.buying_power_freed_by_closing). So a cover is paid
    for before the long it opens, and a long's sale proceeds back the short it opens.
    """
    instrument = order.instrument
    position = open_position_in(portfolio, instrument.pk)
    if filled == 0:
        return filled
    closing = Decimal(0)
    if position is not None and (position.side == Position.Direction.LONG) == (order.side == Side.SELL):
        closing = min(position.quantity, filled)
    opening = filled - closing
    if opening == 0:
        return filled
    rate = settlement_rate(portfolio=portfolio, instrument=instrument)
    # A leveraged opening ties up only its initial margin (notional / leverage) of buying power.
    cost_per_unit = (notional + fee) / filled * rate / order_leverage(
        portfolio=portfolio, instrument=instrument, request=order,
        position=position if position is not None and not closing else None)
    available = buying_power(portfolio)
    if closing:
        cash_per_unit = ((notional - fee) if order.side == Side.SELL else -(notional + fee)) / filled * rate
        available += buying_power_freed_by_closing(
            position, quantity=closing, cash_per_unit=cash_per_unit,
            mark=position_mark(position, state.quote_read(instrument.symbol)), rate=rate)
    if opening * cost_per_unit <= available:
        return filled
    if available <= 0:
        return closing
    units = (available / cost_per_unit / instrument.lot_size).to_integral_value(rounding=ROUND_FLOOR)
    return closing + min(opening, units * instrument.lot_size)


def settlement_rate(*, portfolio: Portfolio, instrument) -> Decimal:
    """Units of the portfolio's base currency per unit of the instrument's quote currency, now."""
    return conversion_rate(from_currency=instrument.quote_currency, to_currency=portfolio.base_currency)


def _record_fill(*, order: Order, portfolio: Portfolio, quantity: Decimal, price: Decimal, fee: Decimal,
                 slippage: Decimal, liquidity: str, explanation: dict, now: datetime) -> Trade:
    """One fill: the trade row, the position and its lots, the ledger, the order's progress."""
    instrument = order.instrument
    # The trade row is written once, after the position it lands in is known; its id is fixed now
    # for the ledger and lot rows that refer to it (foreign keys are checked at commit).
    trade = Trade(
        id=uuid.uuid4(), order=order, portfolio=portfolio, instrument=instrument, side=order.side, quantity=quantity,
        price=price, fee=fee, slippage=quantize_money(slippage), liquidity=liquidity, explanation=explanation,
        executed_at=now,
    )
    # Prices, fees and position P&L are in the instrument's quote currency; cash moves in the
    # portfolio's base currency at the market rate of the moment (1 for a USD portfolio trading USD).
    rate = settlement_rate(portfolio=portfolio, instrument=instrument)
    notional = quantity * price * instrument.contract_multiplier * rate
    postings = [Posting(
        amount=-notional if order.side == Side.BUY else notional, kind=LedgerEntry.Kind.TRADE, reference=str(trade.pk),
        description=f"{order.side} {quantity.normalize():f} {instrument.symbol} @ {price.normalize():f}"
                    + ("" if rate == 1 else f" ({instrument.quote_currency}/{portfolio.base_currency} {rate:.8f})"))]
    if fee:
        postings.append(Posting(amount=-fee * rate, kind=LedgerEntry.Kind.FEE, reference=str(trade.pk),
                                description=f"{liquidity} fee"))
    ledger_post_all(portfolio=portfolio, postings=postings)
    position, realized, change = position_apply_fill(portfolio=portfolio, trade=trade, now=now)
    now = trade.executed_at  # never before the lots it closed (see position_apply_fill)
    trade.position = position
    trade.realized_pnl = realized
    trade.save(force_insert=True)
    portfolio_settle_fill(portfolio=portfolio, realized_pnl=realized * rate)

    previous = order.filled_quantity
    order.filled_quantity = previous + quantity
    order.average_fill_price = quantize_price(
        ((order.average_fill_price or 0) * previous + price * quantity) / order.filled_quantity)
    order.fees_paid = quantize_money(order.fees_paid + fee)
    done = order.filled_quantity == order.quantity
    order.status = OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED
    order.filled_at = now if done else None
    order.save(update_fields=["filled_quantity", "average_fill_price", "fees_paid", "status", "filled_at",
                              "updated_at"])
    OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.FILLED if done else OrderEvent.Kind.PARTIAL_FILL,
                              detail={"trade_id": str(trade.pk), "quantity": f"{quantity:f}", "price": f"{price:f}"})
    events.trade_executed(trade)
    events.order_changed(order, "filled" if done else "partial_fill")
    _after_fill(order=order, portfolio=portfolio, filled_now=quantity, now=now)
    if change in ("closed", "flipped"):
        # Reduce-only orders (the position's exits among them) have nothing left to reduce.
        # Held bracket exits wait for their own entry, not for this position.
        for stale in Order.objects.select_for_update(of=("self",)).select_related("instrument").filter(
                portfolio=portfolio, instrument=instrument, reduce_only=True,
                status__in=OrderStatus.open()).exclude(pk=order.pk).exclude(status=OrderStatus.HELD):
            _finish(stale, OrderStatus.CANCELLED, "Its position was closed.", OrderEvent.Kind.CANCELLED)
    return trade


def _after_fill(*, order: Order, portfolio: Portfolio, filled_now: Decimal, now: datetime) -> None:
    """OCO: a fill cancels the other leg. Bracket: the entry's fills activate its exits, sized to
    what has filled so far."""
    if order.linked_order_id and order.role in (OrderRole.OCO, OrderRole.STOP_LOSS, OrderRole.TAKE_PROFIT):
        sibling = Order.objects.select_for_update(of=("self",)).select_related("instrument").get(pk=order.linked_order_id)
        if sibling.is_open:
            if order.status == OrderStatus.FILLED:
                _finish(sibling, OrderStatus.CANCELLED, "The other leg of its OCO pair filled.", OrderEvent.Kind.CANCELLED)
            elif sibling.quantity > order.remaining_quantity and order.remaining_quantity > 0:
                _resize(sibling, order.remaining_quantity)
    if order.role == OrderRole.ENTRY:
        for child in Order.objects.select_for_update(of=("self",)).select_related("instrument").filter(parent=order):
            if child.status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.REJECTED, OrderStatus.FILLED):
                continue
            target = order.filled_quantity - child.filled_quantity
            if child.status == OrderStatus.HELD:
                child.quantity = order.filled_quantity
                child.status = OrderStatus.PENDING_TRIGGER if child.order_type in TRIGGERED_TYPES else OrderStatus.ACCEPTED
                child.save(update_fields=["quantity", "status", "updated_at"])
                OrderEvent.objects.create(order=child, kind=OrderEvent.Kind.ACTIVATED,
                                          detail={"quantity": f"{child.quantity:f}"})
                events.order_changed(child, "activated")
                if child.order_type == OrderType.TRAILING_STOP:
                    _trailing_start(child)
                elif child.order_type == OrderType.LIMIT:
                    _schedule_or_execute(order=child, portfolio=portfolio, now=now)
            elif target > 0 and child.quantity != order.filled_quantity:
                _resize(child, order.filled_quantity)


def _resize(order: Order, quantity: Decimal) -> None:
    OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.MODIFIED,
                              detail={"quantity": [f"{order.quantity:f}", f"{quantity:f}"]})
    order.quantity = quantity
    order.save(update_fields=["quantity", "updated_at"])
    events.order_changed(order, "modified")


def _finish(order: Order, status: str, reason: str, kind: str) -> None:
    order.status = status
    order.reject_reason = reason
    order.execute_after = None
    if status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED):
        order.cancelled_at = timezone.now()
    order.save(update_fields=["status", "reject_reason", "execute_after", "cancelled_at", "updated_at"])
    OrderEvent.objects.create(order=order, kind=kind, detail={"reason": reason})
    events.order_changed(order, {OrderStatus.CANCELLED: "cancelled", OrderStatus.EXPIRED: "expired",
                                 OrderStatus.REJECTED: "rejected"}.get(status, status))


def _trailing_start(order: Order) -> None:
    prices = live_prices(order.instrument.symbol)
    if prices is None:
        return
    # The mark starts from the price the engine will trail: last, mid, or the bid (sell) / ask (buy).
    reference = triggers.reference_price(
        prices=triggers.TickPrices(last=prices["last"], bid=prices["bid"], ask=prices["ask"], mid=prices["mid"],
                                   mark=prices["mark"]),
        source=triggers.PriceSource(order.trigger_source), side=triggers.Side(order.side))
    if reference is None:
        return
    trail = triggers.trailing_start(side=triggers.Side(order.side), price=reference,
                                    tick_size=order.instrument.tick_size, trail_amount=order.trail_amount,
                                    trail_percent=order.trail_percent)
    order.high_water_mark = trail.high_water_mark
    order.stop_price = trail.stop_price
    order.save(update_fields=["high_water_mark", "stop_price", "updated_at"])


# --- cancel ------------------------------------------------------------------------------------


def order_cancel(*, user, order_id) -> Order:
    """Cancel an open order, with the other leg of its OCO pair and, for a bracket entry, its exits."""
    with transaction.atomic():
        order, _ = _locked_order_for_user(user=user, order_id=order_id)
        if not order.is_open:
            raise Conflict("Only open orders can be cancelled.", code="order_not_open")
        _finish(order, OrderStatus.CANCELLED, "Cancelled by the user.", OrderEvent.Kind.CANCELLED)
        if order.role in (OrderRole.OCO, OrderRole.STOP_LOSS, OrderRole.TAKE_PROFIT):
            _cancel_oco_sibling(order, "The other leg of its OCO pair was cancelled.")
        for child in Order.objects.select_for_update(of=("self",)).select_related("instrument").filter(
                parent=order, status__in=OrderStatus.open()):
            if order.filled_quantity == 0 or child.status == OrderStatus.HELD:
                _finish(child, OrderStatus.CANCELLED, "Its bracket entry was cancelled.", OrderEvent.Kind.CANCELLED)
        return order


def _locked_order_for_user(*, user, order_id) -> tuple[Order, Portfolio]:
    order = order_get_for_user(user=user, order_id=order_id)
    portfolio = portfolio_get(portfolio_id=order.portfolio_id, for_update=True)
    return Order.objects.select_for_update(of=("self",)).select_related("instrument").get(pk=order.pk), portfolio


# --- modify ------------------------------------------------------------------------------------

MODIFIABLE_BY_TYPE = {
    OrderType.MARKET: ("quantity",),
    OrderType.LIMIT: ("quantity", "limit_price", "expires_at"),
    OrderType.STOP: ("quantity", "stop_price", "expires_at"),
    OrderType.TAKE_PROFIT: ("quantity", "stop_price", "expires_at"),
    OrderType.STOP_LIMIT: ("quantity", "stop_price", "limit_price", "expires_at"),
    OrderType.TRAILING_STOP: ("quantity", "trail_amount", "trail_percent", "expires_at"),
}


def order_modify(*, user, order_id, changes: dict, now: datetime | None = None) -> Order:
    """Change an open order; the change is recorded in its history, and a limit that the change
    makes marketable executes at once (after its latency)."""
    now = now or timezone.now()
    with transaction.atomic(), state.one_market_instant():
        order, portfolio = _locked_order_for_user(user=user, order_id=order_id)
        if not order.is_open:
            raise Conflict("Only open orders can be modified.", code="order_not_open")
        allowed = MODIFIABLE_BY_TYPE[order.order_type]
        for field in changes:
            if field not in allowed:
                raise DomainError(f"A {order.order_type} order has no {field} to change.", code="not_modifiable",
                                  field=field)
        instrument = order.instrument
        if "quantity" in changes:
            quantity = changes["quantity"]
            if not is_multiple_of(quantity, instrument.lot_size) or quantity < instrument.min_quantity:
                raise DomainError("Quantity must be on the lot grid and at least the minimum.", code="invalid_lot_size",
                                  field="quantity")
            if quantity <= order.filled_quantity:
                raise DomainError("Quantity must stay above what has already filled.", code="below_filled",
                                  field="quantity")
        for field in ("limit_price", "stop_price", "trail_amount"):
            if field in changes and not is_multiple_of(changes[field], instrument.tick_size):
                raise DomainError(f"{field} must be a multiple of the tick size.", code="invalid_tick_size", field=field)
        if "expires_at" in changes:
            if order.time_in_force != TimeInForce.GTD:
                raise DomainError("Only GTD orders have an expiry to change.", code="not_modifiable", field="expires_at")
            if changes["expires_at"] <= now:
                raise DomainError("expires_at must be in the future.", code="invalid_expiry", field="expires_at")
        if "trail_amount" in changes and order.trail_percent is not None or \
                "trail_percent" in changes and order.trail_amount is not None:
            raise DomainError("A trailing stop keeps its kind of trail (amount or percent).", code="not_modifiable",
                              field="trail_amount" if "trail_amount" in changes else "trail_percent")

        before = {field: getattr(order, field) for field in changes}
        for field, value in changes.items():
            setattr(order, field, value)
        if order.order_type == OrderType.TRAILING_STOP and order.high_water_mark is not None:
            trail = triggers.trailing_start(side=triggers.Side(order.side), price=order.high_water_mark,
                                            tick_size=instrument.tick_size, trail_amount=order.trail_amount,
                                            trail_percent=order.trail_percent)
            order.stop_price = trail.stop_price
        order.save()
        OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.MODIFIED, detail={
            field: [_text(before[field]), _text(changes[field])] for field in changes})
        events.order_changed(order, "modified")
        # A working limit, or a stop limit whose stop has triggered, executes when the change makes it marketable.
        if order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) and order.execute_after is None \
                and order.status in (OrderStatus.ACCEPTED, OrderStatus.TRIGGERED, OrderStatus.PARTIALLY_FILLED):
            _schedule_or_execute(order=order, portfolio=portfolio, now=now)
        return order


def _text(value) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else f"{value:f}"


# --- engine actions ----------------------------------------------------------------------------


def _locked_for_engine(order_id) -> tuple[Order, Portfolio] | None:
    """Lock the portfolio, then the order; None when the order is gone."""
    portfolio_id = Order.objects.filter(pk=order_id).values_list("portfolio_id", flat=True).first()
    if portfolio_id is None:
        return None
    portfolio = portfolio_get(portfolio_id=portfolio_id, for_update=True)
    return Order.objects.select_for_update(of=("self",)).select_related("instrument").get(pk=order_id), portfolio


def order_fire(*, order_id, now: datetime) -> Order | None:
    """The engine saw the market reach this order's level: trigger a stop, take-profit or trailing stop
    (it becomes a market order, a stop limit becomes a limit), or fill a resting limit the market
    crossed. Idempotent: an order no longer in that state is left alone."""
    with transaction.atomic(), state.one_market_instant():
        locked = _locked_for_engine(order_id)
        if locked is None:
            return None
        order, portfolio = locked
        if order.status == OrderStatus.PENDING_TRIGGER:
            order.status = OrderStatus.TRIGGERED
            order.triggered_at = now
            order.save(update_fields=["status", "triggered_at", "updated_at"])
            OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.TRIGGERED,
                                      detail={"stop_price": _text(order.stop_price)})
            events.order_changed(order, "triggered")
            _cancel_oco_sibling(order, "The other leg of its OCO pair triggered.")
            _schedule_or_execute(order=order, portfolio=portfolio, now=now)
        elif order.is_open and order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) \
                and order.status != OrderStatus.HELD and order.execute_after is None:
            _fill_resting_limit(order=order, portfolio=portfolio, now=now)
        return order


def order_trade_through(*, order_id, traded_quantity: Decimal, now: datetime) -> Order | None:
    """The market traded `traded_quantity` at or through this resting limit's price without the
    other side crossing it: the volume first works through the queue ahead of the order, and what
    is left fills it, at its limit, as maker (execution.simulate_resting_limit_update). The queue
    left ahead is saved. Idempotent for an order no longer resting."""
    with transaction.atomic(), state.one_market_instant():
        locked = _locked_for_engine(order_id)
        if locked is None:
            return None
        order, portfolio = locked
        if order.is_open and order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) \
                and order.status not in (OrderStatus.HELD, OrderStatus.PENDING_TRIGGER) and order.execute_after is None:
            _fill_resting_limit(order=order, portfolio=portfolio, now=now, traded_quantity=traded_quantity)
        return order


def _cancel_oco_sibling(order: Order, reason: str) -> None:
    if not order.linked_order_id:
        return
    sibling = Order.objects.select_for_update(of=("self",)).select_related("instrument").get(pk=order.linked_order_id)
    if sibling.is_open:
        _finish(sibling, OrderStatus.CANCELLED, reason, OrderEvent.Kind.CANCELLED)


def _fill_resting_limit(*, order: Order, portfolio: Portfolio, now: datetime,
                        traded_quantity: Decimal = Decimal(0)) -> None:
    """A resting limit the market has reached fills as maker at its limit price, up to the size the
    opposite side shows at that price or better plus what `traded_quantity` leaves after the queue
    ahead of it, within buying power."""
    book = live_book(order.instrument.symbol)
    if book is None:
        return
    quantity = _tradable_quantity(order=order, portfolio=portfolio)
    if quantity == 0:
        _finish(order, OrderStatus.CANCELLED, NOTHING_TO_REDUCE, OrderEvent.Kind.CANCELLED)
        return
    update = _simulate_resting(order=order, portfolio=portfolio, book=book, quantity=quantity,
                               traded_quantity=traded_quantity)
    if update.fill_quantity == 0:
        if update.queue_ahead != order.queue_ahead:
            order.queue_ahead = update.queue_ahead  # trades worked through part of the queue ahead
            order.save(update_fields=["queue_ahead", "updated_at"])
        return
    if not _passes_execution_checks(order=order, portfolio=portfolio, quantity=update.fill_quantity):
        return
    # Resting orders reserve no cash, so the fill is checked against buying power as it happens.
    notional = update.fill_price * update.fill_quantity * order.instrument.contract_multiplier
    affordable = _affordable_quantity(order=order, portfolio=portfolio, filled=update.fill_quantity,
                                      notional=notional, fee=update.fee)
    if affordable == 0:
        _finish(order, OrderStatus.CANCELLED, "Insufficient buying power.", OrderEvent.Kind.CANCELLED)
        return
    short_of_funds = affordable < update.fill_quantity
    if short_of_funds:
        update = _simulate_resting(order=order, portfolio=portfolio, book=book, quantity=affordable,
                                   traded_quantity=traded_quantity)
    _record_fill(order=order, portfolio=portfolio, quantity=update.fill_quantity, price=update.fill_price,
                 fee=update.fee, slippage=Decimal(0), liquidity=update.liquidity.value,
                 explanation={"resting_fill": update.explain(), "profile": _profile_explained(order)}, now=now)
    if order.is_open and order.reduce_only and _tradable_quantity(order=order, portfolio=portfolio) == 0:
        _finish(order, OrderStatus.CANCELLED, NOTHING_TO_REDUCE, OrderEvent.Kind.CANCELLED)
    elif order.is_open and short_of_funds:
        _finish(order, OrderStatus.CANCELLED, "Insufficient buying power.", OrderEvent.Kind.CANCELLED)
    elif order.is_open:
        order.queue_ahead = update.queue_ahead
        order.save(update_fields=["queue_ahead", "updated_at"])


def _profile_explained(order: Order) -> dict:
    """The profile as taker fills explain it (ExecutionResult.explain), so every trade reads alike."""
    profile = order_profile(order)
    return {"name": profile.name, "version": profile.version, "seed": profile.seed}


def _simulate_resting(*, order: Order, portfolio: Portfolio, book: execution.OrderBook,
                      quantity: Decimal, traded_quantity: Decimal = Decimal(0)) -> execution.RestingUpdate:
    return execution.simulate_resting_limit_update(
        side=order.side, limit_price=order.limit_price, remaining_quantity=quantity,
        queue_ahead=order.queue_ahead or Decimal(0), book=book, traded_quantity=traded_quantity,
        profile=order_profile(order), instrument=instrument_spec(order.instrument),
    )


def order_trail(*, order_id, high_water_mark: Decimal, stop_price: Decimal) -> None:
    """Persist a trailing stop's new high-water mark and stop (the engine moved them)."""
    Order.objects.filter(pk=order_id, status=OrderStatus.PENDING_TRIGGER).update(
        high_water_mark=high_water_mark, stop_price=stop_price, updated_at=timezone.now())


def order_expire(*, order_id, now: datetime) -> Order | None:
    """Expire an open GTD or DAY order whose time has come."""
    with transaction.atomic():
        locked = _locked_for_engine(order_id)
        if locked is None:
            return None
        order, _ = locked
        if order.is_open and order.expires_at is not None and order.expires_at <= now:
            _finish(order, OrderStatus.EXPIRED, "Expired.", OrderEvent.Kind.EXPIRED)
            for child in Order.objects.select_for_update(of=("self",)).select_related("instrument").filter(
                    parent=order, status=OrderStatus.HELD):
                _finish(child, OrderStatus.CANCELLED, "Its bracket entry expired unfilled.", OrderEvent.Kind.CANCELLED)
        return order


# --- OCO and bracket ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ExitLegs:
    """The take-profit limit and the stop leg (stop, stop limit or trailing stop) of an OCO or bracket."""

    take_profit_price: Decimal
    stop_price: Decimal | None = None
    stop_limit_price: Decimal | None = None
    trail_amount: Decimal | None = None
    trail_percent: Decimal | None = None


def _exit_requests(*, symbol: str, side: str, quantity: Decimal, legs: ExitLegs, time_in_force: str,
                   expires_at, trigger_source: str) -> tuple[OrderRequest, OrderRequest]:
    take_profit = OrderRequest(symbol=symbol, side=side, order_type=OrderType.LIMIT, quantity=quantity,
                               limit_price=legs.take_profit_price, time_in_force=time_in_force, expires_at=expires_at)
    if legs.trail_amount is not None or legs.trail_percent is not None:
        stop_type = OrderType.TRAILING_STOP
    elif legs.stop_limit_price is not None:
        stop_type = OrderType.STOP_LIMIT
    else:
        stop_type = OrderType.STOP
    stop = OrderRequest(symbol=symbol, side=side, order_type=stop_type, quantity=quantity, stop_price=legs.stop_price,
                        limit_price=legs.stop_limit_price, trail_amount=legs.trail_amount,
                        trail_percent=legs.trail_percent, time_in_force=time_in_force, expires_at=expires_at,
                        trigger_source=trigger_source)
    return take_profit, stop


def _link(first: Order, second: Order) -> None:
    first.linked_order = second
    second.linked_order = first
    first.save(update_fields=["linked_order", "updated_at"])
    second.save(update_fields=["linked_order", "updated_at"])


def oco_place(*, user, portfolio_id, side: str, symbol: str, quantity: Decimal, legs: ExitLegs,
              time_in_force: str = TimeInForce.GTC, expires_at=None, client_order_id: str = "",
              trigger_source: str = "last", now: datetime | None = None) -> tuple[list[Order], bool]:
    """Two linked exits placed at once: a take-profit limit and a stop (watching `trigger_source`);
    when one fills or triggers, the other is cancelled."""
    now = now or timezone.now()
    with transaction.atomic(), state.one_market_instant():
        portfolio = portfolio_lock_for_user(user=user, portfolio_id=portfolio_id)
        if client_order_id:
            existing = Order.objects.filter(portfolio=portfolio, client_order_id=client_order_id).first()
            if existing is not None:
                return _group(existing), False
        group_id = uuid.uuid4()
        take_profit, stop = _exit_requests(symbol=symbol, side=side, quantity=quantity, legs=legs,
                                           time_in_force=time_in_force, expires_at=expires_at,
                                           trigger_source=trigger_source)
        take_profit = dataclasses.replace(take_profit, client_order_id=client_order_id)
        first = _create_order(portfolio=portfolio, request=take_profit, now=now, role=OrderRole.OCO, group_id=group_id)
        second = _create_order(portfolio=portfolio, request=stop, now=now, role=OrderRole.OCO, group_id=group_id)
        _link(first, second)
        _start(order=second, portfolio=portfolio, now=now)
        _start(order=first, portfolio=portfolio, now=now)
        return _group(first), True


def bracket_place(*, user, portfolio_id, entry: OrderRequest, legs: ExitLegs,
                  now: datetime | None = None) -> tuple[list[Order], bool]:
    """Entry plus take-profit and stop-loss exits. The exits are held until the entry fills, then
    work as an OCO pair sized to what the entry has filled. A market or limit entry has no trigger,
    so the entry's trigger_source is the stop-loss's."""
    now = now or timezone.now()
    with transaction.atomic(), state.one_market_instant():
        portfolio = portfolio_lock_for_user(user=user, portfolio_id=portfolio_id)
        if entry.client_order_id:
            existing = Order.objects.filter(portfolio=portfolio, client_order_id=entry.client_order_id).first()
            if existing is not None:
                return _group(existing), False
        group_id = uuid.uuid4()
        exit_side = Side.SELL if entry.side == Side.BUY else Side.BUY
        exit_tif = entry.time_in_force if entry.time_in_force in (TimeInForce.GTC, TimeInForce.GTD, TimeInForce.DAY) \
            else TimeInForce.GTC
        take_profit, stop = _exit_requests(
            symbol=entry.symbol, side=exit_side, quantity=entry.quantity, legs=legs, time_in_force=exit_tif,
            expires_at=entry.expires_at if exit_tif == TimeInForce.GTD else None, trigger_source=entry.trigger_source)
        # The exits only ever close what the entry opened: closing the position by hand retires them.
        take_profit = dataclasses.replace(take_profit, reduce_only=True)
        stop = dataclasses.replace(stop, reduce_only=True)
        _check_bracket_prices(entry=entry, legs=legs)
        parent = _create_order(portfolio=portfolio, request=entry, now=now, role=OrderRole.ENTRY, group_id=group_id,
                               protective_stop=legs.stop_price)
        # The exits close what the entry opens, so they skip the opening checks (buying power, sizing).
        take_profit_order = _create_order(portfolio=portfolio, request=take_profit, now=now,
                                          role=OrderRole.TAKE_PROFIT, group_id=group_id, status=OrderStatus.HELD,
                                          parent=parent, checks=False)
        stop_order = _create_order(portfolio=portfolio, request=stop, now=now, role=OrderRole.STOP_LOSS,
                                   group_id=group_id, status=OrderStatus.HELD, parent=parent, checks=False)
        _link(take_profit_order, stop_order)
        events.order_changed(take_profit_order, "created")
        events.order_changed(stop_order, "created")
        _start(order=parent, portfolio=portfolio, now=now)
        return _group(parent), True


def _check_bracket_prices(*, entry: OrderRequest, legs: ExitLegs) -> None:
    reference = entry.limit_price or entry.stop_price
    if reference is None:
        prices = live_prices(entry.symbol)
        reference = prices and (prices["ask"] if entry.side == Side.BUY else prices["bid"])
    if reference is None:
        return
    is_long = entry.side == Side.BUY
    if (legs.take_profit_price <= reference) if is_long else (legs.take_profit_price >= reference):
        raise DomainError("The take-profit must be on the profitable side of the entry.", code="invalid_bracket",
                          field="take_profit.limit_price")
    if legs.stop_price is not None and ((legs.stop_price >= reference) if is_long else (legs.stop_price <= reference)):
        raise DomainError("The stop-loss must be on the losing side of the entry.", code="invalid_bracket",
                          field="stop_loss.stop_price")


def _group(order: Order) -> list[Order]:
    """All legs placed in the same request as `order`: the one named first, then a bracket's entry,
    take-profit and stop-loss (by role, since legs created in one request may share a timestamp)."""
    if order.group_id is None:
        return [order]
    legs = list(Order.objects.filter(group_id=order.group_id).select_related("instrument").order_by("created_at"))
    legs.sort(key=lambda leg: (leg.pk != order.pk, leg.role != OrderRole.ENTRY, leg.role == OrderRole.STOP_LOSS,
                               leg.created_at))
    return legs


# --- positions ---------------------------------------------------------------------------------


def position_close(*, user, position_id, quantity: Decimal | None = None) -> Order:
    """Close all of a position, or `quantity` of it, with a reduce-only market order."""
    position = position_get_for_user(user=user, position_id=position_id)
    if position.status != Position.Status.OPEN:
        raise Conflict("This position is already closed.", code="position_closed")
    quantity = position.quantity if quantity is None else quantity
    if quantity > position.quantity:
        raise DomainError(f"The position holds {position.quantity.normalize():f}.", code="exceeds_position",
                          field="quantity")
    side = Side.SELL if position.side == Position.Direction.LONG else Side.BUY
    order, _ = order_place(user=user, portfolio_id=position.portfolio_id, request=OrderRequest(
        symbol=position.instrument.symbol, side=side, order_type=OrderType.MARKET, quantity=quantity,
        reduce_only=True))
    return order


def position_set_exits(*, user, position_id, stop_loss: Decimal | None, take_profit: Decimal | None,
                       now: datetime | None = None) -> Position:
    """Attach (or replace, or with both None remove) a position's stop-loss and take-profit. They
    become reduce-only exit orders for the whole position, linked one-cancels-other when both are set."""
    now = now or timezone.now()
    position = position_get_for_user(user=user, position_id=position_id)
    with transaction.atomic():
        portfolio = portfolio_lock_for_user(user=user, portfolio_id=position.portfolio_id)
        position = Position.objects.select_for_update(of=("self",)).select_related("instrument").get(pk=position.pk)
        if position.status != Position.Status.OPEN:
            raise Conflict("This position is closed.", code="position_closed")
        is_long = position.side == Position.Direction.LONG
        prices = live_prices(position.instrument.symbol)
        reference = prices and (prices["bid"] if is_long else prices["ask"])
        if reference is not None:
            if stop_loss is not None and ((stop_loss >= reference) if is_long else (stop_loss <= reference)):
                raise DomainError("The stop-loss must be on the losing side of the current price.",
                                  code="invalid_stop_loss", field="stop_loss")
            if take_profit is not None and ((take_profit <= reference) if is_long else (take_profit >= reference)):
                raise DomainError("The take-profit must be on the profitable side of the current price.",
                                  code="invalid_take_profit", field="take_profit")
        for existing in Order.objects.select_for_update(of=("self",)).select_related("instrument").filter(
                position=position, status__in=OrderStatus.open()):
            _finish(existing, OrderStatus.CANCELLED, "Replaced by new position exits.", OrderEvent.Kind.CANCELLED)
        side = Side.SELL if is_long else Side.BUY
        symbol, quantity = position.instrument.symbol, position.quantity
        created = []
        if take_profit is not None:
            created.append(_create_order(portfolio=portfolio, now=now, role=OrderRole.TAKE_PROFIT, group_id=None,
                                         checks=False, request=OrderRequest(
                                             symbol=symbol, side=side, order_type=OrderType.LIMIT, quantity=quantity,
                                             limit_price=take_profit, reduce_only=True)))
        if stop_loss is not None:
            created.append(_create_order(portfolio=portfolio, now=now, role=OrderRole.STOP_LOSS, group_id=None,
                                         checks=False, request=OrderRequest(
                                             symbol=symbol, side=side, order_type=OrderType.STOP, quantity=quantity,
                                             stop_price=stop_loss, reduce_only=True)))
        if len(created) == 2:
            _link(*created)
        for order in created:
            order.position = position
            order.save(update_fields=["position", "updated_at"])
            _start(order=order, portfolio=portfolio, now=now)
        position_exits_changed(position=position, stop_loss=stop_loss, take_profit=take_profit)
        return position


# --- reset -------------------------------------------------------------------------------------


def portfolio_reset_trading(*, user, portfolio_id, now: datetime | None = None) -> Portfolio:
    """Reset a portfolio (spec §9): cancel its open orders, wipe its positions (no trades, no P&L),
    then bring cash back to the starting balance. History is kept."""
    now = now or timezone.now()
    with transaction.atomic():
        portfolio = portfolio_lock_for_user(user=user, portfolio_id=portfolio_id)
        for order in Order.objects.select_for_update(of=("self",)).select_related("instrument").filter(
                portfolio=portfolio, status__in=OrderStatus.open()).order_by("pk"):
            _finish(order, OrderStatus.CANCELLED, "The portfolio was reset.", OrderEvent.Kind.CANCELLED)
        positions_wipe(portfolio=portfolio, now=now)
        return portfolio_reset(user=user, portfolio_id=portfolio_id)


# --- liquidation (called by the derivatives app's liquidation engine) --------------------------


def position_orders_cancel(*, portfolio: Portfolio, instrument_id, reason: str) -> int:
    """Cancel every open order of the portfolio in one instrument (a position being liquidated).
    Call inside the transaction holding the portfolio lock."""
    cancelled = 0
    for order in Order.objects.select_for_update(of=("self",)).select_related("instrument").filter(
            portfolio=portfolio, instrument_id=instrument_id, status__in=OrderStatus.open()).order_by("pk"):
        _finish(order, OrderStatus.CANCELLED, reason, OrderEvent.Kind.CANCELLED)
        cancelled += 1
    return cancelled


def order_liquidate(*, portfolio: Portfolio, position: Position, quantity: Decimal, now: datetime,
                    tag: str, price: Decimal | None = None) -> list[Trade]:
    """Close `quantity` of a position for the liquidation engine with a reduce-only order tagged `tag`,
    skipping the pre-trade checks and the simulated latency.

    Without a price: an immediate-or-cancel market order walking the live book now. With a price:
    one fill at exactly that price and no fee (the insurance fund takes the position over at its
    bankruptcy price, or an ADL counterparty is closed there). Call inside the transaction holding
    the portfolio lock; returns the order's trades.
    """
    side = Side.SELL if position.side == Position.Direction.LONG else Side.BUY
    request = OrderRequest(symbol=position.instrument.symbol, side=side, order_type=OrderType.MARKET,
                           quantity=quantity, time_in_force=TimeInForce.IOC, reduce_only=True, tags=(tag,))
    order = _create_order(portfolio=portfolio, request=request, now=now, role=OrderRole.SINGLE, group_id=None,
                          checks=False)
    if order.latency_ms:
        order.latency_ms = 0
        order.save(update_fields=["latency_ms", "updated_at"])
    events.order_changed(order, "created")
    if price is None:
        _execute(order=order, portfolio=portfolio, now=now)
    else:
        _record_fill(order=order, portfolio=portfolio, quantity=quantity, price=price, fee=Decimal(0),
                     slippage=Decimal(0), liquidity="taker", explanation={"liquidation": tag, "price": f"{price:f}"},
                     now=now)
    return list(order.trades.order_by("executed_at", "pk"))


# --- settlements -------------------------------------------------------------------------------


def order_settle_at_price(*, portfolio: Portfolio, symbol: str, side: str, quantity: Decimal, price: Decimal,
                          reason: str, now: datetime) -> Order:
    """Book a fill that happens off the book at a set price (an option's exercise, assignment,
    expiry or cash settlement, or the delivery of its underlying) as a filled market order with
    one fee-free trade, tagged with `reason`. Call inside the transaction holding the portfolio lock."""
    assert transaction.get_connection().in_atomic_block, "order_settle_at_price needs the caller's transaction"
    order = Order(portfolio=portfolio, instrument=Instrument.objects.get(symbol=symbol), side=side,
                  order_type=OrderType.MARKET, status=OrderStatus.ACCEPTED, quantity=quantity,
                  realism_profile=portfolio.realism_profile, tags=[reason], arrival_price=price)
    order.save(force_insert=True)
    OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.CREATED, detail={"settlement": reason})
    events.order_changed(order, "created")
    _record_fill(order=order, portfolio=portfolio, quantity=quantity, price=price, fee=Decimal(0), slippage=Decimal(0),
                 liquidity=execution.Liquidity.TAKER.value, explanation={"settlement": reason}, now=now)
    return order
