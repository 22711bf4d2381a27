"""The engine learns of new, changed and cancelled orders from the ids the services hand over on
commit (orders.changes), with its database reconciliation turned off: no notice, no knowledge.
Committed transactions (transaction=True), as in the running platform; on Redis the notices cross
pub/sub to the listener run_engine starts, so the tests wait for them as the engine would."""
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.changes import ChangeListener, changed_order_ids
from orders.engine import OrderEngine
from orders.models import OrderStatus
from orders.services import OrderRequest, order_cancel, order_place
from orders.tests.books import D, NOW, instruments, make_portfolio, publish_eth  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def quiet_engine(settings, instruments, monkeypatch):  # noqa: F811
    """An engine that never reconciles with the database on its own, on a pinned clock, hearing
    the notices as run_engine does."""
    settings.HAUNT_ENGINE_RECONCILE_SECONDS = 3600
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    publish_eth()
    listener = ChangeListener().start() if settings.REDIS_URL else None
    engine = OrderEngine()
    engine.tick(now=NOW)  # the first tick loads every open order (none yet)
    changed_order_ids()  # nothing else from earlier tests
    yield engine
    if listener is not None:
        listener.stop()


def sync_until(engine: OrderEngine, condition) -> bool:
    """Sync until `condition()` holds (a notice over Redis takes a moment), for at most 5 s."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        engine.sync(now=NOW)
        if condition():
            return True
        time.sleep(0.01)
    return False


def place(portfolio, **fields):
    order, _ = order_place(user=portfolio.owner, portfolio_id=portfolio.pk, now=NOW, request=OrderRequest(**fields))
    return order


def test_a_committed_order_reaches_the_engine_by_its_notice_alone(user, quiet_engine):
    portfolio = make_portfolio(user)
    resting = place(portfolio, symbol="ETH-USD", side="buy", order_type="limit", quantity=D("1"),
                    limit_price=D("1900"))

    with CaptureQueriesContext(connection) as queries:
        assert sync_until(quiet_engine, lambda: resting.pk in quiet_engine.symbols.get("ETH-USD", ()))
    # One read of the rows named, none of the whole table by updated_at.
    order_reads = [query["sql"] for query in queries.captured_queries if "orders_order" in query["sql"]]
    assert len(order_reads) == 1 and '"orders_order"."id" IN' in order_reads[0]
    assert '"updated_at" >=' not in order_reads[0]

    order_cancel(user=user, order_id=resting.pk)
    assert sync_until(quiet_engine, lambda: resting.pk not in quiet_engine.symbols["ETH-USD"])
    assert len(quiet_engine.index) == 0


def test_an_order_waiting_out_its_latency_is_executed_when_due(user, quiet_engine):
    portfolio = make_portfolio(user, profile="realistic", latency=True)
    order = place(portfolio, symbol="ETH-USD", side="buy", order_type="market", quantity=D("1"))
    assert order.execute_after is not None and order.status == OrderStatus.ACCEPTED
    due = order.execute_after
    assert sync_until(quiet_engine, lambda: order.pk in quiet_engine.due_at)

    assert quiet_engine.tick(now=due - timedelta(milliseconds=1))["executed"] == 0
    assert quiet_engine.tick(now=due)["executed"] == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.FILLED
    assert quiet_engine.tick(now=due + timedelta(seconds=1))["executed"] == 0


def test_without_notices_the_engine_does_not_know(user, quiet_engine):
    """The control: with the notice taken away before the engine reads it, the quiet engine misses
    the order (so the tests above pass because of the notices, not because of a database read)."""
    portfolio = make_portfolio(user)
    resting = place(portfolio, symbol="ETH-USD", side="buy", order_type="limit", quantity=D("1"),
                    limit_price=D("1900"))
    deadline, taken = time.monotonic() + 5, set()
    while str(resting.pk) not in taken and time.monotonic() < deadline:
        taken |= changed_order_ids()[0]
        time.sleep(0.01)
    assert str(resting.pk) in taken
    quiet_engine.sync(now=NOW)
    assert resting.pk not in quiet_engine.symbols.get("ETH-USD", set())


def test_prices_pushed_by_the_market_hub_fire_a_stop(user, quiet_engine):
    """run_engine subscribes the engine to the feed's updates: the trigger then reads the pushed
    prices, not the cache (which still shows ETH at 1999.50 here)."""
    portfolio = make_portfolio(user)
    place(portfolio, symbol="ETH-USD", side="buy", order_type="market", quantity=D("1"))
    stop = place(portfolio, symbol="ETH-USD", side="sell", order_type="stop", quantity=D("1"), stop_price=D("1995"))
    assert sync_until(quiet_engine, lambda: stop.pk in quiet_engine.index)
    assert quiet_engine.tick(now=NOW)["fired"] == 0  # no push yet: the cached last, 1999.50

    quiet_engine.on_market_update({"seq": 7, "books": [], "quotes": [
        {"symbol": "ETH-USD", "bid": "1989.00", "ask": "1990.00", "last": "1990.00"}]})
    assert quiet_engine.tick(now=NOW)["fired"] == 1
    stop.refresh_from_db()
    assert stop.status == OrderStatus.FILLED
    assert stop.average_fill_price == D("1999")  # filled against the live book, at its bid
