"""Shared fixtures. Users and portfolios are made through the real services, so every test starts
from rows that satisfy the invariants (cash equals its ledger from the first entry)."""
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache

from haunt.accounts.services import user_register
from haunt.market.selectors import tradable_instruments_forget
from tests.openapi_contract import ContractCheckedAPIClient


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Quotes, books and throttle counters live in the cache: each test starts without them."""
    cache.clear()
    tradable_instruments_forget()  # the per-process copy: each test makes its own instrument rows
    yield
    cache.clear()


def _client_for(token) -> ContractCheckedAPIClient:
    client = ContractCheckedAPIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api_client():
    return ContractCheckedAPIClient()


@pytest.fixture
def user_and_token(db):
    return user_register(username="alice", password="correct-horse-battery", email="alice@example.com")


@pytest.fixture
def user(user_and_token):
    return user_and_token[0]


@pytest.fixture
def auth_client(user_and_token):
    return _client_for(user_and_token[1])


@pytest.fixture
def other_user_and_token(db):
    return user_register(username="mallory", password="another-horse-battery", email="mallory@example.com")


@pytest.fixture
def other_user(other_user_and_token):
    return other_user_and_token[0]


@pytest.fixture
def other_client(other_user_and_token):
    return _client_for(other_user_and_token[1])


@pytest.fixture
def instruments(db):
    from haunt.market.services import instruments_sync

    instruments_sync()


@pytest.fixture
def market_feed(instruments):
    """The real simulator feed, stepped once: quotes and books are in the cache as in production."""
    from haunt.market.feed import SimulatorSource, MarketFeed
    from haunt.market.models import Instrument
    from haunt.market.simulator import MarketSimulator
    from haunt.market.universe import UNIVERSE

    start = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # a Tuesday afternoon: NYSE and forex open
    simulator = MarketSimulator(UNIVERSE, seed=7, start=start)
    feed = MarketFeed(
        sources=[SimulatorSource(simulator, UNIVERSE)],
        instrument_ids=dict(Instrument.objects.values_list("symbol", "pk")),
        stale_after=timedelta(days=3650),  # the test clock is fixed in the past
    )
    feed.update(start + timedelta(seconds=1))
    return feed


@pytest.fixture
def portfolio(user, instruments):
    from portfolios.services import portfolio_create

    return portfolio_create(user=user, name="Main")
