"""Races on the trading core, on PostgreSQL where select_for_update is a real lock (style guide §3.8).

Each test commits its setup (transaction=True), starts threads that wait at a barrier and then hit
the services (or the engine) at once, and asserts the invariant the locks exist for: cash is never
overdrawn or double spent, an order is filled at most its quantity and ends in one terminal state,
and two engines never fill the same order twice. Every thread closes its database connections.

The last test replays one interleaving deterministically, without threads, so it runs on SQLite too.
"""
import threading
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection, connections
from django.utils import timezone

from haunt.errors import Conflict, DomainError
from haunt.market import state
from orders import services
from orders.engine import OrderEngine
from orders.models import Order, OrderEvent, OrderStatus, Trade
from orders.services import OrderRequest, order_cancel, order_place
from portfolios.models import Position
from portfolios.selectors import ledger_sum
from portfolios.services import portfolio_create

# Threads need committed rows (transaction=True) and real row locks (PostgreSQL).
postgres_only = pytest.mark.skipif(connection.vendor != "postgresql",
                                   reason="SQLite serialises writers; locks are tested on PostgreSQL")

SYMBOL = "SOL-USD"
THREADS = 20
# Buying power blocks; the position-size control only warns, so the cash is what runs out.
RISK_SETTINGS = {"modes": {"max_position_size_pct": "warn"}}


def publish_market(*, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> None:
    stamp = timezone.now().isoformat()
    quote = {"symbol": SYMBOL, "bid": bids[0][0], "ask": asks[0][0], "last": asks[0][0], "bid_size": bids[0][1],
             "ask_size": asks[0][1], "timestamp": stamp, "sources": ["test"], "is_open": True}
    book = {"symbol": SYMBOL, "bids": [list(level) for level in bids], "asks": [list(level) for level in asks],
            "timestamp": stamp, "sources": ["test"], "is_open": True}
    state.market_state_write(quotes=[quote], books=[book], status={"timestamp": stamp})


def run_at_once(calls: list) -> list:
    """Run each callable in its own thread, released together; return each result or exception."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except Exception as error:  # collected and asserted on by the test
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck (deadlock?)"
    return results


@pytest.fixture
def flat_market(instruments):
    """SOL-USD at 99.99 / 100.00 with far more size than any test trades."""
    cache.clear()
    publish_market(bids=[("99.99", "100000")], asks=[("100.00", "100000")])


@pytest.mark.postgres
@postgres_only
@pytest.mark.django_db(transaction=True)
def test_simultaneous_market_buys_never_overdraw_the_cash(user, flat_market):
    # given: 10,000 of cash; each order buys 10 SOL at about 100, a little over 1,000 with slippage
    # and the 0.1% taker fee, so nine fit and the tenth finds less than 1,000 left
    portfolio = portfolio_create(user=user, name="Race", starting_balance=Decimal("10000"), simulate_latency=False,
                                 risk_settings=RISK_SETTINGS)
    request = OrderRequest(symbol=SYMBOL, side="buy", order_type="market", quantity=Decimal("10"))

    # when: twenty buys arrive at once, placed as the API places them (the service reads the clock)
    results = run_at_once([lambda: order_place(user=user, portfolio_id=portfolio.pk, request=request)[0]] * THREADS)

    # then: nine filled, the rest were refused for buying power, and the cash paid for exactly the nine
    unexpected = [result for result in results if isinstance(result, Exception) and not isinstance(result, DomainError)]
    assert unexpected == []
    refusals = [result for result in results if isinstance(result, DomainError)]
    assert {refusal.code for refusal in refusals} <= {"insufficient_buying_power"}
    filled = Order.objects.filter(portfolio=portfolio, status=OrderStatus.FILLED)
    assert filled.count() == 9 and len(refusals) == THREADS - 9
    assert not Order.objects.filter(portfolio=portfolio).exclude(status=OrderStatus.FILLED).exists()
    portfolio.refresh_from_db()
    trades = list(Trade.objects.filter(portfolio=portfolio))
    spent = sum((trade.quantity * trade.price + trade.fee for trade in trades), Decimal(0))
    assert Decimal(0) <= portfolio.cash == ledger_sum(portfolio_id=portfolio.pk) == Decimal("10000") - spent
    assert sum((trade.quantity for trade in trades), Decimal(0)) == Decimal("90")
    assert Position.objects.get(portfolio=portfolio, status="open").quantity == Decimal("90")


@pytest.mark.postgres
@postgres_only
@pytest.mark.django_db(transaction=True)
def test_cancel_and_fill_racing_on_one_order_leave_one_terminal_state(user, flat_market):
    # given: a resting buy of 5 SOL at 99.00, then a market that offers 1.25 SOL at 98.90, so each
    # engine fire fills at most a quarter of the order
    portfolio = portfolio_create(user=user, name="Race", starting_balance=Decimal("100000"), simulate_latency=False,
                                 risk_settings=RISK_SETTINGS)
    order, _ = order_place(user=user, portfolio_id=portfolio.pk, now=timezone.now(), request=OrderRequest(
        symbol=SYMBOL, side="buy", order_type="limit", quantity=Decimal("5"), limit_price=Decimal("99.00")))
    assert order.status == OrderStatus.ACCEPTED
    publish_market(bids=[("98.80", "100")], asks=[("98.90", "1.25")])

    # when: ten threads cancel it while ten fire it
    cancel = lambda: order_cancel(user=user, order_id=order.pk)  # noqa: E731
    fire = lambda: services.order_fire(order_id=order.pk, now=timezone.now())  # noqa: E731
    results = run_at_once([cancel, fire] * (THREADS // 2))

    # then: the order is either cancelled once (fills before the cancel kept) or filled, never both
    cancels = results[0::2]
    assert all(isinstance(result, (Order, Conflict)) for result in cancels), cancels
    assert all(not isinstance(result, Exception) for result in results[1::2]), results[1::2]
    order.refresh_from_db()
    trades = list(Trade.objects.filter(order=order))
    filled = sum((trade.quantity for trade in trades), Decimal(0))
    assert order.filled_quantity == filled <= order.quantity
    assert all(trade.quantity == Decimal("1.25") for trade in trades)
    kinds = list(OrderEvent.objects.filter(order=order).values_list("kind", flat=True))
    terminal = [kind for kind in kinds if kind in ("filled", "cancelled")]
    successful_cancels = sum(1 for result in cancels if isinstance(result, Order))
    if order.status == OrderStatus.FILLED:
        assert filled == order.quantity and successful_cancels == 0 and terminal == ["filled"]
    else:
        assert order.status == OrderStatus.CANCELLED
        assert successful_cancels == 1 and terminal == ["cancelled"] and kinds[-1] == "cancelled"
    assert kinds.count("partial_fill") + kinds.count("filled") == len(trades)
    portfolio.refresh_from_db()
    assert portfolio.cash == ledger_sum(portfolio_id=portfolio.pk)
    position = Position.objects.filter(portfolio=portfolio, status="open").first()
    assert (position.quantity if position else Decimal(0)) == filled


@pytest.mark.postgres
@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_engines_ticking_at_once_fill_each_order_once(user, flat_market):
    # given: ten resting buys (98.10 to 99.00) and five sell stops (99.10 to 99.50), both engines
    # built, then a market that crosses every one of them with room to fill them all
    portfolio = portfolio_create(user=user, name="Engines", starting_balance=Decimal("1000000"),
                                 simulate_latency=False, risk_settings=RISK_SETTINGS)
    now = timezone.now()
    for step in range(10):
        order_place(user=user, portfolio_id=portfolio.pk, now=now, request=OrderRequest(
            symbol=SYMBOL, side="buy", order_type="limit", quantity=Decimal("1"),
            limit_price=Decimal("99.00") - step * Decimal("0.10")))
    for step in range(5):
        order_place(user=user, portfolio_id=portfolio.pk, now=now, request=OrderRequest(
            symbol=SYMBOL, side="sell", order_type="stop", quantity=Decimal("2"),
            stop_price=Decimal("99.10") + step * Decimal("0.10")))
    engines = [OrderEngine(), OrderEngine()]
    for engine in engines:
        engine.rebuild(now=timezone.now())
    publish_market(bids=[("97.90", "1000")], asks=[("98.00", "1000")])

    # when: both engines tick at the same moment, twice (one clock reading for both; a stale reading
    # is the subject of the last test)
    for _ in range(2):
        now = timezone.now()
        outcomes = run_at_once([lambda engine=engine: engine.tick(now=now) for engine in engines])
        assert all(isinstance(outcome, dict) for outcome in outcomes), outcomes

    # then: every order filled exactly once, for exactly its quantity
    orders = list(Order.objects.filter(portfolio=portfolio))
    assert len(orders) == 15
    for order in orders:
        trades = list(Trade.objects.filter(order=order))
        assert order.status == OrderStatus.FILLED
        assert len(trades) == 1 and trades[0].quantity == order.quantity == order.filled_quantity
        assert list(OrderEvent.objects.filter(order=order, kind__in=("filled", "partial_fill"))
                    .values_list("kind", flat=True)) == ["filled"]
    portfolio.refresh_from_db()
    assert portfolio.cash == ledger_sum(portfolio_id=portfolio.pk)
    # 10 bought, 10 sold: flat
    assert not Position.objects.filter(portfolio=portfolio, status="open").exists()


@pytest.mark.django_db
def test_a_tick_that_started_before_an_api_fill_still_fills_against_the_new_lot(user, flat_market):
    # given: a resting sell of 1 SOL at 100.50, and an engine that read the clock for its tick (t1)
    portfolio = portfolio_create(user=user, name="Interleaved", starting_balance=Decimal("100000"),
                                 simulate_latency=False, risk_settings=RISK_SETTINGS)
    resting, _ = order_place(user=user, portfolio_id=portfolio.pk, request=OrderRequest(
        symbol=SYMBOL, side="sell", order_type="limit", quantity=Decimal("1"), limit_price=Decimal("100.50")))
    engine = OrderEngine()
    engine.rebuild(now=timezone.now())
    tick_started = timezone.now()

    # when: while the tick runs, an API request buys 2 SOL (its lot opens after t1), the market lifts
    # through the resting sell, and the tick reaches it
    order_place(user=user, portfolio_id=portfolio.pk, request=OrderRequest(
        symbol=SYMBOL, side="buy", order_type="market", quantity=Decimal("2")))
    publish_market(bids=[("100.60", "100")], asks=[("100.70", "100")])
    engine.tick(now=tick_started)

    # then: the sell fills against the lot the buy opened, leaving 1 SOL long
    resting.refresh_from_db()
    assert resting.status == OrderStatus.FILLED
    assert Position.objects.get(portfolio=portfolio, status="open").quantity == Decimal("1")
