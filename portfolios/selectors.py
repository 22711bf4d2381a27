"""Reads on behalf of a user: always scoped to the owner, so a foreign id is simply not found."""
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import QuerySet, Sum

from haunt.errors import NotFound
from portfolios.models import LedgerEntry, Portfolio


def portfolio_list_for_user(*, user, include_archived: bool = False) -> QuerySet[Portfolio]:
    portfolios = Portfolio.objects.filter(owner=user)
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
    """Sum of every ledger entry: what the portfolio's cash must equal."""
    return LedgerEntry.objects.filter(portfolio_id=portfolio_id).aggregate(total=Sum("amount"))["total"] or Decimal(0)
