"""Placement: a new order checked (grid, expiry, session, pre-trade risk), created and started."""
import dataclasses
import uuid
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from haunt.errors import Conflict, DomainError
from haunt.market import state
from haunt.market.models import Instrument
from haunt.market.selectors import instrument_calendar, tradable_instrument
from haunt.money import is_multiple_of, quantize_price
from orders import events, execution
from orders.market_view import live_prices, on_demand_market_prepare
from orders.models import Order, OrderEvent, OrderRole, OrderStatus, OrderType, TimeInForce
from orders.requests import OrderRequest
from orders.risk import pre_trade_checks
from orders.services.fills import _schedule_or_execute
from orders.services.lifecycle import TRIGGERED_TYPES, _trailing_start
from portfolios.models import Portfolio
from portfolios.positions import lot_ids_check
from portfolios.services import portfolio_lock_for_user


class MarketClosed(DomainError):
    code = "market_closed"


def realism_profile_for(portfolio: Portfolio) -> execution.RealismProfile:
    """The profile a new order of this portfolio is placed under (its latency switched off if asked)."""
    profile = execution.PROFILES[portfolio.realism_profile]
    if not portfolio.simulate_latency:
        profile = dataclasses.replace(profile, latency_ms_range=None)
    return profile


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
    existing order with created False and changes nothing. Refuses a request whose shape does not
    hold together (OrderRequest.validate) before anything else."""
    request.validate()
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
