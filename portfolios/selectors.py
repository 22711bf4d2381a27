"""Reads on behalf of a user: always scoped to the owner, so a foreign id is simply not found."""
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet

from haunt.errors import NotFound
from haunt.model_select import ModelSelect
from portfolios.models import LedgerEntry, Portfolio, Position

# Every order reads these under the portfolio lock: compiled once (haunt.model_select).
_OWNED_PORTFOLIO = ModelSelect(Portfolio, where=("pk", "owner"))
_OWNED_PORTFOLIO_LOCKED = ModelSelect(Portfolio, where=("pk", "owner"), lock=True)
_OPEN_POSITIONS = ModelSelect(Position, where=("portfolio", "status"), related=("instrument",))


def portfolio_list_for_user(*, user, include_archived: bool = False) -> QuerySet[Portfolio]:
    """With each portfolio's open positions prefetched (as `open_positions`), for valuation."""
    portfolios = Portfolio.objects.filter(owner=user).prefetch_related(Prefetch(
        "positions", queryset=Position.objects.filter(status=Position.Status.OPEN).select_related("instrument"),
        to_attr="open_positions"))
    return portfolios if include_archived else portfolios.active()


def portfolio_open_positions(portfolio: Portfolio) -> list[Position]:
    """The portfolio's open positions with their instruments, read once per portfolio instance and
    kept on it as `open_positions` (the attribute portfolio_list_for_user prefetches).

    For writers holding the portfolio lock: no other transaction can change these positions while
    it is held, and position_apply_fill keeps the list current as fills open, change and close
    positions, so one order's checks, buying power, fill and events share a single query.
    """
    positions = getattr(portfolio, "open_positions", None)
    if positions is None:
        positions = portfolio.open_positions = open_positions_read(portfolio.pk)
    return positions


def open_positions_read(portfolio_id) -> list[Position]:
    """The portfolio's open positions with their instruments, read now (not kept anywhere)."""
    return _OPEN_POSITIONS.fetch(portfolio_id, Position.Status.OPEN)


def open_position_in(portfolio: Portfolio, instrument_id) -> Position | None:
    """The portfolio's open position in one instrument (from portfolio_open_positions)."""
    return next((position for position in portfolio_open_positions(portfolio)
                 if position.instrument_id == instrument_id), None)


def portfolio_get_for_user(*, user, portfolio_id, for_update: bool = False) -> Portfolio:
    """The user's portfolio (404 for anyone else's); `for_update` locks the row: call inside atomic()."""
    try:
        portfolio = (_OWNED_PORTFOLIO_LOCKED if for_update else _OWNED_PORTFOLIO).first(portfolio_id, user.pk)
    except (ValidationError, ValueError, TypeError):  # a malformed id is as absent as a foreign one
        portfolio = None
    if portfolio is None:
        raise NotFound("Portfolio not found.", field="portfolio_id")
    return portfolio


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

