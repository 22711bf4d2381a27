from decimal import Decimal

import pytest

from haunt.errors import Conflict, NotFound
from portfolios.models import LedgerEntry, Portfolio
from portfolios.selectors import ledger_sum
from portfolios.services import (
    portfolio_archive,
    portfolio_clone,
    portfolio_create,
    portfolio_reset,
    portfolio_topup,
    portfolio_update,
)

pytestmark = pytest.mark.django_db


def assert_cash_equals_ledger(portfolio):
    portfolio.refresh_from_db()
    assert portfolio.cash == ledger_sum(portfolio_id=portfolio.pk)
    last = LedgerEntry.objects.filter(portfolio=portfolio).order_by("-id").first()
    assert last.balance_after == portfolio.cash


def test_new_portfolio_holds_five_million_dollars_deposited_through_the_ledger(user, instruments):
    portfolio = portfolio_create(user=user, name="Main")

    assert portfolio.cash == Decimal("5000000")
    assert portfolio.starting_balance == Decimal("5000000")
    entries = list(LedgerEntry.objects.filter(portfolio=portfolio))
    assert [(entry.kind, entry.amount) for entry in entries] == [("deposit", Decimal("5000000"))]
    assert_cash_equals_ledger(portfolio)


def test_defaults_follow_the_spec(portfolio):
    assert portfolio.cost_basis_method == "fifo"
    assert portfolio.risk_settings["max_position_size_pct"] == "25"
    assert portfolio.risk_settings["daily_loss_limit_pct"] == "10"
    assert portfolio.risk_settings["max_open_positions"] == 20
    assert portfolio.risk_settings["risk_per_trade_pct"] == "2"
    assert portfolio.risk_settings["drawdown_stop_pct"] == "25"
    assert portfolio.risk_settings["correlation_warning_threshold"] == "0.7"
    assert portfolio.risk_settings["modes"]["max_position_size_pct"] == "block"
    assert portfolio.default_leverage == {"crypto_spot": "1", "stock": "1", "etf": "1", "perpetual": "10", "forex": "1"}


def test_eur_portfolio_starts_with_five_million_dollars_at_the_market_rate(user, market_feed):
    from haunt.market.selectors import quote_get

    quote = quote_get(symbol="EUR-USD")
    mid = (Decimal(quote["bid"]) + Decimal(quote["ask"])) / 2

    portfolio = portfolio_create(user=user, name="Euro book", base_currency="EUR")

    assert portfolio.starting_balance == (Decimal(5_000_000) / mid).quantize(Decimal("0.01"))
    assert_cash_equals_ledger(portfolio)


def test_btc_portfolio_is_funded_in_satoshis(user, market_feed):
    from haunt.market.selectors import quote_get

    quote = quote_get(symbol="BTC-USD")
    mid = (Decimal(quote["bid"]) + Decimal(quote["ask"])) / 2

    portfolio = portfolio_create(user=user, name="Stacking", base_currency="BTC")

    assert portfolio.starting_balance == (Decimal(5_000_000) / mid).quantize(Decimal("0.00000001"))


def test_topup_adds_cash_and_is_tracked_apart_from_return(user, portfolio):
    portfolio_topup(user=user, portfolio_id=portfolio.pk, amount=Decimal("250000.5"))
    portfolio_topup(user=user, portfolio_id=portfolio.pk, amount=Decimal("1"))

    portfolio.refresh_from_db()
    assert portfolio.cash == Decimal("5250001.5")
    assert portfolio.total_topups == Decimal("250001.5")
    assert_cash_equals_ledger(portfolio)


def test_reset_returns_to_the_starting_balance_and_keeps_history(user, portfolio):
    portfolio_topup(user=user, portfolio_id=portfolio.pk, amount=Decimal("1000"))

    portfolio_reset(user=user, portfolio_id=portfolio.pk)

    portfolio.refresh_from_db()
    assert portfolio.cash == Decimal("5000000")
    assert portfolio.total_topups == 0
    assert portfolio.last_reset_at is not None
    kinds = list(LedgerEntry.objects.filter(portfolio=portfolio).order_by("id").values_list("kind", "amount"))
    assert kinds == [("deposit", Decimal("5000000")), ("topup", Decimal("1000")), ("reset", Decimal("-1000"))]
    assert_cash_equals_ledger(portfolio)


def test_archived_portfolio_refuses_changes_and_keeps_its_rows(user, portfolio):
    portfolio_archive(user=user, portfolio_id=portfolio.pk)

    with pytest.raises(Conflict) as refusal:
        portfolio_topup(user=user, portfolio_id=portfolio.pk, amount=Decimal("1"))

    assert refusal.value.code == "portfolio_archived"
    portfolio.refresh_from_db()
    assert portfolio.is_archived and portfolio.cash == Decimal("5000000")
    assert LedgerEntry.objects.filter(portfolio=portfolio).count() == 1


def test_another_users_portfolio_is_not_found(other_user, portfolio):
    with pytest.raises(NotFound):
        portfolio_topup(user=other_user, portfolio_id=portfolio.pk, amount=Decimal("1"))
    portfolio.refresh_from_db()
    assert portfolio.cash == Decimal("5000000")


def test_update_merges_risk_settings_key_by_key(user, portfolio):
    portfolio_update(user=user, portfolio_id=portfolio.pk, name="Renamed",
                     risk_settings={"max_position_size_pct": "10", "modes": {"max_position_size_pct": "warn"}})

    portfolio.refresh_from_db()
    assert portfolio.name == "Renamed"
    assert portfolio.risk_settings["max_position_size_pct"] == "10"
    assert portfolio.risk_settings["modes"]["max_position_size_pct"] == "warn"
    assert portfolio.risk_settings["modes"]["daily_loss_limit_pct"] == "block"
    assert portfolio.risk_settings["daily_loss_limit_pct"] == "10"


def test_clone_copies_settings_into_a_fresh_portfolio(user, portfolio):
    portfolio_update(user=user, portfolio_id=portfolio.pk, cost_basis_method="lifo", strategy_tags=["swing"])
    portfolio_topup(user=user, portfolio_id=portfolio.pk, amount=Decimal("5"))

    copy = portfolio_clone(user=user, portfolio_id=portfolio.pk)

    assert copy.pk != portfolio.pk
    assert copy.name == "Main (copy)"
    assert copy.cost_basis_method == "lifo" and copy.strategy_tags == ["swing"]
    assert copy.cash == Decimal("5000000") and copy.total_topups == 0
    assert Portfolio.objects.filter(owner=user).count() == 2
    assert_cash_equals_ledger(copy)


def test_portfolio_update_event_is_sent_only_after_commit(user, portfolio, django_capture_on_commit_callbacks):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from haunt.realtime import portfolio_events_group

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(portfolio_events_group(portfolio.pk), channel)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        portfolio_topup(user=user, portfolio_id=portfolio.pk, amount=Decimal("42"))

    assert len(callbacks) == 1
    batch = async_to_sync(layer.receive)(channel)
    assert batch["type"] == "stream.events" and batch["portfolio_id"] == str(portfolio.pk)
    [message] = batch["events"]
    assert message["stream"] == "portfolio" and message["event"] == "PortfolioUpdate"
    assert message["data"]["id"] == str(portfolio.pk)
    assert message["data"]["current_balance"] == "5000042.00000000"
    assert message["data"]["total_topups"] == "42.00000000"
