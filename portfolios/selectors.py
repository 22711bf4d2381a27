"""Reads on behalf of a user: always scoped to the owner, so a foreign id is simply not found."""
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Max, Prefetch, QuerySet

from haunt.errors import NotFound
from portfolios.models import LedgerEntry, Portfolio, Position, PositionLot


def portfolio_list_for_user(*, user, include_archived: bool = False) -> QuerySet[Portfolio]:
    """With each portfolio's open positions prefetched (as `open_positions`), for valuation."""
    portfolios = Portfolio.objects.filter(owner=user).prefetch_related(Prefetch(
        "positions", queryset=Position.objects.filter(status=Position.Status.OPEN).select_related("instrument"),
        to_attr="open_positions"))
    return portfolios if include_archived else portfolios.active()


def portfolio_get_for_user(*, user, portfolio_id) -> Portfolio:
    try:
        return Portfolio.objects.get(pk=portfolio_id, owner=user)
    except (Portfolio.DoesNotExist, ValidationError, ValueError, TypeError):  # a malformed id is as absent as a foreign one
        raise NotFound("Portfolio not found.", field="portfolio_id") from None


def portfolio_get(*, portfolio_id, for_update: bool = False) -> Portfolio:
    """System access (services, tasks, the engine). `for_update` locks the row: call inside atomic()."""
    portfolios = Portfolio.objects.select_for_update() if for_update else Portfolio.objects
    try:
        return portfolios.get(pk=portfolio_id)
    except Portfolio.DoesNotExist:
        raise NotFound("Portfolio not found.", field="portfolio_id") from None


def ledger_list_for_user(*, user, portfolio_id) -> QuerySet[LedgerEntry]:
    portfolio = portfolio_get_for_user(user=user, portfolio_id=portfolio_id)
    return LedgerEntry.objects.filter(portfolio=portfolio)


def ledger_sum(*, portfolio_id) -> Decimal:
    """Sum of every ledger entry: what the portfolio's cash must equal. Added up in Decimal here:
    SQLite's SUM works in binary floating point and would not reconcile to the last satoshi."""
    return sum(LedgerEntry.objects.filter(portfolio_id=portfolio_id).values_list("amount", flat=True), Decimal(0))


def position_list_for_user(*, user, include_closed: bool = False) -> QuerySet[Position]:
    positions = Position.objects.filter(portfolio__owner=user).select_related("instrument").prefetch_related("lots")
    return positions if include_closed else positions.filter(status=Position.Status.OPEN)


def position_get_for_user(*, user, position_id) -> Position:
    try:
        return position_list_for_user(user=user, include_closed=True).get(pk=position_id)
    except (Position.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("Position not found.", field="position_id") from None


def latest_open_lot_time(*, portfolio_id, instrument_id) -> datetime | None:
    """When the newest open lot of the portfolio's open position in the instrument was opened."""
    return PositionLot.objects.filter(
        position__portfolio_id=portfolio_id, position__instrument_id=instrument_id,
        position__status=Position.Status.OPEN, quantity__gt=0,
    ).aggregate(latest=Max("opened_at"))["latest"]
