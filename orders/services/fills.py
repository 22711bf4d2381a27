"""Execution: an order taking liquidity from the live book now (or after its latency), a resting
limit filling as the market reaches it, within buying power, and each fill booked into the trade,
the position, the ledger and the order, with what follows it (OCO siblings, bracket exits)."""
import uuid
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from django.db import transaction

from haunt.market import state
from haunt.market.selectors import conversion_rate, instrument_calendar
from haunt.money import format_decimal, quantize_money, quantize_price
from orders import alerts, events, execution
from orders.market_view import instrument_spec, live_book, live_prices
from orders.models import Order, OrderEvent, OrderRole, OrderStatus, OrderType, Side, TimeInForce, Trade
from orders.risk import RiskCheckFailed, asset_class_checks_at_execution, order_leverage
from orders.services.lifecycle import TRIGGERED_TYPES, _finish, _trailing_start
from portfolios.accounting.margin import initial_margin
from portfolios.models import LedgerEntry, Portfolio, Position
from portfolios.positions import position_apply_fill
from portfolios.selectors import open_position_in, portfolio_get
from portfolios.services import Posting, ledger_post_all, portfolio_settle_fill
from portfolios.valuation import buying_power, buying_power_freed_by_closing, position_mark


NOTHING_TO_REDUCE = "Reduce-only: no open position left to reduce."


def order_profile(order: Order) -> execution.RealismProfile:
    """The profile an order executes under: the one recorded when it was placed, so switching the
    portfolio's profile never changes how orders already working fill."""
    return execution.PROFILES[order.realism_profile]


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
    cost_per_unit = initial_margin(notional=(notional + fee) / filled * rate, leverage=order_leverage(
        portfolio=portfolio, instrument=instrument, request=order,
        position=position if position is not None and not closing else None))
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
    if done:
        alerts.order_filled(order, portfolio.owner_id)
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
