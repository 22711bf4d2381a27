"""An engine restart mid-stream loses and duplicates nothing.

The same book of resting orders (limits, stops, a stop limit, trailing stops, a GTD limit) meets
the same market path twice: once with one engine ticking throughout, once with engine A ticking
the first half, thrown away, and engine B rebuilt from the database for the second half. The
first run happens inside a savepoint that is rolled back, so both runs start from identical rows.
Orders are matched across the runs by client_order_id; times are compared as offsets from each
run's start.
"""
import dataclasses
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from haunt.market import state
from orders.engine import OrderEngine
from orders.models import Order, Trade
from orders.services import OrderRequest, order_place
from portfolios.models import Position
from portfolios.services import portfolio_create
from tests.test_trading_invariants import assert_books_balance

pytestmark = pytest.mark.django_db

SYMBOL = "SOL-USD"
START_CASH = Decimal("1000000")
STEP = timedelta(milliseconds=200)  # the path's clock; the whole path stays inside the engine's 5 s sync overlap
GTD_LIFETIME = timedelta(milliseconds=1500)
# Best bid of each market update; the ask is 0.05 above. Down through the buy limits and sell stops,
# up through the sell limits and buy stops, and down again past the GTD limit after it expired.
BID_PATH = ["137.90", "137.40", "136.90", "136.40", "137.20", "138.50", "139.90", "140.60",
            "141.20", "139.00", "137.00", "135.20", "134.00", "132.50", "133.50", "135.00"]
RESTART_AFTER = 7  # updates ticked by engine A before the restart
# Each level shows 1.5 SOL, so the bigger limits fill over several updates and rest partly
# filled across the restart.
LEVEL_SIZE = "1.5"


def publish_market(bid: Decimal) -> None:
    tick = Decimal("0.01")
    bids = [[f"{bid - level * 5 * tick:f}", LEVEL_SIZE] for level in range(3)]
    asks = [[f"{bid + Decimal('0.05') + level * 5 * tick:f}", LEVEL_SIZE] for level in range(3)]
    stamp = timezone.now().isoformat()
    quote = {"symbol": SYMBOL, "bid": bids[0][0], "ask": asks[0][0], "last": bids[0][0], "bid_size": LEVEL_SIZE,
             "ask_size": LEVEL_SIZE, "timestamp": stamp, "sources": ["test"], "is_open": True}
    book = {"symbol": SYMBOL, "bids": bids, "asks": asks, "timestamp": stamp, "sources": ["test"], "is_open": True}
    state.market_state_write(quotes=[quote], books=[book], status={"timestamp": stamp})


def resting_orders(start) -> dict[str, OrderRequest]:
    def request(side, order_type, quantity, **prices):
        return OrderRequest(symbol=SYMBOL, side=side, order_type=order_type, quantity=Decimal(quantity),
                            **{name: Decimal(value) for name, value in prices.items()})

    return {
        "buy-limit-137.00": request("buy", "limit", "2", limit_price="137.00"),
        "buy-limit-136.50": request("buy", "limit", "4", limit_price="136.50"),
        "buy-limit-135.00": request("buy", "limit", "3", limit_price="135.00"),
        "buy-limit-134.00": request("buy", "limit", "2", limit_price="134.00"),
        "sell-limit-139.50": request("sell", "limit", "3", limit_price="139.50"),
        "sell-limit-140.50": request("sell", "limit", "2", limit_price="140.50"),
        "sell-limit-141.00": request("sell", "limit", "5", limit_price="141.00"),
        "sell-stop-136.80": request("sell", "stop", "3", stop_price="136.80"),
        "sell-stop-135.10": request("sell", "stop", "2", stop_price="135.10"),
        "buy-stop-139.80": request("buy", "stop", "2", stop_price="139.80"),
        "buy-stop-140.90": request("buy", "stop", "1", stop_price="140.90"),
        "sell-stop-limit-137.50": request("sell", "stop_limit", "2", stop_price="137.50", limit_price="137.30"),
        "sell-trailing-1.00": request("sell", "trailing_stop", "2", trail_amount="1.00"),
        "buy-trailing-1pct": OrderRequest(symbol=SYMBOL, side="buy", order_type="trailing_stop", quantity=Decimal("1"),
                                          trail_percent=Decimal("1")),
        "buy-limit-133.00-gtd": OrderRequest(symbol=SYMBOL, side="buy", order_type="limit", quantity=Decimal("1"),
                                             limit_price=Decimal("133.00"), time_in_force="gtd",
                                             expires_at=start + GTD_LIFETIME),
    }


def run_path(user, *, restart_after: int | None) -> dict:
    """Set up the portfolio and its orders, tick an engine over the path (restarting it after
    `restart_after` updates), and return the outcome keyed by client_order_id."""
    cache.clear()
    start = timezone.now()
    publish_market(Decimal("138.40"))
    portfolio = portfolio_create(user=user, name="Restart", starting_balance=START_CASH, simulate_latency=False,
                                 risk_settings={"modes": {"max_position_size_pct": "warn"}})
    order_place(user=user, portfolio_id=portfolio.pk, now=start, request=OrderRequest(
        symbol=SYMBOL, side="buy", order_type="market", quantity=Decimal("10"), client_order_id="opening-buy"))
    for label, request in resting_orders(start).items():
        order_place(user=user, portfolio_id=portfolio.pk, now=start,
                    request=dataclasses.replace(request, client_order_id=label))

    engine = OrderEngine()
    for step, bid in enumerate(BID_PATH, start=1):
        if step - 1 == restart_after:
            engine = OrderEngine()  # the old engine and its in-memory index are gone
        publish_market(Decimal(bid))
        engine.tick(now=start + step * STEP)

    assert_books_balance(portfolio.pk, starting_cash=START_CASH)
    orders = {}
    for order in Order.objects.filter(portfolio=portfolio):
        trades = Trade.objects.filter(order=order).order_by("executed_at", "price", "quantity")
        orders[order.client_order_id] = {
            "status": order.status, "filled": order.filled_quantity, "average": order.average_fill_price,
            "fees": order.fees_paid, "stop": order.stop_price, "high_water_mark": order.high_water_mark,
            "trades": [(trade.executed_at - start, trade.quantity, trade.price, trade.fee, trade.liquidity)
                       for trade in trades],
        }
    positions = sorted((position.opened_at - start, position.side, position.status, position.quantity,
                        position.average_entry_price, position.realized_pnl)
                       for position in Position.objects.filter(portfolio=portfolio))
    portfolio.refresh_from_db()
    return {"orders": orders, "positions": positions, "cash": portfolio.cash}


def test_a_restarted_engine_ends_where_an_uninterrupted_one_does(user, instruments):
    # given: the outcome of one engine ticking over the whole path (then rolled back)
    with transaction.atomic():
        uninterrupted = run_path(user, restart_after=None)
        transaction.set_rollback(True)

    # when: the same orders meet the same path, with the engine replaced half way
    restarted = run_path(user, restart_after=RESTART_AFTER)

    # then: every order, fill, position and the cash agree
    assert restarted["orders"].keys() == uninterrupted["orders"].keys()
    for label, outcome in uninterrupted["orders"].items():
        assert restarted["orders"][label] == outcome, label
    assert restarted["positions"] == uninterrupted["positions"]
    assert restarted["cash"] == uninterrupted["cash"]
    # and the path exercised what a restart can lose: fills on both sides of the restart,
    # triggered stops and trailing stops, and an expiry that only the rebuilt index knows about
    statuses = {label: outcome["status"] for label, outcome in restarted["orders"].items()}
    assert statuses["buy-limit-133.00-gtd"] == "expired"
    assert statuses["sell-trailing-1.00"] == "filled" and statuses["buy-trailing-1pct"] == "filled"
    assert statuses["sell-stop-136.80"] == "filled" and statuses["buy-stop-139.80"] == "filled"
    restart_at = RESTART_AFTER * STEP
    fill_times = [trade[0] for outcome in restarted["orders"].values() for trade in outcome["trades"]]
    assert any(time <= restart_at for time in fill_times) and any(time > restart_at for time in fill_times)
