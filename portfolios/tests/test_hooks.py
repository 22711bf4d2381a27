"""portfolios.hooks.POSITION_SAVED: every portfolios write of a position row calls the registered
hooks with the position as saved (derivatives follows margin this way)."""
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from orders.services import OrderRequest, order_place
from portfolios import hooks
from portfolios.models import Position
from portfolios.positions import borrow_fees_charge_due, position_exits_changed, positions_wipe
from portfolios.services import portfolio_create, position_funding_book, position_margin_added_set

pytestmark = pytest.mark.django_db
OPENED = datetime(2026, 11, 24, 15, 0, 2, tzinfo=UTC)


@pytest.fixture
def saved(monkeypatch):
    """The (position id, status) of each call of a hook registered for the test."""
    calls = []
    monkeypatch.setattr(hooks, "POSITION_SAVED", [*hooks.POSITION_SAVED,
                                                  lambda position: calls.append((position.pk, position.status))])
    return calls


def place(user, portfolio, side: str, quantity: str) -> Position:
    order_place(user=user, portfolio_id=portfolio.pk, now=OPENED, request=OrderRequest(
        symbol="ETH-USD", side=side, order_type="market", quantity=Decimal(quantity)))
    return Position.objects.filter(portfolio=portfolio, status="open").first()


def test_fills_open_change_close_and_flip_a_position_through_the_hook(user, market_feed, saved):
    portfolio = portfolio_create(user=user, name="Hooks", simulate_latency=False)
    opened = place(user, portfolio, "buy", "3")
    assert saved == [(opened.pk, "open")]
    place(user, portfolio, "sell", "1")
    assert saved[-1] == (opened.pk, "open")
    flipped = place(user, portfolio, "sell", "4")
    assert saved[-2:] == [(opened.pk, "closed"), (flipped.pk, "open")] and flipped.side == "short"


def test_reset_wipe_borrow_fee_exits_funding_and_margin_run_the_hook(user, market_feed, saved):
    portfolio = portfolio_create(user=user, name="Hooks", simulate_latency=False)
    position = place(user, portfolio, "sell", "3")
    saved.clear()

    assert borrow_fees_charge_due(now=datetime(2026, 11, 25, 0, 5, tzinfo=UTC)) == 1
    with transaction.atomic():
        position = Position.objects.select_for_update().get(pk=position.pk)
        position_exits_changed(position=position, stop_loss=None, take_profit=None)
        position_funding_book(portfolio=portfolio, position=position, amount=Decimal("-1"), description="Funding")
        position_margin_added_set(position=position, margin_added=Decimal("0"))
        positions_wipe(portfolio=portfolio, now=timezone.now())

    assert saved == [(position.pk, "open")] * 4 + [(position.pk, "closed")]
