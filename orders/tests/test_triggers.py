"""Trigger arithmetic and indexes (orders/triggers.py): hand-worked prices, and the index against brute force."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from orders.triggers import (
    Direction,
    ExpiryIndex,
    PriceSource,
    Side,
    TickPrices,
    TrailingEntry,
    TrailingStop,
    TriggerEntry,
    TriggerIndex,
    TriggerKind,
    is_crossed,
    limit_is_marketable,
    reference_price,
    stop_is_triggered,
    take_profit_is_triggered,
    trailing_start,
    trailing_stop_price,
    trailing_update,
)

D = Decimal
CENT = D("0.01")


def last(price: str) -> TickPrices:
    return TickPrices(last=D(price))


def entry(order_id, *, kind, side, level, source=PriceSource.LAST, symbol="BTC-USD") -> TriggerEntry:
    return TriggerEntry.for_order(order_id=order_id, symbol=symbol, kind=kind, side=side, level=D(level), source=source)


# --- Trigger direction per order type (Appendix A) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "side", "expected"),
    [
        (TriggerKind.STOP, Side.SELL, Direction.DOWN),
        (TriggerKind.STOP, Side.BUY, Direction.UP),
        (TriggerKind.TAKE_PROFIT, Side.SELL, Direction.UP),
        (TriggerKind.TAKE_PROFIT, Side.BUY, Direction.DOWN),
        (TriggerKind.LIMIT, Side.BUY, Direction.DOWN),
        (TriggerKind.LIMIT, Side.SELL, Direction.UP),
    ],
)
def test_each_order_type_fires_in_its_direction(kind, side, expected):
    assert TriggerEntry.for_order(
        order_id="o", symbol="X", kind=kind, side=side, level=D(1), source=PriceSource.LAST
    ).direction is expected


@pytest.mark.parametrize(
    ("side", "stop", "price", "triggered"),
    [
        # Stop loss of a long (sell stop at 95): fires when the last price is at or below 95.
        (Side.SELL, "95", "95.01", False),
        (Side.SELL, "95", "95", True),
        (Side.SELL, "95", "94.20", True),
        # Stop loss of a short (buy stop at 105): fires at or above 105.
        (Side.BUY, "105", "104.99", False),
        (Side.BUY, "105", "105", True),
        (Side.BUY, "105", "106.5", True),
    ],
)
def test_stop_loss_triggers_at_or_through_the_stop(side, stop, price, triggered):
    assert stop_is_triggered(side=side, stop_price=D(stop), price=D(price)) is triggered
    assert entry("o", kind=TriggerKind.STOP, side=side, level=stop).is_crossed_by(last(price)) is triggered


@pytest.mark.parametrize(
    ("side", "target", "price", "triggered"),
    [
        # Take profit of a long (sell at 110): fires at or above 110.
        (Side.SELL, "110", "109.99", False),
        (Side.SELL, "110", "110", True),
        (Side.SELL, "110", "111", True),
        # Take profit of a short (buy at 90): fires at or below 90.
        (Side.BUY, "90", "90.01", False),
        (Side.BUY, "90", "90", True),
        (Side.BUY, "90", "85", True),
    ],
)
def test_take_profit_triggers_at_or_through_the_target(side, target, price, triggered):
    assert take_profit_is_triggered(side=side, target_price=D(target), price=D(price)) is triggered
    assert entry("o", kind=TriggerKind.TAKE_PROFIT, side=side, level=target).is_crossed_by(last(price)) is triggered


@pytest.mark.parametrize(
    ("side", "bid", "ask", "marketable"),
    [
        # Limit buy at 100: marketable once the ask is at or below 100, whatever the bid.
        (Side.BUY, "99.98", "100.01", False),
        (Side.BUY, "99.99", "100", True),
        (Side.BUY, "99.50", "99.60", True),
        # Limit sell at 100: marketable once the bid is at or above 100, whatever the ask.
        (Side.SELL, "99.99", "100.02", False),
        (Side.SELL, "100", "100.01", True),
        (Side.SELL, "100.40", "100.50", True),
    ],
)
def test_limit_is_marketable_against_the_opposite_quote(side, bid, ask, marketable):
    assert limit_is_marketable(side=side, limit_price=D(100), bid=D(bid), ask=D(ask)) is marketable
    limit = entry("o", kind=TriggerKind.LIMIT, side=side, level="100", source=PriceSource.BID_ASK)
    assert limit.is_crossed_by(TickPrices(bid=D(bid), ask=D(ask), last=D(1000))) is marketable


def test_stop_limit_triggers_then_rests_as_a_limit_that_may_not_fill():
    # Given a sell stop limit: stop 95, limit 94.50, resting as its stop.
    index = TriggerIndex()
    index.add(entry("stop-limit", kind=TriggerKind.STOP, side=Side.SELL, level="95"))
    # When the last trade prints 94.80, the stop fires...
    assert index.fire("BTC-USD", last("94.80")) == ["stop-limit"]
    # ...and the engine rests the limit leg: a sell limit at 94.50 on bid/ask.
    index.add(entry("stop-limit", kind=TriggerKind.LIMIT, side=Side.SELL, level="94.50", source=PriceSource.BID_ASK))
    # Then if the bid has already fallen past the limit, nothing can fill...
    assert index.fire("BTC-USD", TickPrices(last=D("94.40"), bid=D("94.40"), ask=D("94.45"))) == []
    # ...until the bid is back at the limit.
    assert index.fire("BTC-USD", TickPrices(last=D("94.50"), bid=D("94.50"), ask=D("94.55"))) == ["stop-limit"]


def test_is_crossed_counts_touching_the_level():
    assert is_crossed(direction=Direction.DOWN, level=D("10"), price=D("10.00"))
    assert is_crossed(direction=Direction.UP, level=D("10"), price=D("10.00"))
    assert not is_crossed(direction=Direction.DOWN, level=D("10"), price=D("10.0000001"))
    assert not is_crossed(direction=Direction.UP, level=D("10"), price=D("9.9999999"))


# --- Price sources ------------------------------------------------------------------------------------------

QUOTE = TickPrices(last=D("99"), bid=D("100.50"), ask=D("101.50"), mid=D("101"), mark=D("100.20"))


@pytest.mark.parametrize(
    ("source", "side", "expected"),
    [
        (PriceSource.LAST, Side.SELL, "99"),
        (PriceSource.LAST, Side.BUY, "99"),
        (PriceSource.MID, Side.SELL, "101"),
        (PriceSource.MARK, Side.BUY, "100.20"),
        (PriceSource.BID_ASK, Side.SELL, "100.50"),
        (PriceSource.BID_ASK, Side.BUY, "101.50"),
    ],
)
def test_reference_price_per_source(source, side, expected):
    assert reference_price(prices=QUOTE, source=source, side=side) == D(expected)


def test_sell_stop_fires_on_last_but_not_on_bid_mid_or_mark_above_it():
    # Given four sell stops at 100 watching different prices, and a tick whose last trade (99) is below
    # the stop while the bid (100.50), mid (101) and mark (100.20) are above it.
    index = TriggerIndex()
    for source in PriceSource:
        index.add(entry(source, kind=TriggerKind.STOP, side=Side.SELL, level="100", source=source))
    # When the tick arrives, then only the stop on the last price fires.
    assert index.fire("BTC-USD", QUOTE) == [PriceSource.LAST]
    # And when the bid touches 100, the bid/ask stop fires; the mark then falls to it.
    assert index.fire("BTC-USD", TickPrices(bid=D(100), ask=D(101), mid=D("100.5"))) == [PriceSource.BID_ASK]
    assert index.fire("BTC-USD", TickPrices(mark=D("99.99"), mid=D("100.5"))) == [PriceSource.MARK]
    assert index.fire("BTC-USD", TickPrices(mid=D("100.00"))) == [PriceSource.MID]


def test_buy_stop_on_bid_ask_compares_the_ask():
    index = TriggerIndex()
    index.add(entry("buy-stop", kind=TriggerKind.STOP, side=Side.BUY, level="105", source=PriceSource.BID_ASK))
    # A last trade and bid above the stop do not fire it while the ask is below.
    assert index.fire("BTC-USD", TickPrices(last=D(106), bid=D("105.5"), ask=D("104.99"))) == []
    assert index.fire("BTC-USD", TickPrices(last=D(104), bid=D(104), ask=D(105))) == ["buy-stop"]


def test_missing_reference_price_fires_nothing():
    index = TriggerIndex()
    index.add(entry("mark-stop", kind=TriggerKind.STOP, side=Side.SELL, level="100", source=PriceSource.MARK))
    assert index.fire("BTC-USD", TickPrices(last=D(1), bid=D(1), ask=D(1), mid=D(1))) == []
    assert "mark-stop" in index


# --- Index behaviour ----------------------------------------------------------------------------------------


def test_fire_returns_nearest_level_first_and_oldest_first_among_equals():
    index = TriggerIndex()
    for order_id, level in [("a95", "95"), ("b97", "97"), ("c96", "96"), ("d97", "97"), ("e93", "93")]:
        index.add(entry(order_id, kind=TriggerKind.STOP, side=Side.SELL, level=level))
    for order_id, level in [("f103", "103"), ("g101", "101"), ("h101", "101")]:
        index.add(entry(order_id, kind=TriggerKind.STOP, side=Side.BUY, level=level))
    assert index.fire("BTC-USD", last("94")) == ["b97", "d97", "c96", "a95"]
    assert index.fire("BTC-USD", last("102")) == ["g101", "h101"]
    assert len(index) == 2


def test_fire_order_across_ladders_is_fixed():
    # Given orders on several ladders that one tick reaches, added in scrambled order.
    index = TriggerIndex()
    index.add(entry("mark-stop", kind=TriggerKind.STOP, side=Side.SELL, level="100", source=PriceSource.MARK))
    index.add(entry("last-tp", kind=TriggerKind.TAKE_PROFIT, side=Side.SELL, level="90"))
    index.add(entry("bid-stop", kind=TriggerKind.STOP, side=Side.SELL, level="100", source=PriceSource.BID_ASK))
    index.add(entry("last-stop", kind=TriggerKind.STOP, side=Side.SELL, level="100"))
    # Then they come out last before bid before mark, and on one price DOWN before UP.
    prices = TickPrices(last=D(95), bid=D(95), ask=D(96), mark=D(95))
    assert index.fire("BTC-USD", prices) == ["last-stop", "last-tp", "bid-stop", "mark-stop"]


def test_fire_only_touches_its_own_symbol():
    index = TriggerIndex()
    index.add(entry("btc", kind=TriggerKind.STOP, side=Side.SELL, level="100", symbol="BTC-USD"))
    index.add(entry("eth", kind=TriggerKind.STOP, side=Side.SELL, level="100", symbol="ETH-USD"))
    assert index.fire("ETH-USD", last("50")) == ["eth"]
    assert index.fire("SOL-USD", last("50")) == []
    assert list(index.fire("BTC-USD", last("50"))) == ["btc"]


def test_removed_order_never_fires():
    index = TriggerIndex()
    index.add(entry("keep", kind=TriggerKind.STOP, side=Side.SELL, level="95"))
    index.add(entry("cancel", kind=TriggerKind.STOP, side=Side.SELL, level="95"))
    assert index.remove("cancel") is True
    assert index.remove("cancel") is False
    assert index.remove("never-placed") is False
    assert index.fire("BTC-USD", last("90")) == ["keep"]
    assert len(index) == 0


def test_update_level_fires_at_the_new_level_only():
    index = TriggerIndex()
    index.add(entry("o", kind=TriggerKind.TAKE_PROFIT, side=Side.SELL, level="110"))
    index.update_level("o", D("120"))
    assert index.get("o").level == D(120)
    assert index.fire("BTC-USD", last("115")) == []
    assert index.fire("BTC-USD", last("120")) == ["o"]


def test_update_level_keeps_time_priority():
    index = TriggerIndex()
    index.add(entry("older", kind=TriggerKind.STOP, side=Side.SELL, level="90"))
    index.add(entry("newer", kind=TriggerKind.STOP, side=Side.SELL, level="95"))
    index.update_level("older", D("95"))
    assert index.fire("BTC-USD", last("95")) == ["older", "newer"]


def test_adding_a_resting_order_twice_is_refused():
    index = TriggerIndex()
    index.add(entry("o", kind=TriggerKind.STOP, side=Side.SELL, level="95"))
    with pytest.raises(ValueError, match="already resting"):
        index.add(entry("o", kind=TriggerKind.LIMIT, side=Side.BUY, level="90"))
    with pytest.raises(KeyError):
        index.update_level("missing", D(1))


def test_fired_order_can_rest_again_under_the_same_id():
    index = TriggerIndex()
    index.add(entry("o", kind=TriggerKind.STOP, side=Side.SELL, level="95"))
    assert index.fire("BTC-USD", last("95")) == ["o"]
    index.add(entry("o", kind=TriggerKind.STOP, side=Side.SELL, level="90"))
    assert index.fire("BTC-USD", last("92")) == []
    assert index.fire("BTC-USD", last("89")) == ["o"]


# --- Trailing stops -----------------------------------------------------------------------------------------


def test_sell_trailing_stop_five_percent_path():
    # Given a sell trailing stop 5 % below the best price, activated at 100 (tick 0.01): stop 95.00.
    state = trailing_start(side=Side.SELL, price=D(100), tick_size=CENT, trail_percent=D(5))
    assert (state.high_water_mark, state.stop_price) == (D(100), D("95.00"))
    # When the price rises to 110: mark 110, stop 110 x 0.95 = 104.50.
    state = trailing_update(state=state, price=D(110), tick_size=CENT)
    assert (state.high_water_mark, state.stop_price) == (D(110), D("104.50"))
    assert not stop_is_triggered(side=Side.SELL, stop_price=state.stop_price, price=D(110))
    # Then the fall to 105 leaves mark and stop where they were, without firing...
    after_fall = trailing_update(state=state, price=D(105), tick_size=CENT)
    assert after_fall is state
    assert not stop_is_triggered(side=Side.SELL, stop_price=state.stop_price, price=D(105))
    # ...and 104.50 touches the stop.
    assert trailing_update(state=state, price=D("104.5"), tick_size=CENT) is state
    assert stop_is_triggered(side=Side.SELL, stop_price=state.stop_price, price=D("104.5"))


def test_sell_trailing_stop_five_percent_path_through_the_index():
    index = TriggerIndex()
    state = trailing_start(side=Side.SELL, price=D(100), tick_size=CENT, trail_percent=D(5))
    index.add_trailing(
        TrailingEntry(order_id="t", symbol="BTC-USD", source=PriceSource.LAST, state=state, tick_size=CENT)
    )
    fired_at = {}
    for price in ["100", "110", "105", "104.5"]:
        moved = index.trail("BTC-USD", last(price))
        fired = index.fire("BTC-USD", last(price))
        fired_at[price] = ([(m.state.high_water_mark, m.state.stop_price) for m in moved], fired)
    assert fired_at == {
        "100": ([], []),
        "110": ([(D(110), D("104.50"))], []),
        "105": ([], []),
        "104.5": ([], ["t"]),
    }
    assert "t" not in index


def test_buy_trailing_stop_by_amount_rounds_up_to_the_tick():
    # Given a buy trailing stop 2.5 above the lowest price, tick 0.5, activated at 50: stop 52.5.
    tick = D("0.5")
    state = trailing_start(side=Side.BUY, price=D(50), tick_size=tick, trail_amount=D("2.5"))
    assert state.stop_price == D("52.5")
    # A fall to 48 drags it down to 50.5; a bounce to 49 leaves it.
    state = trailing_update(state=state, price=D(48), tick_size=tick)
    assert (state.high_water_mark, state.stop_price) == (D(48), D("50.5"))
    assert trailing_update(state=state, price=D(49), tick_size=tick) is state
    # A new low of 47.2 gives 49.7 exactly, rounded up (away from the market) to 50.0.
    state = trailing_update(state=state, price=D("47.2"), tick_size=tick)
    assert (state.high_water_mark, state.stop_price) == (D("47.2"), D("50.0"))
    assert not stop_is_triggered(side=Side.BUY, stop_price=state.stop_price, price=D("49.9"))
    assert stop_is_triggered(side=Side.BUY, stop_price=state.stop_price, price=D("50.0"))


def test_sell_trailing_stop_by_amount_ignores_unfavourable_moves():
    state = trailing_start(side=Side.SELL, price=D("20.00"), tick_size=CENT, trail_amount=D("1.5"))
    assert state.stop_price == D("18.50")
    assert trailing_update(state=state, price=D(19), tick_size=CENT) is state
    state = trailing_update(state=state, price=D("21.37"), tick_size=CENT)
    assert (state.high_water_mark, state.stop_price) == (D("21.37"), D("19.87"))


@pytest.mark.parametrize(
    ("side", "expected"),
    [
        # 101.23 x 0.97 = 98.1931, rounded down to a 0.05 tick.
        (Side.SELL, "98.15"),
        # 101.23 x 1.03 = 104.2669, rounded up to a 0.05 tick.
        (Side.BUY, "104.30"),
    ],
)
def test_trailing_percent_snaps_away_from_the_market(side, expected):
    stop = trailing_stop_price(side=side, high_water_mark=D("101.23"), tick_size=D("0.05"), trail_percent=D(3))
    assert stop == D(expected)


def test_trailing_stop_never_loosens_a_tighter_stored_stop():
    state = TrailingStop(side=Side.SELL, high_water_mark=D(100), stop_price=D(99), trail_amount=D(5))
    state = trailing_update(state=state, price=D(102), tick_size=CENT)
    assert (state.high_water_mark, state.stop_price) == (D(102), D(99))


@pytest.mark.parametrize(
    "trail",
    [{}, {"trail_amount": D(1), "trail_percent": D(1)}, {"trail_amount": D(0)}, {"trail_percent": D(100)}],
)
def test_trailing_stop_needs_one_positive_trail(trail):
    with pytest.raises(ValueError):
        TrailingStop(side=Side.SELL, high_water_mark=D(100), stop_price=D(95), **trail)


def test_trailing_stop_on_bid_ask_trails_the_bid_for_a_sell():
    index = TriggerIndex()
    state = trailing_start(side=Side.SELL, price=D(100), tick_size=CENT, trail_amount=D(2))
    index.add_trailing(
        TrailingEntry(order_id="t", symbol="BTC-USD", source=PriceSource.BID_ASK, state=state, tick_size=CENT)
    )
    # The last trade and ask rally, the bid does not: nothing moves.
    assert index.trail("BTC-USD", TickPrices(last=D(105), bid=D(100), ask=D(106))) == []
    moved = index.trail("BTC-USD", TickPrices(last=D(103), bid=D(103), ask=D(104)))
    assert [(m.state.high_water_mark, m.state.stop_price) for m in moved] == [(D(103), D(101))]
    assert index.get("t").level == D(101)
    assert index.get_trailing("t").state.stop_price == D(101)
    assert index.fire("BTC-USD", TickPrices(last=D(100), bid=D("101.01"), ask=D(102))) == []
    assert index.fire("BTC-USD", TickPrices(last=D(100), bid=D(101), ask=D(102))) == ["t"]


def test_trailing_stops_moved_by_one_tick_stay_individually_tracked():
    # Given three sell trailing stops on one ladder, activated at 100 with different trails.
    index = TriggerIndex()
    for order_id, amount in [("a", "1"), ("b", "2"), ("c", "3")]:
        state = trailing_start(side=Side.SELL, price=D(100), tick_size=CENT, trail_amount=D(amount))
        index.add_trailing(
            TrailingEntry(order_id=order_id, symbol="X", source=PriceSource.LAST, state=state, tick_size=CENT)
        )
    # When one tick at 105 moves all three, and then "b" is cancelled.
    assert sorted(m.order_id for m in index.trail("X", last("105"))) == ["a", "b", "c"]
    assert index.remove("b")
    # Then the next high moves exactly "a" and "c", to 110 - 1 and 110 - 3.
    moved = {m.order_id: m.state.stop_price for m in index.trail("X", last("110"))}
    assert moved == {"a": D(109), "c": D(107)}
    assert index.fire("X", last("108")) == ["a"]
    assert index.fire("X", last("107")) == ["c"]


def test_trailing_stop_level_cannot_be_set_directly():
    index = TriggerIndex()
    state = trailing_start(side=Side.BUY, price=D(100), tick_size=CENT, trail_percent=D(1))
    index.add_trailing(TrailingEntry(order_id="t", symbol="X", source=PriceSource.LAST, state=state, tick_size=CENT))
    with pytest.raises(ValueError, match="trailing stop"):
        index.update_level("t", D(90))
    index.add(entry("plain", kind=TriggerKind.STOP, side=Side.BUY, level="101", symbol="X"))
    with pytest.raises(KeyError):
        index.get_trailing("plain")


def test_removed_trailing_stop_no_longer_trails():
    index = TriggerIndex()
    state = trailing_start(side=Side.SELL, price=D(100), tick_size=CENT, trail_amount=D(1))
    index.add_trailing(TrailingEntry(order_id="t", symbol="X", source=PriceSource.LAST, state=state, tick_size=CENT))
    assert index.remove("t")
    assert index.trail("X", last("150")) == []
    assert index.fire("X", last("1")) == []


# --- Rebuild ------------------------------------------------------------------------------------------------


def test_rebuild_fires_like_adding_one_by_one():
    entries = [
        entry("s1", kind=TriggerKind.STOP, side=Side.SELL, level="95"),
        entry("s2", kind=TriggerKind.STOP, side=Side.SELL, level="97"),
        entry("s3", kind=TriggerKind.STOP, side=Side.SELL, level="95"),
        entry("tp", kind=TriggerKind.TAKE_PROFIT, side=Side.SELL, level="110"),
        entry("lb", kind=TriggerKind.LIMIT, side=Side.BUY, level="98", source=PriceSource.BID_ASK),
        entry("eth", kind=TriggerKind.STOP, side=Side.BUY, level="2000", symbol="ETH-USD"),
    ]
    trailing = [
        TrailingEntry(
            order_id="tr",
            symbol="BTC-USD",
            source=PriceSource.LAST,
            state=trailing_start(side=Side.SELL, price=D(100), tick_size=CENT, trail_percent=D(2)),
            tick_size=CENT,
        )
    ]
    one_by_one, rebuilt = TriggerIndex(), TriggerIndex()
    for item in entries:
        one_by_one.add(item)
    for item in trailing:
        one_by_one.add_trailing(item)
    rebuilt.add(entry("stale", kind=TriggerKind.STOP, side=Side.SELL, level="99"))
    rebuilt.rebuild(entries=entries, trailing=trailing)

    ticks = [
        ("BTC-USD", TickPrices(last=D(104), bid=D(103), ask=D("104.5"))),
        ("BTC-USD", TickPrices(last=D(96), bid=D("97.9"), ask=D(98))),
        ("ETH-USD", last("2001")),
        ("BTC-USD", TickPrices(last=D(94), bid=D(93), ask=D(94))),
        ("BTC-USD", last("111")),
    ]
    for symbol, prices in ticks:
        assert [m.state for m in rebuilt.trail(symbol, prices)] == [m.state for m in one_by_one.trail(symbol, prices)]
        assert rebuilt.fire(symbol, prices) == one_by_one.fire(symbol, prices)
    assert len(rebuilt) == len(one_by_one) == 0


def test_rebuild_refuses_a_repeated_order_and_leaves_the_index_empty():
    index = TriggerIndex()
    duplicate = entry("o", kind=TriggerKind.STOP, side=Side.SELL, level="95")
    with pytest.raises(ValueError):
        index.rebuild(entries=[duplicate, duplicate])
    assert len(index) == 0
    assert index.fire("BTC-USD", last("1")) == []


# --- Expiry -------------------------------------------------------------------------------------------------

NOON = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)


def test_pop_expired_returns_due_orders_soonest_first_and_once():
    expiries = ExpiryIndex()
    expiries.add(order_id="late", expires_at=NOON + timedelta(hours=2))
    expiries.add(order_id="at-noon", expires_at=NOON)
    expiries.add(order_id="early", expires_at=NOON - timedelta(minutes=1))
    expiries.add(order_id="cancelled", expires_at=NOON - timedelta(hours=1))
    assert expiries.remove("cancelled") is True
    assert expiries.remove("cancelled") is False

    assert expiries.pop_expired(now=NOON - timedelta(seconds=61)) == []
    assert expiries.pop_expired(now=NOON) == ["early", "at-noon"]
    assert expiries.pop_expired(now=NOON) == []
    assert len(expiries) == 1
    assert expiries.next_expiry() == NOON + timedelta(hours=2)


def test_expiry_compares_instants_across_time_zones():
    new_york = timezone(timedelta(hours=-5))
    expiries = ExpiryIndex()
    expiries.add(order_id="day-order", expires_at=datetime(2025, 3, 14, 16, 0, tzinfo=new_york))  # 21:00 UTC
    assert expiries.pop_expired(now=datetime(2025, 3, 14, 20, 59, 59, tzinfo=UTC)) == []
    assert expiries.pop_expired(now=datetime(2025, 3, 14, 21, 0, tzinfo=UTC)) == ["day-order"]


def test_expiry_refuses_naive_times_and_repeats():
    expiries = ExpiryIndex()
    with pytest.raises(ValueError, match="naive"):
        expiries.add(order_id="o", expires_at=datetime(2025, 3, 14, 12, 0))
    expiries.add(order_id="o", expires_at=NOON)
    with pytest.raises(ValueError, match="already"):
        expiries.add(order_id="o", expires_at=NOON)
    with pytest.raises(ValueError, match="naive"):
        expiries.pop_expired(now=datetime(2025, 3, 14, 12, 0))


def test_expiry_rebuild_replaces_contents():
    expiries = ExpiryIndex()
    expiries.add(order_id="old", expires_at=NOON)
    expiries.rebuild([("b", NOON + timedelta(minutes=2)), ("a", NOON + timedelta(minutes=1))])
    assert "old" not in expiries
    assert expiries.next_expiry() == NOON + timedelta(minutes=1)
    assert expiries.pop_expired(now=NOON + timedelta(hours=1)) == ["a", "b"]
    assert expiries.next_expiry() is None


def rescheduled() -> ExpiryIndex:
    expiries = ExpiryIndex()
    expiries.add(order_id="gtd", expires_at=NOON)
    expiries.remove("gtd")
    expiries.add(order_id="gtd", expires_at=NOON + timedelta(hours=1))
    return expiries


def test_rescheduled_order_expires_only_at_its_new_time():
    expiries = rescheduled()
    assert expiries.pop_expired(now=NOON + timedelta(minutes=30)) == []
    assert expiries.pop_expired(now=NOON + timedelta(hours=1)) == ["gtd"]


def test_next_expiry_of_a_rescheduled_order_is_its_new_time():
    assert rescheduled().next_expiry() == NOON + timedelta(hours=1)


def test_expiry_index_survives_mass_cancellation():
    # Given 300 scheduled orders, of which 250 are cancelled (enough stale heap items to compact it).
    expiries = ExpiryIndex()
    for minute in range(300):
        expiries.add(order_id=minute, expires_at=NOON + timedelta(minutes=minute))
    for minute in range(300):
        if minute % 6:
            expiries.remove(minute)
    # Then exactly the 50 survivors expire, in time order.
    assert len(expiries) == 50
    assert expiries.pop_expired(now=NOON + timedelta(days=1)) == list(range(0, 300, 6))


@settings(max_examples=100, deadline=None)
@given(
    operations=st.lists(
        st.one_of(
            st.tuples(st.just("add"), st.integers(0, 12), st.integers(0, 40)),
            st.tuples(st.just("remove"), st.integers(0, 12), st.just(0)),
            st.tuples(st.just("pop"), st.just(0), st.integers(0, 40)),
        ),
        max_size=120,
    )
)
def test_expiry_index_matches_a_brute_force_schedule(operations):
    expiries, schedule = ExpiryIndex(), {}
    for operation, order_id, minutes in operations:
        moment = NOON + timedelta(minutes=minutes)
        if operation == "add" and order_id not in schedule:
            expiries.add(order_id=order_id, expires_at=moment)
            schedule[order_id] = moment
        elif operation == "remove":
            assert expiries.remove(order_id) is (schedule.pop(order_id, None) is not None)
        elif operation == "pop":
            due = sorted((at, order_id) for order_id, at in schedule.items() if at <= moment)
            expired = expiries.pop_expired(now=moment)
            assert sorted(expired) == sorted(order_id for _, order_id in due)
            assert [schedule[order_id] for order_id in expired] == [at for at, _ in due]
            for order_id in expired:
                del schedule[order_id]
        assert len(expiries) == len(schedule)
    assert expiries.next_expiry() == min(schedule.values(), default=None)


# --- The index against brute force --------------------------------------------------------------------------

SYMBOLS = ("BTC-USD", "ETH-USD")
# A coarse grid makes equal levels and exact touches common.
prices_on_grid = st.integers(90, 110).map(lambda n: D(n) / 2 + 50)
optional_price = st.one_of(st.none(), prices_on_grid)
tick_prices = st.builds(
    TickPrices, last=optional_price, bid=optional_price, ask=optional_price, mid=optional_price, mark=optional_price
)


class TriggerIndexAgainstBruteForce(RuleBasedStateMachine):
    """Random add/remove/update/trail/fire against a dict of resting orders checked by a full scan."""

    @initialize()
    def start(self):
        self.index = TriggerIndex()
        self.entries: dict[int, TriggerEntry] = {}
        self.trailing: dict[int, TrailingEntry] = {}
        self.next_id = 0
        self.ever_fired: set[int] = set()

    @rule(
        symbol=st.sampled_from(SYMBOLS),
        kind=st.sampled_from(TriggerKind),
        side=st.sampled_from(Side),
        level=prices_on_grid,
        source=st.sampled_from(PriceSource),
    )
    def add(self, symbol, kind, side, level, source):
        new = TriggerEntry.for_order(
            order_id=self.next_id, symbol=symbol, kind=kind, side=side, level=level, source=source
        )
        self.next_id += 1
        self.index.add(new)
        self.entries[new.order_id] = new

    @rule(
        symbol=st.sampled_from(SYMBOLS),
        side=st.sampled_from(Side),
        price=prices_on_grid,
        source=st.sampled_from(PriceSource),
        trail=st.one_of(
            st.builds(dict, trail_amount=st.sampled_from([D("0.5"), D(1), D("2.25")])),
            st.builds(dict, trail_percent=st.sampled_from([D(1), D("2.5")])),
        ),
    )
    def add_trailing(self, symbol, side, price, source, trail):
        tick = D("0.25")
        state = trailing_start(side=side, price=price, tick_size=tick, **trail)
        new = TrailingEntry(order_id=self.next_id, symbol=symbol, source=source, state=state, tick_size=tick)
        self.next_id += 1
        self.index.add_trailing(new)
        self.trailing[new.order_id] = new
        self.entries[new.order_id] = new.trigger_entry()

    @precondition(lambda self: self.entries)
    @rule(data=st.data())
    def remove(self, data):
        order_id = data.draw(st.sampled_from(sorted(self.entries)))
        assert self.index.remove(order_id)
        del self.entries[order_id]
        self.trailing.pop(order_id, None)

    @rule(order_id=st.integers(1000, 1010))
    def remove_unknown(self, order_id):
        assert not self.index.remove(order_id)

    @precondition(lambda self: len(self.entries) > len(self.trailing))
    @rule(data=st.data(), level=prices_on_grid)
    def update_level(self, data, level):
        order_id = data.draw(st.sampled_from(sorted(set(self.entries) - set(self.trailing))))
        self.index.update_level(order_id, level)
        self.entries[order_id] = TriggerEntry(**{**_fields(self.entries[order_id]), "level": level})

    @rule(symbol=st.sampled_from(SYMBOLS), prices=tick_prices)
    def tick(self, symbol, prices):
        expected_moves = {}
        for order_id, trailing in self.trailing.items():
            if trailing.symbol != symbol:
                continue
            price = reference_price(prices=prices, source=trailing.source, side=trailing.state.side)
            if price is None:
                continue
            state = trailing_update(state=trailing.state, price=price, tick_size=trailing.tick_size)
            if state is not trailing.state:
                expected_moves[order_id] = state
        moved = self.index.trail(symbol, prices)
        assert {m.order_id: m.state for m in moved} == expected_moves
        assert len(moved) == len(expected_moves)
        for order_id, state in expected_moves.items():
            self.trailing[order_id] = TrailingEntry(**{**_fields(self.trailing[order_id]), "state": state})
            self.entries[order_id] = self.trailing[order_id].trigger_entry()

        crossed = {
            order_id
            for order_id, resting in self.entries.items()
            if resting.symbol == symbol and resting.is_crossed_by(prices)
        }
        fired = self.index.fire(symbol, prices)
        assert len(fired) == len(set(fired)), "an order fired twice in one tick"
        assert set(fired) == crossed
        assert not self.ever_fired & crossed, "an order fired twice"
        self.ever_fired |= crossed
        for order_id in fired:
            del self.entries[order_id]
            self.trailing.pop(order_id, None)

    @invariant()
    def index_holds_exactly_the_model(self):
        assert len(self.index) == len(self.entries)
        for order_id, resting in self.entries.items():
            assert self.index.get(order_id) == resting
        for order_id, trailing in self.trailing.items():
            assert self.index.get_trailing(order_id) == trailing

    def teardown(self):
        # A collapse then a spike on every price fires every remaining order exactly once.
        if not hasattr(self, "index"):
            return
        floor = TickPrices(last=D(0), bid=D(0), ask=D(0), mid=D(0), mark=D(0))
        ceiling = TickPrices(last=D(10**6), bid=D(10**6), ask=D(10**6), mid=D(10**6), mark=D(10**6))
        fired = []
        for symbol in SYMBOLS:
            fired += self.index.fire(symbol, floor) + self.index.fire(symbol, ceiling)
        assert sorted(fired) == sorted(self.entries)
        assert len(self.index) == 0


def _fields(frozen) -> dict:
    return {name: getattr(frozen, name) for name in frozen.__dataclass_fields__}


def test_trigger_index_matches_brute_force():
    run_state_machine_as_test(
        TriggerIndexAgainstBruteForce,
        settings=settings(
            max_examples=50, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
        ),
    )


@settings(max_examples=40, deadline=None)
@given(
    levels=st.lists(st.tuples(st.sampled_from(TriggerKind), st.sampled_from(Side), prices_on_grid), max_size=40),
    ticks=st.lists(tick_prices, max_size=10),
)
def test_rebuild_is_equivalent_to_adding_in_order(levels, ticks):
    entries = [
        TriggerEntry.for_order(order_id=i, symbol="X", kind=kind, side=side, level=level, source=PriceSource.BID_ASK)
        for i, (kind, side, level) in enumerate(levels)
    ]
    one_by_one, rebuilt = TriggerIndex(), TriggerIndex()
    for item in entries:
        one_by_one.add(item)
    rebuilt.rebuild(entries=entries)
    for prices in ticks:
        assert rebuilt.fire("X", prices) == one_by_one.fire("X", prices)


def test_limits_traded_at_finds_resting_limits_a_trade_printed_at_or_through():
    index = TriggerIndex()
    bid_ask = PriceSource.BID_ASK
    for order_id, side, level in (("buy-at-99", Side.BUY, "99"), ("buy-at-98", Side.BUY, "98"),
                                  ("sell-at-101", Side.SELL, "101"), ("sell-at-102", Side.SELL, "102")):
        index.add(entry(order_id, kind=TriggerKind.LIMIT, side=side, level=level, source=bid_ask))
    # A take-profit in the same ladder as the buy limits is not a limit: volume never fills it.
    index.add(entry("buy-take-profit-at-99", kind=TriggerKind.TAKE_PROFIT, side=Side.BUY, level="99", source=bid_ask))

    assert index.limits_traded_at("BTC-USD", D("99")) == ["buy-at-99"]
    assert set(index.limits_traded_at("BTC-USD", D("97.5"))) == {"buy-at-99", "buy-at-98"}
    assert index.limits_traded_at("BTC-USD", D("101")) == ["sell-at-101"]
    assert index.limits_traded_at("BTC-USD", D("100")) == []
    assert index.limits_traded_at("ETH-USD", D("99")) == []
    assert len(index) == 5  # nothing leaves the index
