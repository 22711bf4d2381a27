"""Resampling stored bars and building bars tick by tick (haunt.market.bars), against hand-worked OHLCV."""
from datetime import UTC, datetime
from decimal import Decimal as D

from haunt.market.bars import Bar, BarBuilder, resample

MINUTE, FIVE_MINUTES, HOUR, DAY = 60, 300, 3600, 86400


def at(hour, minute, second=0, day=24) -> int:
    return int(datetime(2026, 11, day, hour, minute, second, tzinfo=UTC).timestamp())


def bar(start, open_, high, low, close, volume) -> Bar:
    return Bar(start, D(open_), D(high), D(low), D(close), D(volume))


def minute_bars() -> list[Bar]:
    """Eleven minutes around 15:00 with a gap at 15:02-15:03, and one minute of the next day."""
    return [
        bar(at(14, 58), "10", "12", "9", "11", "1"),
        bar(at(14, 59), "11", "13", "10", "12", "2"),
        bar(at(15, 0), "12", "12", "8", "9", "3"),
        bar(at(15, 1), "9", "15", "9", "14", "4"),
        bar(at(15, 4), "14", "14", "13", "13", "5"),
        bar(at(15, 5), "13", "16", "12", "15", "6"),
        bar(at(0, 0, day=25), "15", "17", "15", "16", "1.5"),
    ]


def test_resample_minutes_to_five_minutes():
    assert resample(minute_bars(), FIVE_MINUTES) == [
        bar(at(14, 55), "10", "13", "9", "12", "3"),
        bar(at(15, 0), "12", "15", "8", "13", "12"),
        bar(at(15, 5), "13", "16", "12", "15", "6"),
        bar(at(0, 0, day=25), "15", "17", "15", "16", "1.5"),
    ]


def test_resample_minutes_to_hours():
    assert resample(minute_bars(), HOUR) == [
        bar(at(14, 0), "10", "13", "9", "12", "3"),
        bar(at(15, 0), "12", "16", "8", "15", "18"),
        bar(at(0, 0, day=25), "15", "17", "15", "16", "1.5"),
    ]


def test_resample_to_days_aligns_to_utc_midnight():
    assert resample(minute_bars(), DAY) == [
        bar(at(0, 0), "10", "16", "8", "15", "21"),
        bar(at(0, 0, day=25), "15", "17", "15", "16", "1.5"),
    ]


def test_resample_at_the_same_interval_keeps_every_bar():
    assert resample(minute_bars(), MINUTE) == minute_bars()


def test_resample_leaves_its_input_bars_untouched():
    bars = minute_bars()

    resample(bars, HOUR)

    assert bars == minute_bars()


def test_resample_of_nothing_is_empty():
    assert resample([], HOUR) == []


def test_builder_opens_a_bar_at_every_resolution_on_the_first_tick():
    builder = BarBuilder()

    builder.update(symbol="BTC-USD", price=D("100"), volume=D("0.5"), epoch_seconds=at(15, 7, 42))

    assert sorted(builder.drain(), key=lambda item: item[1]) == [
        ("BTC-USD", MINUTE, bar(at(15, 7), "100", "100", "100", "100", "0.5")),
        ("BTC-USD", HOUR, bar(at(15, 0), "100", "100", "100", "100", "0.5")),
    ]


def test_builder_across_a_minute_boundary_still_drains_the_finished_bar_once():
    builder = BarBuilder()
    for second, price, volume in [(10, "100", "1"), (40, "102", "2"), (50, "99", "0.5")]:
        builder.update(symbol="ETH-USD", price=D(price), volume=D(volume), epoch_seconds=at(15, 0, second))
    builder.update(symbol="ETH-USD", price=D("101"), volume=D("1"), epoch_seconds=at(15, 1, 5))

    first = builder.drain()
    builder.update(symbol="ETH-USD", price=D("103"), volume=D("2"), epoch_seconds=at(15, 1, 30))
    second = builder.drain()

    assert sorted(first, key=lambda item: (item[1], item[2].start)) == [
        ("ETH-USD", MINUTE, bar(at(15, 0), "100", "102", "99", "99", "3.5")),
        ("ETH-USD", MINUTE, bar(at(15, 1), "101", "101", "101", "101", "1")),
        ("ETH-USD", HOUR, bar(at(15, 0), "100", "102", "99", "101", "4.5")),
    ]
    assert sorted(second, key=lambda item: item[1]) == [
        ("ETH-USD", MINUTE, bar(at(15, 1), "101", "103", "101", "103", "3")),
        ("ETH-USD", HOUR, bar(at(15, 0), "100", "103", "99", "103", "6.5")),
    ]


def test_builder_drops_a_bar_drained_before_its_period_ended():
    builder = BarBuilder(resolutions=(MINUTE,))
    builder.update(symbol="SOL-USD", price=D("20"), volume=D("1"), epoch_seconds=at(15, 0, 10))
    builder.drain()

    builder.update(symbol="SOL-USD", price=D("21"), volume=D("2"), epoch_seconds=at(15, 1, 10))

    assert builder.drain() == [("SOL-USD", MINUTE, bar(at(15, 1), "21", "21", "21", "21", "2"))]


def test_builder_drain_with_nothing_touched_is_empty():
    builder = BarBuilder()
    builder.update(symbol="BTC-USD", price=D("100"), volume=D("1"), epoch_seconds=at(15, 0))
    builder.drain()

    assert builder.drain() == []


def test_builder_keeps_symbols_apart():
    builder = BarBuilder(resolutions=(MINUTE,))

    builder.update(symbol="BTC-USD", price=D("100"), volume=D("1"), epoch_seconds=at(15, 0, 1))
    builder.update(symbol="ETH-USD", price=D("5"), volume=D("3"), epoch_seconds=at(15, 0, 2))
    builder.update(symbol="BTC-USD", price=D("98"), volume=D("1"), epoch_seconds=at(15, 0, 3))

    assert sorted(builder.drain(), key=lambda item: item[0]) == [
        ("BTC-USD", MINUTE, bar(at(15, 0), "100", "100", "98", "98", "2")),
        ("ETH-USD", MINUTE, bar(at(15, 0), "5", "5", "5", "5", "3")),
    ]


def test_drain_returns_copies_that_later_ticks_do_not_change():
    builder = BarBuilder(resolutions=(MINUTE,))
    builder.update(symbol="BTC-USD", price=D("100"), volume=D("1"), epoch_seconds=at(15, 0, 1))

    [(_, _, drained)] = builder.drain()
    builder.update(symbol="BTC-USD", price=D("110"), volume=D("1"), epoch_seconds=at(15, 0, 2))
    drained.high = D("999")  # the caller's copy is its own, too
    [(_, _, later)] = builder.drain()

    assert drained == bar(at(15, 0), "100", "999", "100", "100", "1")
    assert later == bar(at(15, 0), "100", "110", "100", "110", "2")


def test_resume_continues_a_stored_bar_keeping_its_open():
    builder = BarBuilder(resolutions=(MINUTE, HOUR))
    builder.resume(symbol="BTC-USD", resolution=HOUR, bar=bar(at(15, 0), "100", "105", "98", "101", "10"))

    builder.update(symbol="BTC-USD", price=D("107"), volume=D("1"), epoch_seconds=at(15, 30, 0))
    builder.update(symbol="BTC-USD", price=D("95"), volume=D("2"), epoch_seconds=at(15, 30, 5))

    assert sorted(builder.drain(), key=lambda item: item[1]) == [
        ("BTC-USD", MINUTE, bar(at(15, 30), "107", "107", "95", "95", "3")),
        ("BTC-USD", HOUR, bar(at(15, 0), "100", "107", "95", "95", "13")),
    ]


def test_resumed_bar_from_an_ended_period_is_replaced_not_drained():
    builder = BarBuilder(resolutions=(HOUR,))
    builder.resume(symbol="BTC-USD", resolution=HOUR, bar=bar(at(14, 0), "100", "105", "98", "101", "10"))

    builder.update(symbol="BTC-USD", price=D("102"), volume=D("1"), epoch_seconds=at(15, 0, 1))

    assert builder.drain() == [("BTC-USD", HOUR, bar(at(15, 0), "102", "102", "102", "102", "1"))]
