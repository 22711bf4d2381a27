"""Every order type, time in force and flag, worked by hand against books the tests publish.

Each test writes the exact book and quote it trades against (haunt.market.state), so every fill
price, fee and cash balance below is computed by hand from the spec formulas: the slippage
formula and tick rounding of orders.execution, the fee schedules (crypto taker 0.10 %, maker
0.08 %; stocks free), and the trigger rules of Appendix A. The clock is pinned to a Tuesday
15:00 UTC (NYSE open) and moved by hand; the engine is ticked explicitly.
"""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from haunt.errors import DomainError
from haunt.market import state
from orders.engine import OrderEngine
from orders.models import Order, OrderEvent, OrderRole, OrderStatus, Trade
from orders.services import (
    ExitLegs,
    OrderRequest,
    bracket_place,
    oco_place,
    order_cancel,
    order_modify,
    order_place,
    position_close,
    position_set_exits,
)
from orders.tests.books import (
    D,
    NOW,
    START_CASH,
    books_balance,  # noqa: F401 (autouse fixture)
    instruments,  # noqa: F401 (fixture)
    make_portfolio,
    publish,
    publish_eth,
)
from portfolios.models import LedgerEntry, Position
from portfolios.valuation import buying_power, buying_power_freed_by_closing, position_mark

pytestmark = pytest.mark.django_db


class Clock:
    """The time the services, the engine and Django's auto_now fields all see."""

    def __init__(self, now: datetime):
        self.now = now

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock(NOW)
    monkeypatch.setattr(timezone, "now", lambda: clock.now)
    return clock


@pytest.fixture
def engine(clock):
    return OrderEngine()


@pytest.fixture
def frictionless(user, instruments, clock):
    return make_portfolio(user)


@pytest.fixture
def realistic(user, instruments, clock):
    return make_portfolio(user, profile="realistic")


def place(portfolio, clock, **fields) -> Order:
    order, _ = order_place(user=portfolio.owner, portfolio_id=portfolio.pk, now=clock.now,
                           request=OrderRequest(**fields))
    return order


def buy_eth(portfolio, clock, quantity):
    """A frictionless market buy at the published ask."""
    return place(portfolio, clock, symbol="ETH-USD", side="buy", order_type="market", quantity=D(quantity))


def reload(order: Order) -> Order:
    return Order.objects.select_related("instrument").get(pk=order.pk)


def history(order: Order) -> list[str]:
    return list(OrderEvent.objects.filter(order=order).values_list("kind", flat=True))


def trades_of(order: Order) -> list[tuple[Decimal, Decimal, Decimal]]:
    """(quantity, price, fee) of each fill, in the order they happened."""
    return [(trade.quantity, trade.price, trade.fee)
            for trade in Trade.objects.filter(order=order).order_by("executed_at", "price")]


def cash_of(portfolio) -> Decimal:
    """The portfolio's cash, after checking it equals the sum of its ledger entries (added up here
    in Decimal: SQLite's SUM() would add them as floats)."""
    portfolio.refresh_from_db()
    assert portfolio.cash == sum(LedgerEntry.objects.filter(portfolio=portfolio).values_list("amount", flat=True))
    return portfolio.cash


def open_position(portfolio, symbol="ETH-USD") -> Position | None:
    return Position.objects.filter(portfolio=portfolio, instrument__symbol=symbol, status="open").first()


# --- market orders -----------------------------------------------------------------------------


def test_realistic_market_buy_walks_two_levels_at_the_spec_slippage(realistic, clock):
    # given 100 ETH offered: 2 @ 2000.00, 3 @ 2001.00, 95 @ 2002.00
    publish_eth()

    # when buying 4: slippage = 0.01 % (tier 1) + 4 / 100 × 0.1 (crypto impact) = 0.0041
    order = place(realistic, clock, symbol="ETH-USD", side="buy", order_type="market", quantity=D("4"))

    # then 2 fill at 2000 × 1.0041 = 2008.20 and 2 at 2001 × 1.0041 = 2009.2041, rounded up to 2009.21;
    # taker fees 0.1 % of 4016.40 and of 4018.42
    assert order.status == OrderStatus.FILLED and order.filled_quantity == D("4")
    assert trades_of(order) == [(D("2"), D("2008.20"), D("4.01640")), (D("2"), D("2009.21"), D("4.01842"))]
    assert [trade.slippage for trade in Trade.objects.filter(order=order).order_by("price")] == [D("16.40"), D("16.42")]
    assert order.average_fill_price == D("2008.705")  # (4016.40 + 4018.42) / 4
    assert order.fees_paid == D("8.03482")
    assert cash_of(realistic) == START_CASH - D("8034.82") - D("8.03482")
    position = open_position(realistic)
    assert (position.side, position.quantity, position.average_entry_price, position.cost_basis) == (
        "long", D("4"), D("2008.705"), D("8034.82"))
    assert sorted(position.lots.values_list("quantity", "price")) == [(D("2"), D("2008.20")), (D("2"), D("2009.21"))]


def test_frictionless_market_buy_fills_everything_at_the_touch(frictionless, clock):
    publish_eth()

    order = buy_eth(frictionless, clock, "4")

    # the whole 4 at the best ask, although only 2 are shown there; no slippage
    assert trades_of(order) == [(D("4"), D("2000.00"), D("8.00"))]
    assert Trade.objects.get(order=order).slippage == 0
    assert cash_of(frictionless) == START_CASH - D("8000") - D("8")


def test_fees_are_recorded_on_the_trade_and_as_fee_ledger_entries(frictionless, clock):
    publish_eth()

    order = buy_eth(frictionless, clock, "4")

    trade = Trade.objects.get(order=order)
    entries = list(LedgerEntry.objects.filter(portfolio=frictionless, reference=str(trade.pk))
                   .order_by("id").values_list("kind", "amount"))
    assert entries == [("trade", D("-8000")), ("fee", D("-8"))]
    assert trade.liquidity == "taker"


def test_market_buy_larger_than_buying_power_fills_what_the_cash_pays_for(user, instruments, clock):
    # given 10,000 of cash, positions allowed up to 100 % of equity, ETH at 2000.00
    portfolio = make_portfolio(user, cash=D("10000"), max_position_size_pct="100")
    publish_eth(asks=[("2000.00", "10")])

    # when buying 5: the pre-trade check passes (5 × 2000 = 10,000), but the 10.00 fee does not fit
    order = place(portfolio, clock, symbol="ETH-USD", side="buy", order_type="market", quantity=D("5"))

    # then it buys what 10,000 pays for at 2002 per ETH with fee, on the 0.0001 lot grid: 4.9950
    assert trades_of(order) == [(D("4.995"), D("2000.00"), D("9.99"))]
    assert order.status == OrderStatus.CANCELLED and order.reject_reason == "Insufficient buying power."
    assert cash_of(portfolio) == D("0.01")


def test_resting_limits_never_spend_more_cash_than_there_is(user, instruments, clock, engine):
    # given 10,000 of cash and two resting buys of 3 ETH at 1900.00: each passed its check alone
    portfolio = make_portfolio(user, cash=D("10000"), max_position_size_pct="100")
    publish_eth()
    first = place(portfolio, clock, symbol="ETH-USD", side="buy", order_type="limit", quantity=D("3"),
                  limit_price=D("1900.00"))
    clock.advance(seconds=1)  # time priority: the first is older
    second = place(portfolio, clock, symbol="ETH-USD", side="buy", order_type="limit", quantity=D("3"),
                   limit_price=D("1900.00"))
    engine.tick(now=clock.now)

    # when the market falls through both
    publish_eth(bids=[("1889.00", "10")], asks=[("1890.00", "10")])
    clock.advance(seconds=1)
    engine.tick(now=clock.now)

    # then the first fills (5700 + 4.56 maker fee) and the second buys what the 4295.44 left pays for at
    # 1900 × 1.0008 = 1901.52 per ETH: 2.2589 on the lot grid; its rest is cancelled
    first, second = reload(first), reload(second)
    assert first.status == OrderStatus.FILLED and trades_of(first) == [(D("3"), D("1900.00"), D("4.56"))]
    assert trades_of(second) == [(D("2.2589"), D("1900.00"), D("3.433528"))]  # 0.08 % of 4291.91
    assert second.status == OrderStatus.CANCELLED and second.reject_reason == "Insufficient buying power."
    assert cash_of(portfolio) == D("0.096472")  # 10,000 − 5704.56 − 4291.91 − 3.433528
    assert cash_of(portfolio) >= 0


# --- time in force -----------------------------------------------------------------------------

SOL_ASKS = [("100.00", "5"), ("100.10", "5"), ("105.00", "90")]


def test_ioc_fills_what_is_available_within_its_limit_and_cancels_the_rest(realistic, clock):
    publish("SOL-USD", bids=[("99.90", "50")], asks=SOL_ASKS)

    # slippage = 0.03 % (tier 2) + 12 / 100 × 0.1 = 0.0123
    order = place(realistic, clock, symbol="SOL-USD", side="buy", order_type="limit", quantity=D("12"),
                  limit_price=D("102.00"), time_in_force="ioc")

    # 100.00 × 1.0123 = 101.23 and 100.10 × 1.0123 = 101.33123 → 101.34 are within 102; 105 × 1.0123 is not
    assert trades_of(order) == [(D("5"), D("101.23"), D("0.50615")), (D("5"), D("101.34"), D("0.50670"))]
    assert order.status == OrderStatus.CANCELLED and order.filled_quantity == D("10")
    assert order.reject_reason == "Immediate or cancel: the rest was cancelled."
    assert open_position(realistic, "SOL-USD").quantity == D("10")
    assert cash_of(realistic) == START_CASH - D("1012.85") - D("1.01285")


def test_fok_the_book_cannot_fill_leaves_nothing(realistic, clock):
    publish("SOL-USD", bids=[("99.90", "50")], asks=SOL_ASKS)

    order = place(realistic, clock, symbol="SOL-USD", side="buy", order_type="limit", quantity=D("12"),
                  limit_price=D("102.00"), time_in_force="fok")

    assert order.status == OrderStatus.CANCELLED and order.filled_quantity == 0
    assert not Trade.objects.exists() and open_position(realistic, "SOL-USD") is None
    assert LedgerEntry.objects.filter(portfolio=realistic).count() == 1
    assert cash_of(realistic) == START_CASH


def test_fok_the_book_can_fill_fills_completely(realistic, clock):
    publish("SOL-USD", bids=[("99.90", "50")], asks=SOL_ASKS)

    # slippage = 0.0003 + 10 / 100 × 0.1 = 0.0103: 101.03 and 100.10 × 1.0103 = 101.13103 → 101.14
    order = place(realistic, clock, symbol="SOL-USD", side="buy", order_type="limit", quantity=D("10"),
                  limit_price=D("102.00"), time_in_force="fok")

    assert order.status == OrderStatus.FILLED
    assert trades_of(order) == [(D("5"), D("101.03"), D("0.50515")), (D("5"), D("101.14"), D("0.50570"))]


def test_fok_short_of_buying_power_fills_nothing(user, instruments, clock):
    # given the case above where the fee makes 5 ETH unaffordable: a FOK may not shrink to 4.995
    portfolio = make_portfolio(user, cash=D("10000"), max_position_size_pct="100")
    publish_eth(asks=[("2000.00", "10")])

    order = place(portfolio, clock, symbol="ETH-USD", side="buy", order_type="market", quantity=D("5"),
                  time_in_force="fok")

    assert order.status == OrderStatus.REJECTED and order.filled_quantity == 0
    assert order.reject_reason == "Insufficient buying power."
    assert not Trade.objects.exists()
    assert cash_of(portfolio) == D("10000")


def test_gtd_order_expires_on_the_engine_tick_at_expires_at(frictionless, clock, engine):
    publish_eth()
    order = place(frictionless, clock, symbol="ETH-USD", side="buy", order_type="limit", quantity=D("1"),
                  limit_price=D("1900.00"), time_in_force="gtd", expires_at=NOW + timedelta(hours=1))
    engine.tick(now=clock.now)

    clock.advance(minutes=59, seconds=59)
    assert engine.tick(now=clock.now)["expired"] == 0
    assert reload(order).status == OrderStatus.ACCEPTED

    clock.advance(seconds=1)
    assert engine.tick(now=clock.now)["expired"] == 1
    order = reload(order)
    assert order.status == OrderStatus.EXPIRED and order.cancelled_at == NOW + timedelta(hours=1)
    assert history(order) == ["created", "expired"]
    assert cash_of(frictionless) == START_CASH


def test_gtd_needs_a_future_expiry(frictionless, clock):
    publish_eth()
    with pytest.raises(DomainError) as refused:
        place(frictionless, clock, symbol="ETH-USD", side="buy", order_type="limit", quantity=D("1"),
              limit_price=D("1900.00"), time_in_force="gtd", expires_at=NOW)
    assert (refused.value.code, refused.value.field) == ("invalid_expiry", "expires_at")
    assert not Order.objects.exists()


def test_day_order_on_a_stock_expires_at_the_nyse_close(frictionless, clock, engine):
    publish("AAPL", bids=[("278.40", "500")], asks=[("278.50", "500")])
    order = place(frictionless, clock, symbol="AAPL", side="buy", order_type="limit", quantity=D("10"),
                  limit_price=D("270.00"), time_in_force="day")

    # 16:00 in New York on 24 November (EST, UTC−5)
    assert order.expires_at == datetime(2026, 11, 24, 21, 0, tzinfo=UTC)
    engine.tick(now=clock.now)
    clock.now = datetime(2026, 11, 24, 21, 0, tzinfo=UTC)
    engine.tick(now=clock.now)
    assert reload(order).status == OrderStatus.EXPIRED


def test_day_order_is_refused_for_a_24_7_market(frictionless, clock):
    publish_eth()
    with pytest.raises(DomainError) as refused:
        place(frictionless, clock, symbol="ETH-USD", side="buy", order_type="limit", quantity=D("1"),
              limit_price=D("1900.00"), time_in_force="day")
    assert (refused.value.code, refused.value.field) == ("day_not_supported", "time_in_force")
    assert not Order.objects.exists()


# --- stops, take profits, stop limits ----------------------------------------------------------


def long_eth(portfolio, clock, quantity="1"):
    """Buy at 2000.00 (the published ask, frictionless): fee 0.1 % of 2000 per ETH."""
    publish_eth()
    buy_eth(portfolio, clock, quantity)


def test_stop_triggers_on_the_last_price_and_fills_at_market(frictionless, clock, engine):
    long_eth(frictionless, clock)
    stop = place(frictionless, clock, symbol="ETH-USD", side="sell", order_type="stop", quantity=D("1"),
                 stop_price=D("1950.00"))
    assert stop.status == OrderStatus.PENDING_TRIGGER

    publish_eth(bids=[("1959.00", "5")], asks=[("1961.00", "5")], last="1960.00")
    clock.advance(seconds=1)
    assert engine.tick(now=clock.now)["fired"] == 0

    publish_eth(bids=[("1949.00", "5")], asks=[("1950.00", "5")], last="1949.50")
    fired_at = clock.advance(seconds=1)
    assert engine.tick(now=clock.now)["fired"] == 1

    stop = reload(stop)
    assert stop.status == OrderStatus.FILLED and stop.triggered_at == fired_at
    assert history(stop) == ["created", "triggered", "filled"]
    assert trades_of(stop) == [(D("1"), D("1949.00"), D("1.949"))]  # a market sell at the bid
    assert Trade.objects.get(order=stop).realized_pnl == D("-51")
    assert open_position(frictionless) is None
    assert cash_of(frictionless) == START_CASH - D("2000") - D("2") + D("1949") - D("1.949")


def test_stop_trigger_sources_compare_last_mid_or_the_bid(frictionless, clock, engine):
    long_eth(frictionless, clock, "3")
    stops = {source: place(frictionless, clock, symbol="ETH-USD", side="sell", order_type="stop", quantity=D("1"),
                           stop_price=D("1950.00"), trigger_source=source) for source in ("last", "mid", "bid_ask")}

    def tick(bid, ask, last):
        publish_eth(bids=[(bid, "5")], asks=[(ask, "5")], last=last)
        clock.advance(seconds=1)
        engine.tick(now=clock.now)
        return {source: reload(order).status for source, order in stops.items()}

    # the bid touches 1950; last 1953 and mid 1952 do not
    assert tick("1950.00", "1954.00", "1953.00") == {"last": "pending_trigger", "mid": "pending_trigger",
                                                     "bid_ask": "filled"}
    # the mid (1949 + 1951) / 2 touches 1950; last 1951 does not
    assert tick("1949.00", "1951.00", "1951.00") == {"last": "pending_trigger", "mid": "filled", "bid_ask": "filled"}
    assert tick("1949.00", "1951.00", "1950.00") == {"last": "filled", "mid": "filled", "bid_ask": "filled"}


def test_take_profit_triggers_when_the_price_reaches_the_target(frictionless, clock, engine):
    long_eth(frictionless, clock)
    target = place(frictionless, clock, symbol="ETH-USD", side="sell", order_type="take_profit", quantity=D("1"),
                   stop_price=D("2100.00"))

    publish_eth(bids=[("2099.00", "5")], asks=[("2100.00", "5")], last="2099.99")
    clock.advance(seconds=1)
    engine.tick(now=clock.now)
    assert reload(target).status == OrderStatus.PENDING_TRIGGER

    publish_eth(bids=[("2099.50", "5")], asks=[("2100.50", "5")], last="2100.00")
    clock.advance(seconds=1)
    engine.tick(now=clock.now)
    target = reload(target)
    assert target.status == OrderStatus.FILLED
    assert trades_of(target) == [(D("1"), D("2099.50"), D("2.0995"))]
    assert Trade.objects.get(order=target).realized_pnl == D("99.50")


def test_stop_limit_triggers_then_rests_as_a_limit_then_fills_at_its_limit(frictionless, clock, engine):
    long_eth(frictionless, clock)
    order = place(frictionless, clock, symbol="ETH-USD", side="sell", order_type="stop_limit", quantity=D("1"),
                  stop_price=D("1950.00"), limit_price=D("1945.00"))

    # the market gaps through the stop and the limit: triggered, but a sell at 1945 cannot hit a 1940 bid
    publish_eth(bids=[("1940.00", "5")], asks=[("1941.00", "5")], last="1940.50")
    clock.advance(seconds=1)
    engine.tick(now=clock.now)
    assert reload(order).status == OrderStatus.TRIGGERED
    clock.advance(seconds=1)
    engine.tick(now=clock.now)
    assert reload(order).status == OrderStatus.TRIGGERED and not Trade.objects.filter(order=order).exists()

    # the bid comes back above the limit: the resting sell fills at its limit, as maker (0.08 %)
    publish_eth(bids=[("1946.00", "3")], asks=[("1947.00", "5")], last="1946.50")
    clock.advance(seconds=1)
    engine.tick(now=clock.now)
    order = reload(order)
    assert order.status == OrderStatus.FILLED and history(order) == ["created", "triggered", "filled"]
    assert trades_of(order) == [(D("1"), D("1945.00"), D("1.556"))]
    assert Trade.objects.get(order=order).liquidity == "maker"
    assert cash_of(frictionless) == START_CASH - D("2002") + D("1945") - D("1.556")


# --- trailing stops ----------------------------------------------------------------------------


def test_trailing_stop_by_amount_follows_new_highs_only_and_fires(frictionless, clock, engine):
    long_eth(frictionless, clock)
    publish_eth(last="2000.00")
    trailing = place(frictionless, clock, symbol="ETH-USD", side="sell", order_type="trailing_stop",
                     quantity=D("1"), trail_amount=D("10.00"))
    assert (trailing.high_water_mark, trailing.stop_price) == (D("2000.00"), D("1990.00"))

    path = []
    for last, bid, ask in [("2005.00", "2004.00", "2006.00"), ("2002.00", "2001.00", "2003.00"),
                           ("2012.34", "2012.00", "2013.00"), ("2003.00", "2002.50", "2003.50")]:
        publish_eth(bids=[(bid, "5")], asks=[(ask, "5")], last=last)
        clock.advance(seconds=1)
        engine.tick(now=clock.now)
        order = reload(trailing)
        path.append((order.status, order.high_water_mark, order.stop_price))
    assert path == [
        ("pending_trigger", D("2005.00"), D("1995.00")),
        ("pending_trigger", D("2005.00"), D("1995.00")),  # a lower price never lowers the stop
        ("pending_trigger", D("2012.34"), D("2002.34")),
        ("pending_trigger", D("2012.34"), D("2002.34")),
    ]

    publish_eth(bids=[("2002.00", "5")], asks=[("2003.00", "5")], last="2002.34")
    clock.advance(seconds=1)
    engine.tick(now=clock.now)
    order = reload(trailing)
    assert order.status == OrderStatus.FILLED
    assert trades_of(order) == [(D("1"), D("2002.00"), D("2.002"))]


def test_trailing_stop_by_percent_protects_a_short_and_rounds_away_from_the_market(frictionless, clock, engine):
    publish_eth(last="2000.00")
    place(frictionless, clock, symbol="ETH-USD", side="sell", order_type="market", quantity=D("1"))
    trailing = place(frictionless, clock, symbol="ETH-USD", side="buy", order_type="trailing_stop",
                     quantity=D("1"), trail_percent=D("2"))
    assert (trailing.high_water_mark, trailing.stop_price) == (D("2000.00"), D("2040.00"))

    # a new low of 1950.55: 1950.55 × 1.02 = 1989.561, rounded up to the tick
    publish_eth(bids=[("1950.00", "5")], asks=[("1951.00", "5")], last="1950.55")
    clock.advance(seconds=1)
    engine.tick(now=clock.now)
    assert (reload(trailing).high_water_mark, reload(trailing).stop_price) == (D("1950.55"), D("1989.57"))

    publish_eth(bids=[("1989.00", "5")], asks=[("1990.00", "5")], last="1989.57")
    clock.advance(seconds=1)
    engine.tick(now=clock.now)
    order = reload(trailing)
    assert order.status == OrderStatus.FILLED and trades_of(order) == [(D("1"), D("1990.00"), D("1.99"))]
    assert open_position(frictionless) is None


def test_trailing_stop_on_bid_ask_trails_the_bid_from_the_start(frictionless, clock, engine):
    long_eth(frictionless, clock)
    publish_eth(bids=[("1999.00", "5")], asks=[("2000.00", "5")], last="2003.00")

    trailing = place(frictionless, clock, symbol="ETH-USD", side="sell", order_type="trailing_stop",
                     quantity=D("1"), trail_amount=D("10.00"), trigger_source="bid_ask")

    # a sell compares the bid: the mark starts at the bid, not at the last trade or the mid
    assert (trailing.high_water_mark, trailing.stop_price) == (D("1999.00"), D("1989.00"))
    publish_eth(bids=[("1999.50", "5")], asks=[("2000.00", "5")], last="1990.00")
    clock.advance(seconds=1)
    engine.tick(now=clock.now)
    assert (reload(trailing).high_water_mark, reload(trailing).stop_price) == (D("1999.50"), D("1989.50"))


# --- OCO and bracket ---------------------------------------------------------------------------


def place_oco(portfolio, clock, **legs):
    orders, _ = oco_place(user=portfolio.owner, portfolio_id=portfolio.pk, side="sell", symbol="ETH-USD",
                          quantity=D("1"), legs=ExitLegs(**legs), now=clock.now)
    return orders


def test_oco_take_profit_fill_cancels_the_stop(frictionless, clock, engine):
    long_eth(frictionless, clock)
    take_profit, stop = place_oco(frictionless, clock, take_profit_price=D("2100.00"), stop_price=D("1900.00"))
    assert (take_profit.order_type, take_profit.status, stop.order_type, stop.status) == (
        "limit", "accepted", "stop", "pending_trigger")
    assert take_profit.linked_order_id == stop.pk and stop.linked_order_id == take_profit.pk

    publish_eth(bids=[("2101.00", "2")], asks=[("2102.00", "2")])
    clock.advance(seconds=1)
    engine.tick(now=clock.now)

    take_profit, stop = reload(take_profit), reload(stop)
    assert take_profit.status == OrderStatus.FILLED
    assert trades_of(take_profit) == [(D("1"), D("2100.00"), D("1.68"))]  # at its limit, maker 0.08 %
    assert stop.status == OrderStatus.CANCELLED and stop.reject_reason == "The other leg of its OCO pair filled."
    assert open_position(frictionless) is None
    assert cash_of(frictionless) == START_CASH - D("2002") + D("2100") - D("1.68")


def test_oco_stop_trigger_cancels_the_take_profit(frictionless, clock, engine):
    long_eth(frictionless, clock)
    take_profit, stop = place_oco(frictionless, clock, take_profit_price=D("2100.00"), stop_price=D("1900.00"))

    publish_eth(bids=[("1899.00", "5")], asks=[("1900.00", "5")], last="1899.50")
    clock.advance(seconds=1)
    engine.tick(now=clock.now)

    take_profit, stop = reload(take_profit), reload(stop)
    assert take_profit.status == OrderStatus.CANCELLED
    assert take_profit.reject_reason == "The other leg of its OCO pair triggered."
    assert stop.status == OrderStatus.FILLED and trades_of(stop) == [(D("1"), D("1899.00"), D("1.899"))]


def test_a_partial_take_profit_fill_shrinks_the_stop_to_what_is_left(frictionless, clock, engine):
    long_eth(frictionless, clock, "2")
    orders, _ = oco_place(user=frictionless.owner, portfolio_id=frictionless.pk, side="sell", symbol="ETH-USD",
                          quantity=D("2"), legs=ExitLegs(take_profit_price=D("2100.00"), stop_price=D("1900.00")),
                          now=clock.now)
    take_profit, stop = orders

    # only 0.5 bid at or above 2100: the take-profit sells 0.5, the stop now covers the other 1.5
    publish_eth(bids=[("2101.00", "0.5"), ("2090.00", "10")], asks=[("2102.00", "2")])
    clock.advance(seconds=1)
    engine.tick(now=clock.now)
    take_profit, stop = reload(take_profit), reload(stop)
    assert (take_profit.status, take_profit.filled_quantity) == ("partially_filled", D("0.5"))
    assert (stop.status, stop.quantity) == ("pending_trigger", D("1.5"))

    publish_eth(bids=[("1899.00", "5")], asks=[("1901.00", "5")], last="1899.50")
    clock.advance(seconds=1)
    engine.tick(now=clock.now)
    assert reload(take_profit).status == OrderStatus.CANCELLED
    assert trades_of(reload(stop)) == [(D("1.5"), D("1899.00"), D("2.8485"))]
    assert open_position(frictionless) is None


def test_oco_stop_leg_watches_the_trigger_source_it_was_given(frictionless, clock, engine):
    long_eth(frictionless, clock)
    orders, _ = oco_place(user=frictionless.owner, portfolio_id=frictionless.pk, side="sell", symbol="ETH-USD",
                          quantity=D("1"), legs=ExitLegs(take_profit_price=D("2100.00"), stop_price=D("1950.00")),
                          trigger_source="bid_ask", now=clock.now)

    # the bid reaches the stop while the last trade is still above it
    publish_eth(bids=[("1950.00", "5")], asks=[("1954.00", "5")], last="1953.00")
    clock.advance(seconds=1)
    engine.tick(now=clock.now)

    assert reload(orders[1]).status == OrderStatus.FILLED and reload(orders[0]).status == OrderStatus.CANCELLED


def place_bracket(portfolio, clock, entry: dict, **legs):
    orders, _ = bracket_place(user=portfolio.owner, portfolio_id=portfolio.pk, now=clock.now,
                              entry=OrderRequest(symbol="ETH-USD", side="buy", **entry), legs=ExitLegs(**legs))
    return orders


def test_bracket_exits_activate_on_a_partial_entry_fill_then_resize_then_work_as_oco(frictionless, clock, engine):
    publish_eth(bids=[("2009.00", "10")], asks=[("2010.00", "10")])
    entry, take_profit, stop = place_bracket(
        frictionless, clock, {"order_type": "limit", "quantity": D("2"), "limit_price": D("2000.00")},
        take_profit_price=D("2100.00"), stop_price=D("1900.00"))
    assert (entry.status, take_profit.status, stop.status) == ("accepted", "held", "held")
    assert (take_profit.role, stop.role) == (OrderRole.TAKE_PROFIT, OrderRole.STOP_LOSS)
    assert take_profit.parent_id == stop.parent_id == entry.pk and take_profit.linked_order_id == stop.pk
    engine.tick(now=clock.now)

    # 0.5 offered at or below the entry's limit: the entry fills 0.5 at 2000.00, the exits go live for 0.5
    publish_eth(bids=[("1999.00", "10")], asks=[("1999.50", "0.5"), ("2005.00", "10")])
    clock.advance(seconds=1)
    engine.tick(now=clock.now)
    entry, take_profit, stop = reload(entry), reload(take_profit), reload(stop)
    assert (entry.status, entry.filled_quantity) == ("partially_filled", D("0.5"))
    assert (take_profit.status, take_profit.quantity) == ("accepted", D("0.5"))
    assert (stop.status, stop.quantity) == ("pending_trigger", D("0.5"))

    # the rest fills: the exits grow to the whole 2
    publish_eth(bids=[("1997.00", "10")], asks=[("1998.00", "3")])
    clock.advance(seconds=1)
    engine.tick(now=clock.now)
    entry, take_profit, stop = reload(entry), reload(take_profit), reload(stop)
    assert (entry.status, entry.average_fill_price) == ("filled", D("2000.00"))
    assert trades_of(entry) == [(D("0.5"), D("2000.00"), D("0.80")), (D("1.5"), D("2000.00"), D("2.40"))]
    assert (take_profit.quantity, stop.quantity) == (D("2"), D("2"))
    assert history(take_profit) == history(stop) == ["created", "activated", "modified"]
    assert open_position(frictionless).quantity == D("2")

    # the stop-loss triggers: the take-profit is cancelled and 2 are sold at the bid
    publish_eth(bids=[("1899.00", "5")], asks=[("1901.00", "5")], last="1899.50")
    clock.advance(seconds=1)
    engine.tick(now=clock.now)
    take_profit, stop = reload(take_profit), reload(stop)
    assert take_profit.status == OrderStatus.CANCELLED and stop.status == OrderStatus.FILLED
    assert trades_of(stop) == [(D("2"), D("1899.00"), D("3.798"))]
    assert Trade.objects.get(order=stop).realized_pnl == D("-202")
    assert open_position(frictionless) is None
    assert cash_of(frictionless) == START_CASH - D("4000") - D("3.20") + D("3798") - D("3.798")


def test_bracket_with_a_trailing_stop_loss_trails_from_the_entry_fill(frictionless, clock, engine):
    publish_eth(last="2000.00")
    entry, take_profit, stop = place_bracket(
        frictionless, clock, {"order_type": "market", "quantity": D("1")},
        take_profit_price=D("2100.00"), trail_amount=D("25.00"))

    stop = reload(stop)
    assert reload(entry).status == OrderStatus.FILLED
    assert (stop.order_type, stop.status, stop.high_water_mark, stop.stop_price) == (
        "trailing_stop", "pending_trigger", D("2000.00"), D("1975.00"))

    publish_eth(bids=[("2029.00", "5")], asks=[("2031.00", "5")], last="2030.00")
    clock.advance(seconds=1)
    engine.tick(now=clock.now)
    assert reload(stop).stop_price == D("2005.00")

    publish_eth(bids=[("2003.00", "5")], asks=[("2005.00", "5")], last="2004.00")
    clock.advance(seconds=1)
    engine.tick(now=clock.now)
    assert reload(stop).status == OrderStatus.FILLED and reload(take_profit).status == OrderStatus.CANCELLED
    assert trades_of(reload(stop)) == [(D("1"), D("2003.00"), D("2.003"))]


def test_cancelling_an_unfilled_bracket_entry_cancels_its_held_exits(frictionless, clock):
    publish_eth()
    entry, take_profit, stop = place_bracket(
        frictionless, clock, {"order_type": "limit", "quantity": D("1"), "limit_price": D("1950.00")},
        take_profit_price=D("2100.00"), stop_price=D("1900.00"))

    order_cancel(user=frictionless.owner, order_id=entry.pk)

    assert [reload(order).status for order in (entry, take_profit, stop)] == ["cancelled"] * 3
    assert reload(stop).reject_reason == "Its bracket entry was cancelled."


def test_bracket_exits_on_the_wrong_side_of_the_entry_are_refused(frictionless, clock):
    publish_eth()
    with pytest.raises(DomainError) as refused:
        place_bracket(frictionless, clock, {"order_type": "limit", "quantity": D("1"), "limit_price": D("1950.00")},
                      take_profit_price=D("1940.00"), stop_price=D("1900.00"))
    assert (refused.value.code, refused.value.field) == ("invalid_bracket", "take_profit.limit_price")
    assert not Order.objects.exists()


# --- modification and cancellation -------------------------------------------------------------


def test_modification_is_recorded_and_a_now_marketable_limit_executes(frictionless, clock):
    publish_eth()
    order = place(frictionless, clock, symbol="ETH-USD", side="buy", order_type="limit", quantity=D("1"),
                  limit_price=D("1900.00"))

    order = order_modify(user=frictionless.owner, order_id=order.pk, changes={"limit_price": D("1950.00")},
                         now=clock.now)
    assert order.status == OrderStatus.ACCEPTED and order.limit_price == D("1950.00")

    order = order_modify(user=frictionless.owner, order_id=order.pk, changes={"limit_price": D("2000.00")},
                         now=clock.now)
    assert order.status == OrderStatus.FILLED
    assert trades_of(order) == [(D("1"), D("2000.00"), D("2.00"))]  # it crossed: a taker fill at the ask
    modifications = [event.detail for event in OrderEvent.objects.filter(order=order, kind="modified")]
    assert [[D(value) for value in detail["limit_price"]] for detail in modifications] == [
        [D("1900"), D("1950")], [D("1950"), D("2000")]]
    assert history(order) == ["created", "modified", "modified", "filled"]


def test_modifying_a_triggered_stop_limit_to_a_marketable_limit_executes_at_once(frictionless, clock, engine):
    long_eth(frictionless, clock)
    order = place(frictionless, clock, symbol="ETH-USD", side="sell", order_type="stop_limit", quantity=D("1"),
                  stop_price=D("1950.00"), limit_price=D("1945.00"))
    publish_eth(bids=[("1940.00", "5")], asks=[("1941.00", "5")], last="1940.50")
    clock.advance(seconds=1)
    engine.tick(now=clock.now)
    assert reload(order).status == OrderStatus.TRIGGERED

    order = order_modify(user=frictionless.owner, order_id=order.pk, changes={"limit_price": D("1940.00")},
                         now=clock.now)

    # it now crosses the 1940.00 bid: a taker fill in the call, not a maker fill on a later tick
    assert order.status == OrderStatus.FILLED
    assert trades_of(order) == [(D("1"), D("1940.00"), D("1.94"))]
    assert Trade.objects.get(order=order).liquidity == "taker"


def test_modification_refusals_change_nothing(frictionless, clock):
    publish_eth()
    order = place(frictionless, clock, symbol="ETH-USD", side="buy", order_type="limit", quantity=D("1"),
                  limit_price=D("1900.00"))

    for changes, code, field in [
        ({"limit_price": D("1900.005")}, "invalid_tick_size", "limit_price"),
        ({"quantity": D("0.00005")}, "invalid_lot_size", "quantity"),
        ({"stop_price": D("1800.00")}, "not_modifiable", "stop_price"),
        ({"expires_at": NOW + timedelta(days=1)}, "not_modifiable", "expires_at"),
    ]:
        with pytest.raises(DomainError) as refused:
            order_modify(user=frictionless.owner, order_id=order.pk, changes=changes, now=clock.now)
        assert (refused.value.code, refused.value.field) == (code, field)
    assert reload(order).limit_price == D("1900.00") and history(order) == ["created"]


def test_cancel_closes_an_open_order_and_refuses_a_closed_one(frictionless, clock):
    publish_eth()
    order = place(frictionless, clock, symbol="ETH-USD", side="buy", order_type="limit", quantity=D("1"),
                  limit_price=D("1900.00"))

    cancelled = order_cancel(user=frictionless.owner, order_id=order.pk)

    assert cancelled.status == OrderStatus.CANCELLED and cancelled.cancelled_at == NOW
    with pytest.raises(DomainError) as refused:
        order_cancel(user=frictionless.owner, order_id=order.pk)
    assert refused.value.code == "order_not_open" and refused.value.status == 409
    assert cash_of(frictionless) == START_CASH


# --- pre-trade checks and flags ----------------------------------------------------------------


def test_insufficient_buying_power_is_refused_and_changes_nothing(user, instruments, clock):
    portfolio = make_portfolio(user, cash=D("10000"))
    publish_eth()

    with pytest.raises(DomainError) as refused:
        place(portfolio, clock, symbol="ETH-USD", side="buy", order_type="market", quantity=D("5.0001"))

    assert (refused.value.code, refused.value.field) == ("insufficient_buying_power", "quantity")
    assert not Order.objects.exists() and not Trade.objects.exists()
    assert LedgerEntry.objects.filter(portfolio=portfolio).count() == 1 and cash_of(portfolio) == D("10000")


def test_max_position_size_blocks_by_default(frictionless, clock):
    publish_eth()
    # 25 % of 5,000,000 is 1,250,000: 625 ETH at the 2000.00 ask is the most one position may hold
    at_limit = place(frictionless, clock, symbol="ETH-USD", side="buy", order_type="limit", quantity=D("625"),
                     limit_price=D("1900.00"))
    assert at_limit.warnings == []
    order_cancel(user=frictionless.owner, order_id=at_limit.pk)

    with pytest.raises(DomainError) as refused:
        place(frictionless, clock, symbol="ETH-USD", side="buy", order_type="market", quantity=D("700"))
    assert refused.value.code == "risk_max_position_size_pct"
    assert refused.value.message == "The position would be 28.00% of equity; the limit is 25%."
    assert Order.objects.count() == 1


def test_max_position_size_in_warn_mode_accepts_with_a_warning(user, instruments, clock):
    portfolio = make_portfolio(user, modes={"max_position_size_pct": "warn"})
    publish_eth()

    order = place(portfolio, clock, symbol="ETH-USD", side="buy", order_type="market", quantity=D("700"))

    assert order.status == OrderStatus.FILLED
    assert order.warnings == [{"code": "risk_max_position_size_pct",
                               "message": "The position would be 28.00% of equity; the limit is 25%."}]
    assert OrderEvent.objects.get(order=order, kind="created").detail == {"warnings": order.warnings}


def test_max_open_positions_refuses_a_new_position_but_not_adding_to_one(user, instruments, clock):
    portfolio = make_portfolio(user, max_open_positions=1)
    publish_eth()
    publish("SOL-USD", bids=[("99.90", "50")], asks=SOL_ASKS)
    buy_eth(portfolio, clock, "1")

    with pytest.raises(DomainError) as refused:
        place(portfolio, clock, symbol="SOL-USD", side="buy", order_type="market", quantity=D("1"))
    assert refused.value.code == "risk_max_open_positions"
    assert refused.value.message == "1 positions are open; the limit is 1."

    buy_eth(portfolio, clock, "1")
    assert open_position(portfolio).quantity == D("2")


def test_reduce_only_may_not_open_or_grow_a_position(frictionless, clock):
    publish_eth()
    for side, quantity in [("sell", "1"), ("buy", "1")]:
        with pytest.raises(DomainError) as refused:
            place(frictionless, clock, symbol="ETH-USD", side=side, order_type="market", quantity=D(quantity),
                  reduce_only=True)
        assert refused.value.code == "reduce_only_would_increase"
    buy_eth(frictionless, clock, "1")
    with pytest.raises(DomainError) as refused:  # selling 2 of a long 1 would open a short
        place(frictionless, clock, symbol="ETH-USD", side="sell", order_type="market", quantity=D("2"),
              reduce_only=True)
    assert refused.value.code == "reduce_only_would_increase"

    reduced = place(frictionless, clock, symbol="ETH-USD", side="sell", order_type="market", quantity=D("1"),
                    reduce_only=True)
    assert reduced.status == OrderStatus.FILLED and open_position(frictionless) is None
    assert Order.objects.count() == 2


def test_post_only_that_would_take_is_rejected_and_one_that_rests_is_accepted(frictionless, clock):
    publish_eth()

    taking = place(frictionless, clock, symbol="ETH-USD", side="buy", order_type="limit", quantity=D("1"),
                   limit_price=D("2000.00"), post_only=True)
    resting = place(frictionless, clock, symbol="ETH-USD", side="buy", order_type="limit", quantity=D("1"),
                    limit_price=D("1999.00"), post_only=True)

    assert taking.status == OrderStatus.REJECTED and taking.reject_reason == "Post-only order would take liquidity."
    assert history(taking) == ["created", "rejected"]
    assert resting.status == OrderStatus.ACCEPTED
    assert not Trade.objects.exists() and cash_of(frictionless) == START_CASH


def test_grid_and_symbol_refusals(frictionless, clock):
    publish_eth()
    for fields, code, field in [
        ({"quantity": D("0.00005")}, "invalid_lot_size", "quantity"),
        ({"order_type": "limit", "limit_price": D("1999.001")}, "invalid_tick_size", "limit_price"),
        ({"symbol": "NOPE-USD"}, "unknown_symbol", "symbol"),
    ]:
        with pytest.raises(DomainError) as refused:
            place(frictionless, clock, **{"symbol": "ETH-USD", "side": "buy", "order_type": "market",
                                          "quantity": D("1"), **fields})
        assert (refused.value.code, refused.value.field) == (code, field)
    assert not Order.objects.exists()


# --- market hours ------------------------------------------------------------------------------

AFTER_THE_CLOSE = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)  # 17:00 in New York
NEXT_OPEN = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)  # Wednesday 09:30 in New York


def test_stock_market_order_outside_hours_rests_until_the_open_then_executes(frictionless, clock, engine):
    publish("AAPL", bids=[("278.40", "500")], asks=[("278.50", "500")])
    clock.now = AFTER_THE_CLOSE

    order = place(frictionless, clock, symbol="AAPL", side="buy", order_type="market", quantity=D("10"))

    assert order.status == OrderStatus.ACCEPTED and order.execute_after == NEXT_OPEN
    clock.now = NEXT_OPEN - timedelta(seconds=1)
    engine.tick(now=clock.now)
    assert reload(order).status == OrderStatus.ACCEPTED
    clock.now = NEXT_OPEN
    engine.tick(now=clock.now)
    order = reload(order)
    assert order.status == OrderStatus.FILLED and order.filled_at == NEXT_OPEN
    assert trades_of(order) == [(D("10"), D("278.50"), D("0"))]  # US stocks trade commission-free
    assert cash_of(frictionless) == START_CASH - D("2785")


@pytest.mark.parametrize("time_in_force", ["ioc", "fok"])
def test_stock_ioc_and_fok_outside_hours_are_refused(frictionless, clock, time_in_force):
    publish("AAPL", bids=[("278.40", "500")], asks=[("278.50", "500")])
    clock.now = AFTER_THE_CLOSE

    with pytest.raises(DomainError) as refused:
        place(frictionless, clock, symbol="AAPL", side="buy", order_type="market", quantity=D("10"),
              time_in_force=time_in_force)

    assert (refused.value.code, refused.value.field) == ("market_closed", "time_in_force")
    assert not Order.objects.exists()


# --- shorts and flips --------------------------------------------------------------------------


def test_selling_without_a_position_opens_a_short(frictionless, clock):
    publish_eth()

    place(frictionless, clock, symbol="ETH-USD", side="sell", order_type="market", quantity=D("2"))

    position = open_position(frictionless)
    assert (position.side, position.quantity, position.average_entry_price) == ("short", D("2"), D("1999.00"))
    assert cash_of(frictionless) == START_CASH + D("3998") - D("3.998")  # the proceeds, less the fee


def test_a_buy_that_covers_a_short_and_opens_a_long_never_spends_more_cash_than_there_is(user, instruments, clock,
                                                                                         engine):
    # given 10,000 of cash and a short of 1 ETH sold at the 1999.00 bid (fee 1.999): cash 11,997.001
    portfolio = make_portfolio(user, cash=D("10000"), max_position_size_pct="100")
    publish_eth(bids=[("1999.00", "10")], asks=[("2000.00", "10")])
    place(portfolio, clock, symbol="ETH-USD", side="sell", order_type="market", quantity=D("1"))
    assert cash_of(portfolio) == D("11997.001")
    # and a buy stop of 5.99 at 2000.00: the pre-trade check passes, the 4.99 it opens × 2000.00 =
    # 9,980 being under the buying power of 11,997.001 − 2000 (the short, marked at the ask)
    stop = place(portfolio, clock, symbol="ETH-USD", side="buy", order_type="stop", quantity=D("5.99"),
                 stop_price=D("2000.00"))
    engine.tick(now=clock.now)

    # when the market gaps up to 2100.00 and the stop fires: the whole 5.99 would cost 2102.10 each with
    # the fee, 12,591.579, more than the cash
    publish_eth(bids=[("2099.00", "10")], asks=[("2100.00", "10")], last="2100.00")
    clock.advance(seconds=1)
    assert engine.tick(now=clock.now)["fired"] == 1

    # then the cover is paid out of cash first, and the long gets what is left after it: the buying
    # power is now 11,997.001 − 2100 = 9,897.001; covering 1 costs 2102.10 and frees the short's
    # 2100.00, leaving 9,894.901 for 4.7071 more at 2102.10 (lot grid 0.0001)
    stop = reload(stop)
    assert trades_of(stop) == [(D("5.7071"), D("2100.00"), D("11.98491"))]
    assert stop.status == OrderStatus.CANCELLED and stop.reject_reason == "Insufficient buying power."
    assert cash_of(portfolio) == D("11997.001") - D("11984.91") - D("11.98491")  # 0.10609
    assert open_position(portfolio).quantity == D("4.7071")
    # (counting the freed 2102.10 twice, it filled all 5.99 and left cash at −594.578)


def test_a_fully_invested_long_flips_into_a_short_backed_by_its_own_sale(user, instruments, clock):
    # given 10,000 of cash, 4.99 ETH bought at 2000.00 (9,980 + 9.98 fee): 10.02 of cash left
    portfolio = make_portfolio(user, cash=D("10000"), max_position_size_pct="100")
    publish_eth(bids=[("1999.00", "10")], asks=[("2000.00", "10")])
    place(portfolio, clock, symbol="ETH-USD", side="buy", order_type="market", quantity=D("4.99"))
    assert cash_of(portfolio) == D("10.02")

    # when selling 6: the 4.99 it closes bring 9,975.01 (less the fee), which backs the 1.01 short it
    # opens (2,018.99 at the bid); counted before the close, the 10.02 of cash refused the flip
    flip = place(portfolio, clock, symbol="ETH-USD", side="sell", order_type="market", quantity=D("6"))

    # then one fill of 6 at the bid: the long closes and a short of 1.01 opens
    assert trades_of(flip) == [(D("6"), D("1999.00"), D("11.994"))]
    assert flip.status == OrderStatus.FILLED
    short = open_position(portfolio)
    assert (short.side, short.quantity) == ("short", D("1.01"))
    assert cash_of(portfolio) == D("10.02") + D("11994") - D("11.994")


@pytest.mark.parametrize("side, leverage, margin_mode", [
    ("buy", "1", ""), ("sell", "1", ""), ("buy", "2", "cross"), ("sell", "2", "cross"),
    ("buy", "2", "isolated"), ("sell", "2", "isolated")])
def test_what_a_close_frees_is_the_change_in_buying_power_it_makes(frictionless, clock, side, leverage, margin_mode):
    # given a 3 ETH position (unlevered, or 2x cross margin) opened at the touch, and a new touch
    publish_eth(bids=[("1999.00", "10")], asks=[("2000.00", "10")])
    place(frictionless, clock, symbol="ETH-USD", side=side, order_type="market", quantity=D("3"),
          leverage=D(leverage), margin_mode=margin_mode)
    publish_eth(bids=[("2049.00", "10")], asks=[("2051.00", "10")])
    position = open_position(frictionless)
    assert position.leverage == D(leverage)
    frictionless.refresh_from_db()
    before = buying_power(frictionless)

    # when 2 of it are closed at the touch (a sell at the 2049.00 bid, a buy at the 2051.00 ask), fee 0.1 %
    closing = "sell" if side == "buy" else "buy"
    price = D("2049.00") if closing == "sell" else D("2051.00")
    cash_per_unit = price * D("0.999") if closing == "sell" else -price * D("1.001")
    freed = buying_power_freed_by_closing(position, quantity=D("2"), cash_per_unit=cash_per_unit,
                                          mark=position_mark(position, state.quote_read("ETH-USD")), rate=D(1))
    place(frictionless, clock, symbol="ETH-USD", side=closing, order_type="market", quantity=D("2"))

    # then the buying power moved by exactly what the close was said to free; an isolated position
    # frees more (its collateral and P&L), which the rule leaves out so as never to overstate
    frictionless.refresh_from_db()
    if margin_mode == "isolated":
        assert buying_power(frictionless) > before + freed
    else:
        assert buying_power(frictionless) == before + freed


def test_one_sell_flips_a_long_through_zero_into_a_short(frictionless, clock):
    long_eth(frictionless, clock, "2")

    flip = place(frictionless, clock, symbol="ETH-USD", side="sell", order_type="market", quantity=D("5"))

    # one fill of 5 at the 1999.00 bid: 2 close the long (1999 − 2000) × 2 = −2, 3 open a short
    assert trades_of(flip) == [(D("5"), D("1999.00"), D("9.995"))]
    assert Trade.objects.get(order=flip).realized_pnl == D("-2")
    closed = Position.objects.get(portfolio=frictionless, status="closed")
    assert (closed.side, closed.realized_pnl) == ("long", D("-2"))
    short = open_position(frictionless)
    assert (short.side, short.quantity, short.average_entry_price) == ("short", D("3"), D("1999.00"))
    assert list(short.lots.values_list("quantity", "price", "open_fee")) == [(D("3"), D("1999.00"), D("5.997"))]
    assert cash_of(frictionless) == START_CASH - D("4000") - D("4") + D("9995") - D("9.995")


# --- latency and the engine --------------------------------------------------------------------


def test_latency_delays_a_marketable_order_until_its_execute_after(user, instruments, clock, engine):
    import hashlib

    portfolio = make_portfolio(user, profile="realistic", latency=True)
    publish_eth()

    order = place(portfolio, clock, symbol="ETH-USD", side="buy", order_type="market", quantity=D("1"))

    # the documented draw: 50 + SHA-256("realistic|1|1|<order id>")[:8] mod 151
    digest = hashlib.sha256(f"realistic|1|1|{order.pk}".encode()).digest()
    assert order.latency_ms == 50 + int.from_bytes(digest[:8], "big") % 151
    assert order.status == OrderStatus.ACCEPTED
    assert order.execute_after == NOW + timedelta(milliseconds=order.latency_ms)
    clock.now = order.execute_after - timedelta(milliseconds=1)
    engine.tick(now=clock.now)
    assert reload(order).status == OrderStatus.ACCEPTED
    clock.now = order.execute_after
    engine.tick(now=clock.now)
    order = reload(order)
    assert order.status == OrderStatus.FILLED
    assert Trade.objects.get(order=order).explanation["latency_ms"] == order.latency_ms


def test_a_triggered_stop_executes_after_its_latency(user, instruments, clock, engine):
    portfolio = make_portfolio(user, profile="realistic", latency=True)
    publish_eth(bids=[("1960.00", "10")], asks=[("1961.00", "10")])
    stop = place(portfolio, clock, symbol="ETH-USD", side="sell", order_type="stop", quantity=D("1"),
                 stop_price=D("1950.00"))
    engine.tick(now=clock.now)

    publish_eth(bids=[("1949.00", "10")], asks=[("1950.00", "10")], last="1949.50")
    triggered_at = clock.advance(seconds=1)
    engine.tick(now=clock.now)
    stop = reload(stop)
    assert stop.status == OrderStatus.TRIGGERED
    assert stop.execute_after == triggered_at + timedelta(milliseconds=stop.latency_ms)

    clock.now = stop.execute_after
    engine.tick(now=clock.now)
    # a short sale of 1 into 10 bid: slippage 0.0001 + 1 / 10 × 0.1 = 0.0101, 1949 × 0.9899 = 1929.3151 → 1929.31
    stop = reload(stop)
    assert stop.status == OrderStatus.FILLED and trades_of(stop) == [(D("1"), D("1929.31"), D("1.92931"))]
    assert open_position(portfolio).side == "short"


def test_a_resting_limit_the_profiled_book_does_not_yet_reach_stays_working(user, instruments, clock, engine):
    # given a thin-book portfolio: its spread is twice the market's, so the ask it trades against is
    # half a market spread above the published ask
    portfolio = make_portfolio(user, profile="thin_book")
    publish_eth(bids=[("2000.00", "10")], asks=[("2001.00", "10")])
    order = place(portfolio, clock, symbol="ETH-USD", side="buy", order_type="limit", quantity=D("1"),
                  limit_price=D("2000.00"))
    engine.tick(now=clock.now)

    # the ask touches 2000.00, but the thin book's ask is 2000.50: nothing fills
    publish_eth(bids=[("1999.00", "10")], asks=[("2000.00", "10")])
    clock.advance(minutes=1)
    engine.tick(now=clock.now)
    assert reload(order).status == OrderStatus.ACCEPTED
    clock.advance(minutes=1)
    engine.tick(now=clock.now)

    # a minute later the ask falls to 1999.00, the thin book's to 1999.50: the order fills at its limit
    publish_eth(bids=[("1998.00", "10")], asks=[("1999.00", "10")])
    clock.advance(minutes=1)
    engine.tick(now=clock.now)
    order = reload(order)
    assert order.status == OrderStatus.FILLED and trades_of(order) == [(D("1"), D("2000.00"), D("1.60"))]


# --- position exits ----------------------------------------------------------------------------


def test_position_exits_are_linked_reduce_only_orders(frictionless, clock):
    long_eth(frictionless, clock, "2")
    position = open_position(frictionless)

    position_set_exits(user=frictionless.owner, position_id=position.pk, stop_loss=D("1900.00"),
                       take_profit=D("2100.00"), now=clock.now)

    take_profit = Order.objects.get(position=position, role="take_profit")
    stop = Order.objects.get(position=position, role="stop_loss")
    assert (take_profit.order_type, take_profit.side, take_profit.quantity, take_profit.limit_price) == (
        "limit", "sell", D("2"), D("2100.00"))
    assert (stop.order_type, stop.side, stop.quantity, stop.stop_price) == ("stop", "sell", D("2"), D("1900.00"))
    assert take_profit.reduce_only and stop.reduce_only
    assert take_profit.linked_order_id == stop.pk and stop.linked_order_id == take_profit.pk
    position.refresh_from_db()
    assert (position.stop_loss, position.take_profit) == (D("1900.00"), D("2100.00"))


def test_closing_a_position_cancels_its_exits_so_they_never_open_a_short(frictionless, clock, engine):
    long_eth(frictionless, clock, "2")
    position = open_position(frictionless)
    position_set_exits(user=frictionless.owner, position_id=position.pk, stop_loss=D("1900.00"),
                       take_profit=D("2100.00"), now=clock.now)
    engine.tick(now=clock.now)

    position_close(user=frictionless.owner, position_id=position.pk)

    exits = Order.objects.filter(position=position)
    assert [(exit.status, exit.reject_reason) for exit in exits] == [("cancelled", "Its position was closed.")] * 2
    publish_eth(bids=[("1899.00", "5")], asks=[("1900.00", "5")], last="1899.50")
    clock.advance(seconds=1)
    engine.tick(now=clock.now)
    assert not Position.objects.filter(portfolio=frictionless, status="open").exists()


def test_a_reduce_only_exit_sells_no_more_than_the_position_left_after_a_partial_close(frictionless, clock,
                                                                                     engine):
    long_eth(frictionless, clock, "2")
    position = open_position(frictionless)
    position_set_exits(user=frictionless.owner, position_id=position.pk, stop_loss=D("1900.00"),
                       take_profit=None, now=clock.now)
    engine.tick(now=clock.now)
    position_close(user=frictionless.owner, position_id=position.pk, quantity=D("1.5"))

    publish_eth(bids=[("1899.00", "5")], asks=[("1900.00", "5")], last="1899.50")
    clock.advance(seconds=1)
    engine.tick(now=clock.now)

    stop = Order.objects.get(position=position, role="stop_loss")
    assert trades_of(stop) == [(D("0.5"), D("1899.00"), D("0.9495"))]
    assert not Position.objects.filter(portfolio=frictionless, status="open").exists()
    assert stop.status == OrderStatus.CANCELLED and stop.filled_quantity == D("0.5")


def test_a_resting_limit_at_the_bid_fills_from_traded_volume_after_the_queue_ahead(realistic, clock, engine):
    # given a buy limit joining the 1999.00 bid, behind the 5 ETH already shown there
    publish_eth()
    order = place(realistic, clock, symbol="ETH-USD", side="buy", order_type="limit", quantity=D("4"),
                  limit_price=D("1999.00"))
    assert reload(order).queue_ahead == D("5")
    engine.tick(now=clock.now)

    # 3 ETH trade at 1999.00: they take the first 3 of the 5 ahead; nothing fills yet
    publish_eth(last="1999.00", volume="3")
    engine.tick(now=clock.now)
    order = reload(order)
    assert order.status == OrderStatus.ACCEPTED and order.queue_ahead == D("2")

    # volume traded higher up (last 1999.50) never reached the bid: the queue stays
    publish_eth(last="1999.50", volume="7")
    engine.tick(now=clock.now)
    assert reload(order).queue_ahead == D("2")

    # 5 more at 1999.00: 2 finish the queue, 3 fill the order at its limit, as maker (0.08 %)
    publish_eth(last="1999.00", volume="5")
    clock.advance(seconds=1)
    engine.tick(now=clock.now)
    order = reload(order)
    assert order.status == OrderStatus.PARTIALLY_FILLED and order.queue_ahead == D("0")
    assert trades_of(order) == [(D("3"), D("1999.00"), D("4.79760"))]
