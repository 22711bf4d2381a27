"""Shared setup for the options tests that touch the database: a frozen clock at a moment the
NYSE is open, the underlyings' live books, and a frictionless portfolio."""
import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from haunt.market.services import instruments_sync
from haunt.realtime import portfolio_events_group, publisher
from haunt.market.universe import spec_by_symbol
from orders.tests.books import make_portfolio, publish

D = Decimal
NOW = datetime(2026, 11, 24, 15, 0, 2, tzinfo=UTC)  # Tuesday 10:00 in New York
UNDERLYINGS = ("AAPL", "SPY", "BTC-USD")


@pytest.fixture
def frozen_now(monkeypatch):
    """The services read the clock through django.utils.timezone.now: pin it to NOW."""
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)
    return NOW


@pytest.fixture
def underlyings(db, frozen_now):
    """AAPL at 200.00/200.02 (mid 200.01), SPY 680.00/680.02, BTC 90000/90001, as the live market."""
    instruments_sync(tuple(spec_by_symbol(symbol) for symbol in UNDERLYINGS))
    publish("AAPL", bids=[("200.00", "500")], asks=[("200.02", "500")])
    publish("SPY", bids=[("680.00", "500")], asks=[("680.02", "500")])
    publish("BTC-USD", bids=[("90000.00", "5")], asks=[("90001.00", "5")])


@pytest.fixture
def portfolio(user, underlyings):
    return make_portfolio(user)


def group_messages(portfolio_id, stream: str, run, capture_on_commit) -> list[dict]:
    """Every event of the portfolio's `stream` a socket following it receives once `run()` commits
    (capture_on_commit is pytest-django's django_capture_on_commit_callbacks)."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(portfolio_events_group(portfolio_id), channel)
    with capture_on_commit(execute=True):
        run()
    publisher.flush()  # with Redis, committed events leave through a background loop

    async def drain():
        received = []
        while True:
            try:
                batch = await asyncio.wait_for(layer.receive(channel), 0.2)
            except TimeoutError:
                return received
            received.extend(event for event in batch["events"] if event["stream"] == stream)

    return async_to_sync(drain)()
