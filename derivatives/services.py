"""Writes of the derivatives app: margin (refresh, add/remove), funding, the insurance fund,
liquidation and auto-deleveraging.

Every function runs in one transaction that locks the portfolio row first, then the rows it
changes; portfolios' rows (cash, positions' margin and funding) change only through portfolios'
services (its ledger among them) and the fund only through `_fund_post`, so a portfolio's cash is
always its ledger and the fund's balance its entries.
Binance USDⓈ-M futures is the reference for the rules (docs/derivatives.md).
"""
import logging
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import numpy as np
from django.db import transaction
from django.utils import timezone

from derivatives import events, funding, liquidation
from derivatives.models import (
    FundingPayment,
    FundingRate,
    InsuranceFund,
    InsuranceFundEntry,
    Liquidation,
    MarginEvent,
    PremiumSample,
)
from derivatives.selectors import LADDER_SETTING, fund_seed, margined_positions_filter, portfolio_margin
from haunt.errors import Conflict, DomainError
from haunt.market import state
from haunt.market.calendars import calendar_for
from haunt.market.models import Instrument
from haunt.market.terms import PositionSide
from haunt.money import quantize_money, quantize_price
from orders.services import order_liquidate, position_orders_cancel
from portfolios import events as portfolio_events
from portfolios.accounting.account import AccountMargin, PositionMargin
from portfolios.accounting.margin import PERP_LEVERAGE_TIERS, initial_margin, unrealized_pnl
from portfolios.models import LedgerEntry, MarginMode, Portfolio, Position
from portfolios.selectors import portfolio_get, portfolio_open_positions, position_get_for_user
from portfolios.services import (
    portfolio_cash_post,
    portfolio_lock_for_user,
    portfolio_margin_used_store,
    portfolio_update,
    position_funding_book,
    position_margin_added_set,
    positions_adl_score_store,
    positions_liquidation_price_store,
)

logger = logging.getLogger(__name__)

ZERO = Decimal(0)
FUND_CURRENCY = "USD"


# --- margin ------------------------------------------------------------------------------------


def _stored_liquidation_price(entry: PositionMargin) -> Decimal | None:
    price = entry.liquidation_price
    return None if price is None or price <= ZERO else quantize_price(price)


def _margin_record(*, portfolio: Portfolio, position: Position, margin_after: Decimal, reason: str,
                   detail: str = "") -> MarginEvent | None:
    """Append to margin_history when the position's margin (or leverage, or mode) differs from its last entry."""
    last = MarginEvent.objects.filter(position=position).order_by("-pk").first()
    margin_after = quantize_money(margin_after)
    if last is not None and (last.margin_after, last.leverage, last.margin_mode) == (
            margin_after, position.leverage, position.margin_mode):
        return None
    if last is None and reason == MarginEvent.Reason.FILL:
        reason = MarginEvent.Reason.OPENED
    return MarginEvent.objects.create(
        portfolio=portfolio, position=position, reason=reason, margin_mode=position.margin_mode,
        leverage=position.leverage, change=margin_after - (last.margin_after if last else ZERO),
        margin_after=margin_after, detail=detail[:200])


def _apply_account(*, portfolio: Portfolio, account: AccountMargin, positions: list[Position], reason: str,
                   detail: str = "") -> None:
    """Store what the account implies on the rows (liquidation prices, margin used), record margin
    changes, and push MarginUpdate. Call under the portfolio lock."""
    by_key = {position.pk: position for position in positions}
    changed = []
    for entry in account.positions:
        position = by_key[entry.row.key]
        price = _stored_liquidation_price(entry)
        if position.liquidation_price != price:
            position.liquidation_price = price
            changed.append(position)
        _margin_record(portfolio=portfolio, position=position, margin_after=entry.initial_margin, reason=reason,
                       detail=detail)
    positions_liquidation_price_store(positions=changed)
    portfolio_margin_used_store(portfolio=portfolio, margin_used=quantize_money(
        sum((entry.initial_margin for entry in account.positions), ZERO)))
    events.margin_changed(portfolio, account)


def portfolio_margin_refresh(*, portfolio_id, reason: str = MarginEvent.Reason.FILL, detail: str = "",
                             closed_position_id=None) -> AccountMargin:
    """Recompute a portfolio's margin at the live marks: each margined position's liquidation price,
    the portfolio's margin used, margin_history for what changed (a position just closed releases
    its margin), and a MarginUpdate."""
    with transaction.atomic():
        portfolio = portfolio_get(portfolio_id=portfolio_id, for_update=True)
        positions = portfolio_open_positions(portfolio)
        account = portfolio_margin(portfolio, positions)
        _apply_account(portfolio=portfolio, account=account, positions=positions, reason=reason, detail=detail)
        closed = Position.objects.filter(pk=closed_position_id, status=Position.Status.CLOSED).first() \
            if closed_position_id is not None else None
        if closed is not None:
            _margin_record(portfolio=portfolio, position=closed, margin_after=ZERO, reason=MarginEvent.Reason.CLOSED)
        return account


def position_margin_adjust(*, user, position_id, amount: Decimal) -> Position:
    """Add (amount > 0) or remove (amount < 0) margin of an isolated position (Binance's
    positionMargin). Adding draws on the portfolio's available margin; removing may not leave the
    position with less than its initial margin, nor put it in breach."""
    position = position_get_for_user(user=user, position_id=position_id)
    with transaction.atomic():
        portfolio = portfolio_lock_for_user(user=user, portfolio_id=position.portfolio_id)
        position = next((row for row in portfolio_open_positions(portfolio) if row.pk == position.pk), None)
        if position is None:
            raise Conflict("This position is closed.", code="position_closed")
        if position.margin_mode != MarginMode.ISOLATED:
            raise Conflict("Only an isolated position has margin of its own; a cross position uses the "
                           "portfolio's.", code="not_isolated")
        amount = quantize_money(amount)
        if amount == ZERO:
            raise DomainError("The amount must not be zero.", code="invalid_amount", field="amount")
        account = portfolio_margin(portfolio)
        if amount > ZERO and amount > account.margin_available:
            raise DomainError(f"{amount:f} is more than the {quantize_money(account.margin_available):f} of "
                              "margin available.", code="insufficient_margin", field="amount")
        if amount < ZERO:
            entry = account.position(position.pk)
            removable = max(ZERO, min(position.margin_added,
                                      entry.margin_balance - entry.maintenance_margin))
            if -amount > removable:
                raise DomainError(f"At most {quantize_money(removable):f} can be removed: the position keeps its "
                                  "initial margin and stays above maintenance.", code="margin_removal_too_large",
                                  field="amount")
        position_margin_added_set(position=position, margin_added=position.margin_added + amount)
        reason = MarginEvent.Reason.ADDED if amount > ZERO else MarginEvent.Reason.REMOVED
        _apply_account(portfolio=portfolio, account=portfolio_margin(portfolio), positions=portfolio_open_positions(
            portfolio), reason=reason, detail=f"{'added' if amount > ZERO else 'removed'} {abs(amount):f}")
        portfolio_events.position_changed(position, "margin")
        return position


def warning_ladder_set(*, user, portfolio_id, thresholds: list[Decimal]) -> Portfolio:
    """Set the portfolio's liquidation warning ladder: percentages of maintenance margin use."""
    return portfolio_update(user=user, portfolio_id=portfolio_id,
                            risk_settings={LADDER_SETTING: [f"{value.normalize():f}" for value in thresholds]})


def margin_refresh_on_commit(position: Position) -> None:
    """The POSITION_SAVED hook (portfolios.hooks; registered in DerivativesConfig.ready): after
    every write of a position (a fill, a reset, a funding payment, margin added), once the
    transaction commits, refresh its portfolio's margin — liquidation prices, margin used,
    margin_history and MarginUpdate. Unlevered cash positions have none of that and are skipped."""
    if not position.is_margined:
        return
    portfolio_id = position.portfolio_id
    closed_id = position.pk if position.status == Position.Status.CLOSED else None
    transaction.on_commit(lambda: _refresh_after_commit(portfolio_id, closed_id))


def _refresh_after_commit(portfolio_id, closed_position_id) -> None:
    try:
        portfolio_margin_refresh(portfolio_id=portfolio_id, closed_position_id=closed_position_id)
    except Exception:  # the write that triggered it has committed; the minute sweep refreshes again
        logger.exception("Margin refresh of portfolio %s failed", portfolio_id)


# --- insurance fund ----------------------------------------------------------------------------


def _fund_locked(currency: str = FUND_CURRENCY) -> InsuranceFund:
    """The fund row, locked; created with its opening balance (HAUNT_INSURANCE_FUND_SEED) on first use."""
    fund = InsuranceFund.objects.select_for_update().filter(currency=currency).first()
    if fund is not None:
        return fund
    seed = quantize_money(fund_seed())
    fund, created = InsuranceFund.objects.get_or_create(currency=currency, defaults={"balance": ZERO})
    fund = InsuranceFund.objects.select_for_update().get(pk=fund.pk)
    if created and seed:
        _fund_post(fund=fund, amount=seed, kind=InsuranceFundEntry.Kind.SEED)
    return fund


def _fund_post(*, fund: InsuranceFund, amount: Decimal, kind: str, liquidation: Liquidation | None = None) -> None:
    amount = quantize_money(amount)
    if amount == ZERO:
        return
    fund.balance = quantize_money(fund.balance + amount)
    fund.save(update_fields=["balance", "updated_at"])
    InsuranceFundEntry.objects.create(fund=fund, kind=kind, amount=amount, balance_after=fund.balance,
                                      liquidation=liquidation)


# --- funding -----------------------------------------------------------------------------------


def _perpetuals() -> list[Instrument]:
    return list(Instrument.objects.filter(asset_class="perpetual", is_active=True).select_related("underlying"))


def index_price_of(instrument: Instrument, quotes: dict[str, dict]) -> Decimal | None:
    """The index: the spot price of the perpetual's underlying, each aggregated source weighted
    alike (the simulator is one), a source more than 5% from the median weighted out."""
    spot = quotes.get(instrument.underlying.symbol) if instrument.underlying_id else None
    if spot is None or spot["bid"] is None or spot["ask"] is None:
        return None
    mid = (Decimal(spot["bid"]) + Decimal(spot["ask"])) / 2
    return funding.index_price(sources=[funding.IndexSource(price=mid, weight=Decimal(1))
                                        for _ in spot.get("sources") or ["aggregate"]])


def premium_sample_all(*, now: datetime) -> int:
    """Sample every perpetual's premium index now (a beat job, every minute): impact bid and ask
    for the impact margin notional against the live book, against the index."""
    perpetuals = _perpetuals()
    quotes = state.quotes_read([p.symbol for p in perpetuals] + [p.underlying.symbol for p in perpetuals
                                                                  if p.underlying_id])
    samples = []
    for instrument in perpetuals:
        index = index_price_of(instrument, quotes)
        book = state.book_read(instrument.symbol)
        if index is None or book is None or not book["bids"] or not book["asks"]:
            continue
        bids = [(Decimal(price), Decimal(size)) for price, size in book["bids"]]
        asks = [(Decimal(price), Decimal(size)) for price, size in book["asks"]]
        notional = funding.impact_margin_notional(initial_rate=PERP_LEVERAGE_TIERS[0].initial_rate)
        impact_bid = funding.impact_price(levels=bids, notional=notional)
        impact_ask = funding.impact_price(levels=asks, notional=notional)
        if impact_bid is None or impact_ask is None:
            continue
        samples.append(PremiumSample(
            instrument=instrument, sampled_at=now, index_price=quantize_price(index),
            premium=funding.premium_index(impact_bid=impact_bid, impact_ask=impact_ask, index_price=index)
            .quantize(Decimal("1e-10")),
            book_mid=quantize_price((bids[0][0] + asks[0][0]) / 2)))
    PremiumSample.objects.bulk_create(samples)
    return len(samples)


def funding_rate_predicted(*, instrument: Instrument, now: datetime) -> tuple[Decimal, int]:
    """The rate the next settlement would charge from the premium samples of its interval so far
    (the interest rate alone before the first sample), and how many samples that is."""
    next_time = funding.next_funding_time(now=now)
    samples = list(PremiumSample.objects.filter(
        instrument=instrument, sampled_at__gt=next_time - funding.FUNDING_INTERVAL, sampled_at__lte=now)
        .order_by("sampled_at").values_list("premium", flat=True))
    average = funding.average_premium_index(samples) if samples else ZERO
    return funding.funding_rate(average_premium=average), len(samples)


def funding_settle(*, instrument: Instrument, funding_time: datetime) -> FundingRate:
    """Settle one funding time of one perpetual: fix its rate from the interval's premium samples,
    then charge or pay every position open in it: size × mark × F, longs paying shorts when F > 0.
    Idempotent: the rate is fixed once per (instrument, time), each position is paid once, and a
    run cut short is completed by the next."""
    funding_rate = FundingRate.objects.filter(instrument=instrument, funding_time=funding_time).first()
    if funding_rate is None:
        samples = list(PremiumSample.objects.filter(
            instrument=instrument, sampled_at__gt=funding_time - funding.FUNDING_INTERVAL,
            sampled_at__lte=funding_time).order_by("sampled_at").values_list("premium", "index_price"))
        average = funding.average_premium_index([premium for premium, _ in samples]) if samples else ZERO
        mark = _mark_of(state.quote_read(instrument.symbol))
        funding_rate, _ = FundingRate.objects.get_or_create(
            instrument=instrument, funding_time=funding_time,
            defaults={"rate": funding.funding_rate(average_premium=average),
                      "average_premium": average.quantize(Decimal("1e-10")), "samples": len(samples),
                      "mark_price": quantize_price(mark),
                      "index_price": quantize_price(samples[-1][1] if samples else mark)})
    for position_id, portfolio_id in Position.objects.filter(
            instrument=instrument, status=Position.Status.OPEN, opened_at__lte=funding_time).exclude(
            funding_payments__funding_rate=funding_rate).values_list("pk", "portfolio_id"):
        funding_pay(funding_rate=funding_rate, position_id=position_id, portfolio_id=portfolio_id)
    settled = FundingPayment.objects.filter(funding_rate=funding_rate).count()
    if funding_rate.settled_positions != settled:
        FundingRate.objects.filter(pk=funding_rate.pk).update(settled_positions=settled)
        funding_rate.settled_positions = settled
    return funding_rate


def _mark_of(quote: dict | None) -> Decimal:
    if quote is None:
        raise Conflict("No live market to settle funding at.", code="market_unavailable")
    for key in ("mark", "last", "bid"):
        if quote.get(key) is not None:
            return Decimal(quote[key])
    raise Conflict("No live price to settle funding at.", code="market_unavailable")


def funding_pay(*, funding_rate: FundingRate, position_id, portfolio_id) -> int:
    """Book one position's funding at one settlement (1 if booked, 0 if closed or already paid)."""
    with transaction.atomic():
        portfolio = portfolio_get(portfolio_id=portfolio_id, for_update=True)
        position = Position.objects.select_for_update(of=("self",)).select_related("instrument").get(pk=position_id)
        if position.status != Position.Status.OPEN or FundingPayment.objects.filter(
                funding_rate=funding_rate, position=position).exists():
            return 0
        side = PositionSide(position.side)
        units = position.quantity * position.instrument.contract_multiplier
        amount = quantize_money(funding.funding_cash_flow(side=side, quantity=units, mark_price=funding_rate.mark_price,
                                                          rate=funding_rate.rate))
        FundingPayment.objects.create(funding_rate=funding_rate, position=position, portfolio=portfolio,
                                      side=position.side, quantity=position.quantity, mark_price=funding_rate.mark_price,
                                      rate=funding_rate.rate, amount=amount)
        if amount:
            position_funding_book(portfolio=portfolio, position=position, amount=amount,
                                  description=f"Funding {position.instrument.symbol} {funding_rate.rate:%} at "
                                              f"{funding_rate.funding_time:%Y-%m-%d %H:%M} UTC")
        return 1


def funding_settle_due(*, now: datetime) -> int:
    """Settle the latest funding time at or before `now` for every perpetual (the beat job at 00:00,
    08:00 and 16:00 UTC; a late or repeated run settles the same time once)."""
    latest = funding.next_funding_time(now=now) - funding.FUNDING_INTERVAL
    settled = 0
    for instrument in _perpetuals():
        funding_settle(instrument=instrument, funding_time=latest)
        settled += 1
    # Premium samples matter only to the interval they fall in; a day of them is kept for inspection.
    PremiumSample.objects.filter(sampled_at__lt=latest - PREMIUM_SAMPLE_RETENTION).delete()
    return settled


PREMIUM_SAMPLE_RETENTION = timedelta(days=1)


# --- liquidation -------------------------------------------------------------------------------


def _position_entry(portfolio: Portfolio, position_id) -> tuple[AccountMargin, PositionMargin | None]:
    account = portfolio_margin(portfolio)
    return account, account.position(position_id)


def position_liquidate(*, position_id, now: datetime | None = None) -> Liquidation | None:
    """Liquidate a position whose margin is in breach (spec §4): cancel its open orders, then close
    just enough of it through the book with immediate-or-cancel orders to bring the margin ratio
    back under 100% (stepping down the tiers), paying 0.5% of that notional to the insurance fund;
    when no partial close does, close the rest at the bankruptcy price, taken over by the fund (see
    `_takeover`), and recover what the fund cannot pay by auto-deleveraging.

    Idempotent and safe to run concurrently: the position is re-checked under the portfolio lock,
    and one that is no longer in breach (or closed) is left alone (returns None).
    """
    now = now or timezone.now()
    portfolio_id = Position.objects.filter(pk=position_id).values_list("portfolio_id", flat=True).first()
    if portfolio_id is None:
        return None
    with transaction.atomic():
        portfolio = portfolio_get(portfolio_id=portfolio_id, for_update=True)
        breach = _breach_locked(portfolio=portfolio, position_id=position_id, now=now)
        if breach is None:
            return None
        position, entry = breach
        position_orders_cancel(portfolio=portfolio, instrument_id=position.instrument_id,
                               reason="Cancelled: the position is being liquidated.")
        record = Liquidation.objects.create(
            position=position, portfolio=portfolio, kind=Liquidation.Kind.PARTIAL, margin_mode=position.margin_mode,
            side=position.side, quantity=ZERO, mark_price=quantize_price(entry.row.mark_price),
            margin_ratio=_ratio_for_record(entry.margin_ratio), realized_pnl=ZERO, fee=ZERO)
        fund = _fund_locked()
        fills: list[dict] = []
        position, realized = _partial_close(portfolio=portfolio, position=position, entry=entry, record=record,
                                            fund=fund, fills=fills, now=now)
        portfolio.open_positions = None  # the partial close changed the positions: read them again
        if position.status == Position.Status.OPEN:
            account, entry = _position_entry(portfolio, position_id)
            if entry is not None and entry.margin_ratio >= 1:
                realized += _takeover(portfolio=portfolio, position=position, entry=entry, record=record,
                                      fills=fills, fund=fund, now=now)
        _liquidation_finish(portfolio=portfolio, position=position, record=record, fills=fills, realized=realized)
        return record


def _breach_locked(*, portfolio: Portfolio, position_id, now: datetime) -> tuple[Position, PositionMargin] | None:
    """The open position, locked, with its margin entry, when it is in breach and its
    market is open; None when there is nothing to liquidate. Call under the portfolio lock."""
    position = Position.objects.select_for_update(of=("self",)).select_related("instrument").filter(
        pk=position_id, status=Position.Status.OPEN).first()
    if position is None or not calendar_for(position.instrument.asset_class).is_open(now):
        return None  # a leveraged stock waits for its session: nothing can be closed before it opens
    _, entry = _position_entry(portfolio, position_id)
    if entry is None or entry.margin_ratio < 1:
        return None
    return position, entry


def _partial_close(*, portfolio: Portfolio, position: Position, entry: PositionMargin, record: Liquidation,
                   fund: InsuranceFund, fills: list[dict], now: datetime) -> tuple[Position, Decimal]:
    """Close the smallest part through the book that restores the margin ratio (when one does),
    charging the liquidation fee to the portfolio and paying it to the fund; an isolated position
    keeps what is left of its collateral. Appends the fills; returns the position as it now is
    and the realized P&L."""
    realized = ZERO
    plan = _partial_plan(position=position, entry=entry)
    if plan is None or plan.is_full or plan.close_quantity <= ZERO:
        return position, realized
    collateral_before = entry.row.collateral
    trades = order_liquidate(portfolio=portfolio, position=position, quantity=plan.close_quantity, now=now,
                             tag="liquidation")
    rate = entry.row.rate
    notional = sum((trade.quantity * trade.price for trade in trades), ZERO) * position.instrument.contract_multiplier
    fee = _liquidation_fee(portfolio=portfolio, notional=notional * rate)
    if fee:
        portfolio_cash_post(portfolio=portfolio, amount=-fee, kind=LedgerEntry.Kind.LIQUIDATION,
                            reference=str(record.pk), description=f"Liquidation fee {position.instrument.symbol}")
        _fund_post(fund=fund, amount=fee, kind=InsuranceFundEntry.Kind.LIQUIDATION_FEE, liquidation=record)
    record.fee = fee
    for trade in trades:
        fills.append({"trade_id": str(trade.pk), "quantity": f"{trade.quantity:f}", "price": f"{trade.price:f}"})
        realized += trade.realized_pnl
    position = Position.objects.select_for_update(of=("self",)).select_related("instrument").get(pk=position.pk)
    if position.status == Position.Status.OPEN and position.margin_mode == MarginMode.ISOLATED:
        # A liquidation releases no margin: what the closed part realized, and its fees, come
        # out of the collateral still backing the rest.
        paid = sum((trade.fee for trade in trades), ZERO) + fee / rate
        kept = collateral_before + sum((trade.realized_pnl for trade in trades), ZERO) - paid
        position_margin_added_set(position=position, margin_added=kept - initial_margin(notional=position.cost_basis,
                                                                                        leverage=position.leverage))
    return position, realized


def _liquidation_finish(*, portfolio: Portfolio, position: Position, record: Liquidation, fills: list[dict],
                        realized: Decimal) -> None:
    """Complete the record from its fills, store the portfolio's margin after it (margin_history,
    MarginUpdate; the position's closing entry when it closed) and push the position and portfolio."""
    record.quantity = sum((Decimal(fill["quantity"]) for fill in fills), ZERO)
    record.fills = fills
    record.realized_pnl = quantize_money(realized)
    record.save()
    portfolio.open_positions = None
    detail = f"{record.kind} liquidation of {record.quantity:f} {position.instrument.symbol}"
    _apply_account(portfolio=portfolio, account=portfolio_margin(portfolio),
                   positions=portfolio_open_positions(portfolio), reason=MarginEvent.Reason.LIQUIDATION,
                   detail=detail)
    position.refresh_from_db()
    if position.status == Position.Status.CLOSED:
        _margin_record(portfolio=portfolio, position=position, margin_after=ZERO,
                       reason=MarginEvent.Reason.LIQUIDATION, detail=detail)
    portfolio_events.position_changed(position, "liquidated")
    portfolio_events.portfolio_changed(portfolio)


def _ratio_for_record(ratio: Decimal) -> Decimal:
    return Decimal("999999") if ratio.is_infinite() else min(ratio, Decimal("999999")).quantize(Decimal("1e-10"))


def _liquidation_fee(*, portfolio: Portfolio, notional: Decimal) -> Decimal:
    """0.5% of the notional (base currency) liquidated through the book, never more than the equity
    left: a trader never pays beyond what they hold. (A takeover at the bankruptcy price pays none:
    nothing is left to pay it from; the fund keeps the difference to the mark instead.)"""
    if notional <= ZERO:
        return ZERO
    equity = portfolio_margin(portfolio).equity
    return quantize_money(min(liquidation.LIQUIDATION_FEE_RATE * notional, max(equity, ZERO)), ROUND_FLOOR)


def _partial_plan(*, position: Position, entry: PositionMargin) -> liquidation.PartialLiquidation | None:
    """The smallest close through the book that restores the margin ratio, valued at the side of the
    book it trades against, after the liquidation fee."""
    quote = state.quote_read(position.instrument.symbol)
    if quote is None:
        return None
    row = entry.row
    fill_key = "bid" if row.side is PositionSide.LONG else "ask"
    if quote.get(fill_key) is None:
        return None
    fill_price = Decimal(quote[fill_key])
    multiplier = position.instrument.contract_multiplier
    plan = liquidation.plan_partial_liquidation(
        side=row.side, quantity=row.quantity, entry_price=row.entry_price, wallet_balance=entry.wallet_balance,
        mark_price=row.mark_price, fill_price=fill_price, lot_size=position.instrument.lot_size * multiplier,
        fee_rate=liquidation.LIQUIDATION_FEE_RATE + LIQUIDATION_TAKER_ALLOWANCE, tiers=row.tiers,
        other_maintenance_margin=entry.other_maintenance_margin, other_unrealized_pnl=entry.other_unrealized_pnl)
    return liquidation.PartialLiquidation(close_quantity=plan.close_quantity / multiplier,
                                          remaining_quantity=plan.remaining_quantity / multiplier,
                                          margin_ratio_after=plan.margin_ratio_after)


# The partial plan also pays the book's taker fee on the close; this allowance covers it.
LIQUIDATION_TAKER_ALLOWANCE = Decimal("0.001")


def _fund_result(row, *, units: Decimal, bankruptcy: Decimal) -> Decimal:
    """The fund's P&L, in the base currency, on `units` it takes over at the bankruptcy price and
    closes at the mark."""
    return unrealized_pnl(side=row.side, value=units * row.mark_price, cost=units * bankruptcy) * row.rate


def _takeover(*, portfolio: Portfolio, position: Position, entry: PositionMargin, record: Liquidation,
              fills: list[dict], fund: InsuranceFund, now: datetime) -> Decimal:
    """Close what is left at the bankruptcy price: the trader's collateral is gone exactly, and the
    fund takes the position over and closes it at the mark. The fund's gain or loss on that close is
    its entry; a loss it cannot pay is recovered by ADL at the bankruptcy price. Returns the realized P&L."""
    row = entry.row
    bankruptcy = entry.bankruptcy_price
    if bankruptcy is None:  # a long whose bankruptcy price is at or below zero: worthless collateral, close at the mark
        bankruptcy = row.mark_price
    bankruptcy = quantize_price(bankruptcy)
    quantity = position.quantity
    multiplier = position.instrument.contract_multiplier
    record.kind = Liquidation.Kind.FULL
    record.bankruptcy_price = bankruptcy
    # The fund's result of taking the position at the bankruptcy price and closing it at the mark.
    fund_result = _fund_result(row, units=quantity * multiplier, bankruptcy=bankruptcy)
    uncovered_quantity = ZERO
    if fund_result < ZERO and -fund_result > fund.balance:
        # The fund pays what it can; the rest of the position is closed against ADL counterparties at
        # the bankruptcy price, which costs the fund nothing.
        loss_per_unit = -fund_result / quantity
        uncovered_quantity = ((-fund_result - max(fund.balance, ZERO)) / loss_per_unit / position.instrument.lot_size
                              ).to_integral_value(rounding=ROUND_CEILING) * position.instrument.lot_size
        uncovered_quantity = min(uncovered_quantity, quantity)
    trades = order_liquidate(portfolio=portfolio, position=position, quantity=quantity, now=now, tag="takeover",
                             price=bankruptcy)
    realized = ZERO
    for trade in trades:
        fills.append({"trade_id": str(trade.pk), "quantity": f"{trade.quantity:f}", "price": f"{trade.price:f}",
                      "takeover": True})
        realized += trade.realized_pnl
    fund_quantity = quantity - uncovered_quantity
    fund_result = _fund_result(row, units=fund_quantity * multiplier, bankruptcy=bankruptcy)
    record.save()
    _fund_post(fund=fund, amount=fund_result, kind=InsuranceFundEntry.Kind.TAKEOVER if fund_result >= ZERO
               else InsuranceFundEntry.Kind.SHORTFALL, liquidation=record)
    record.fund_draw = quantize_money(max(-fund_result, ZERO))
    record.takeover_quantity = quantity
    record.takeover_close_price = quantize_price(row.mark_price)
    record.takeover_closed_quantity = fund_quantity
    if uncovered_quantity > ZERO:
        loss_per_unit = -_fund_result(row, units=multiplier, bankruptcy=bankruptcy)
        record.uncovered = quantize_money(uncovered_quantity * loss_per_unit)
        record.adl_counterparties, unmatched = _auto_deleverage(
            liquidated=position, quantity=uncovered_quantity, price=bankruptcy, now=now)
        if unmatched > ZERO:
            # No counterparty left to deleverage: the fund closes the rest at the mark and goes below
            # zero by the loss, loudly; nobody's equity is made negative to hide it.
            logger.error("Insurance fund overdrawn: %s %s unmatched by ADL after liquidation %s",
                         unmatched, position.instrument.symbol, record.pk)
            _fund_post(fund=fund, amount=-unmatched * loss_per_unit, kind=InsuranceFundEntry.Kind.SHORTFALL,
                       liquidation=record)
            record.fund_draw = quantize_money(record.fund_draw + unmatched * loss_per_unit)
            record.takeover_closed_quantity = fund_quantity + unmatched
    record.save()
    return realized


def _auto_deleverage(*, liquidated: Position, quantity: Decimal, price: Decimal,
                     now: datetime) -> tuple[list[dict], Decimal]:
    """Close `quantity` of the opposite side of the liquidated position's symbol at `price` (the
    bankruptcy price), no fee, highest ADL score first (Binance: PnL% × margin ratio). Returns the
    counterparties and the quantity no counterparty was left to take."""
    opposite = Position.Direction.SHORT if liquidated.side == Position.Direction.LONG else Position.Direction.LONG
    candidates = list(Position.objects.filter(instrument=liquidated.instrument, status=Position.Status.OPEN,
                                              side=opposite).exclude(portfolio=liquidated.portfolio_id)
                      .select_related("instrument"))
    ranked = _adl_ranked(candidates)
    counterparties = []
    remaining = quantity
    for position, score in ranked:
        if remaining <= ZERO:
            break
        portfolio = portfolio_get(portfolio_id=position.portfolio_id, for_update=True)
        position = Position.objects.select_for_update(of=("self",)).select_related("instrument").get(pk=position.pk)
        if position.status != Position.Status.OPEN:
            continue
        take = min(remaining, position.quantity)
        order_liquidate(portfolio=portfolio, position=position, quantity=take, now=now, tag="adl", price=price)
        remaining -= take
        counterparties.append({"position_id": str(position.pk), "portfolio_id": str(portfolio.pk),
                               "quantity": f"{take:f}", "price": f"{price:f}", "score": score})
        portfolio.open_positions = None
        _apply_account(portfolio=portfolio, account=portfolio_margin(portfolio),
                       positions=portfolio_open_positions(portfolio), reason=MarginEvent.Reason.ADL,
                       detail=f"auto-deleveraged {take:f} {position.instrument.symbol} at {price:f}")
        position.refresh_from_db()
        if position.status == Position.Status.CLOSED:
            _margin_record(portfolio=portfolio, position=position, margin_after=ZERO, reason=MarginEvent.Reason.ADL,
                           detail=f"auto-deleveraged at {price:f}")
        portfolio_events.position_changed(position, "adl")
        portfolio_events.portfolio_changed(portfolio)
    return counterparties, max(remaining, ZERO)


def _adl_ranked(positions: list[Position]) -> list[tuple[Position, float]]:
    """Positions with their ADL score, highest first (derivatives.liquidation.leverage_pnl)."""
    if not positions:
        return []
    pnl, wallet, maintenance = [], [], []
    accounts: dict = {}
    for position in positions:
        if position.portfolio_id not in accounts:
            accounts[position.portfolio_id] = portfolio_margin(portfolio_get(portfolio_id=position.portfolio_id))
        entry = accounts[position.portfolio_id].position(position.pk)
        if entry is None:
            pnl.append(0.0); wallet.append(1.0); maintenance.append(0.0)  # noqa: E702
            continue
        row = entry.row
        pnl.append(float(row.unrealized_pnl))
        if row.is_isolated:
            wallet.append(float(row.collateral)); maintenance.append(float(entry.maintenance_margin))  # noqa: E702
        else:
            account = accounts[position.portfolio_id]
            wallet.append(float(account.cross_wallet_balance)); maintenance.append(float(account.cross_maintenance_margin))  # noqa: E702
    scores = liquidation.leverage_pnl(unrealized_pnl=np.array(pnl), wallet_balance=np.array(wallet),
                                      maintenance_margin=np.array(maintenance))
    order = liquidation.adl_queue(scores)
    return [(positions[index], float(scores[index])) for index in order]


def adl_scores_refresh() -> int:
    """Store every open perpetual position's ADL score and its quantile (0-4) among its symbol and side."""
    updated = 0
    for instrument in _perpetuals():
        for side in (Position.Direction.LONG, Position.Direction.SHORT):
            positions = list(Position.objects.filter(instrument=instrument, status=Position.Status.OPEN, side=side)
                             .select_related("instrument"))
            if not positions:
                continue
            ranked = _adl_ranked(positions)
            scores = np.array([score for _, score in ranked])
            quantiles = liquidation.adl_quantiles(scores)
            for (position, score), quantile in zip(ranked, quantiles, strict=True):
                position.adl_score, position.adl_quantile = score, int(quantile)
            positions_adl_score_store(positions=[position for position, _ in ranked])
            updated += len(ranked)
    return updated


def liquidation_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Re-check every margined position (the beat job, every minute): liquidate what is in breach,
    store liquidation prices and ADL scores. Idempotent; two sweeps at once serialise on the row
    locks, and the second finds nothing left in breach."""
    now = now or timezone.now()
    portfolio_ids = set(Position.objects.filter(status=Position.Status.OPEN).filter(
        margined_positions_filter()).values_list("portfolio_id", flat=True))
    liquidated = checked = 0
    for portfolio_id in sorted(portfolio_ids, key=str):
        checked += 1
        account = portfolio_margin_refresh(portfolio_id=portfolio_id, reason=MarginEvent.Reason.FILL)
        for entry in account.positions:
            if entry.margin_ratio >= 1:
                try:
                    if position_liquidate(position_id=entry.row.key, now=now) is not None:
                        liquidated += 1
                except Exception:  # one failure (a lock conflict with a concurrent ADL) must not stop the sweep
                    logger.exception("Liquidation sweep: position %s could not be liquidated", entry.row.key)
                break  # the account changed: its other positions are checked on the next sweep
    scored = adl_scores_refresh()
    return {"portfolios": checked, "liquidated": liquidated, "adl_scored": scored}


def liquidation_warning_send(*, portfolio_id, position_id, symbol: str, threshold: float, margin_ratio: float,
                             liquidation_price: float | None, move: float | None) -> None:
    """Push LiquidationWarning for one position (the watcher decides when: once per crossing)."""
    events.liquidation_warning(portfolio_id=portfolio_id, position_id=position_id, symbol=symbol, threshold=threshold,
                               margin_ratio=margin_ratio, liquidation_price=liquidation_price, move=move)
