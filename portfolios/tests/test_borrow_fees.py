from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal

import pytest

from haunt.market import state
from orders.services import OrderRequest, order_place
from portfolios.models import LedgerEntry, Position
from portfolios.positions import borrow_fees_charge_due
from portfolios.selectors import ledger_sum
from portfolios.services import portfolio_create

pytestmark = pytest.mark.django_db
OPENED = datetime(2026, 11, 24, 15, 0, 2, tzinfo=UTC)


@pytest.fixture
def short_eth(user, market_feed):
    portfolio = portfolio_create(user=user, name="Shorts", simulate_latency=False)
    order_place(user=user, portfolio_id=portfolio.pk, now=OPENED, request=OrderRequest(
        symbol="ETH-USD", side="sell", order_type="market", quantity=Decimal("3")))
    return portfolio, Position.objects.get(portfolio=portfolio, status="open")


def test_a_short_pays_a_day_of_borrow_for_each_midnight_it_is_held_over(short_eth):
    portfolio, position = short_eth
    ask = Decimal(state.quote_read("ETH-USD")["ask"])
    two_midnights_later = datetime(2026, 11, 26, 0, 5, tzinfo=UTC)

    assert position.side == "short" and position.instrument.borrow_rate == Decimal("0.05")
    assert borrow_fees_charge_due(now=two_midnights_later) == 1

    expected = (Decimal(3) * ask * Decimal("0.05") * 2 / 365).quantize(Decimal("0.00000001"), rounding=ROUND_CEILING)
    entry = LedgerEntry.objects.get(portfolio=portfolio, kind="borrow_fee")
    position.refresh_from_db()
    portfolio.refresh_from_db()
    assert entry.amount == -expected
    assert position.borrow_fees_paid == expected
    assert position.borrow_accrued_until == datetime(2026, 11, 26, tzinfo=UTC)
    assert portfolio.cash == ledger_sum(portfolio_id=portfolio.pk)


def test_charging_again_the_same_day_charges_nothing(short_eth):
    portfolio, _ = short_eth
    morning = datetime(2026, 11, 25, 0, 5, tzinfo=UTC)

    assert borrow_fees_charge_due(now=morning) == 1
    assert borrow_fees_charge_due(now=morning + timedelta(hours=12)) == 0
    assert LedgerEntry.objects.filter(portfolio=portfolio, kind="borrow_fee").count() == 1


def test_a_short_opened_and_charged_before_midnight_pays_nothing(short_eth):
    assert borrow_fees_charge_due(now=OPENED + timedelta(hours=3)) == 0
    assert not LedgerEntry.objects.filter(kind="borrow_fee").exists()


def test_longs_pay_no_borrow(user, market_feed):
    portfolio = portfolio_create(user=user, name="Longs", simulate_latency=False)
    order_place(user=user, portfolio_id=portfolio.pk, now=OPENED, request=OrderRequest(
        symbol="ETH-USD", side="buy", order_type="market", quantity=Decimal("3")))

    assert borrow_fees_charge_due(now=datetime(2026, 11, 27, tzinfo=UTC)) == 0
