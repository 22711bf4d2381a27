"""Django admin: every registered model renders for staff, and money rows cannot be edited there."""
from decimal import Decimal

import pytest
from django.urls import reverse

from haunt.accounts.models import User
from portfolios.models import LedgerEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    admin = User.objects.create_superuser("root", "root@example.com", "admin-password-123")
    client.force_login(admin)
    return client


@pytest.mark.parametrize("model", ["accounts/user", "market/instrument", "market/candle", "portfolios/portfolio",
                                   "portfolios/ledgerentry", "portfolios/position", "orders/order", "orders/trade",
                                   "reporting/journalentry", "competitions/competition",
                                   "notifications/webhookendpoint", "notifications/webhookdelivery"])
def test_changelists_render(admin_client, portfolio, model):
    assert admin_client.get(f"/admin/{model}/").status_code == 200


def test_ledger_and_portfolios_are_read_only(admin_client, portfolio):
    entry = LedgerEntry.objects.get(portfolio=portfolio)

    assert admin_client.get("/admin/portfolios/ledgerentry/add/").status_code == 403
    assert admin_client.post(f"/admin/portfolios/ledgerentry/{entry.pk}/change/", {"amount": "1"}).status_code == 403
    assert admin_client.post(f"/admin/portfolios/portfolio/{portfolio.pk}/change/", {"cash": "1"}).status_code == 403
    portfolio.refresh_from_db()
    assert portfolio.cash == Decimal("5000000")


def test_archive_action_goes_through_the_service(admin_client, portfolio):
    response = admin_client.post(reverse("admin:portfolios_portfolio_changelist"),
                                 {"action": "archive", "_selected_action": [str(portfolio.pk)]})

    assert response.status_code == 302
    portfolio.refresh_from_db()
    assert portfolio.is_archived and portfolio.archived_at is not None


def test_deactivated_instrument_stays_inactive_after_a_resync(instruments):
    from haunt.market.models import Instrument
    from haunt.market.services import instruments_sync

    Instrument.objects.filter(symbol="DOGE-USD").update(is_active=False)
    instruments_sync()

    assert Instrument.objects.get(symbol="DOGE-USD").is_active is False
