"""The consolidation rules of haunt.market.aggregator, checked against hand-worked books."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from haunt.market.aggregator import SourceSnapshot, aggregate

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
STALE_AFTER = timedelta(seconds=5)


def snapshot(source, *, bids, asks, last=None, age_seconds=0, is_open=True, traded="0", symbol="BTC-USD"):
    return SourceSnapshot(
        source=source, symbol=symbol, timestamp=NOW - timedelta(seconds=age_seconds),
        bids=tuple((D(price), D(quantity)) for price, quantity in bids),
        asks=tuple((D(price), D(quantity)) for price, quantity in asks),
        last=None if last is None else D(last), is_open=is_open, traded_quantity=D(traded),
    )


def book(*levels):
    return tuple((D(price), D(quantity)) for price, quantity in levels)


def test_single_fresh_source_passes_through_unchanged():
    only = snapshot("alpha", bids=[("100", "1"), ("99", "2")], asks=[("101", "3")], last="100.5", age_seconds=2,
                    is_open=False, traded="0.7")

    market = aggregate([only], now=NOW, stale_after=STALE_AFTER)

    assert market.symbol == "BTC-USD"
    assert market.timestamp == NOW - timedelta(seconds=2)
    assert market.bids == book(("100", "1"), ("99", "2"))
    assert market.asks == book(("101", "3"))
    assert market.last == D("100.5")
    assert market.sources == ("alpha",)
    assert market.is_open is False
    assert market.traded_quantity == D("0.7")
    assert (market.bid, market.ask, market.mid) == (D("100"), D("101"), D("100.5"))


def test_stale_source_is_dropped():
    fresh = snapshot("fresh", bids=[("100", "1")], asks=[("101", "1")], last="100", age_seconds=5)
    stale = snapshot("stale", bids=[("100.5", "9")], asks=[("100.8", "9")], last="100.7", age_seconds=6)

    market = aggregate([stale, fresh], now=NOW, stale_after=STALE_AFTER)

    assert market.sources == ("fresh",)
    assert market.bids == book(("100", "1"))
    assert market.asks == book(("101", "1"))
    assert market.last == D("100")


def test_no_market_when_every_source_is_stale():
    stale = [snapshot(name, bids=[("100", "1")], asks=[("101", "1")], age_seconds=6) for name in ("a", "b")]

    assert aggregate(stale, now=NOW, stale_after=STALE_AFTER) is None
    assert aggregate([], now=NOW, stale_after=STALE_AFTER) is None


def test_outlier_more_than_five_percent_from_median_is_dropped_with_three_sources():
    # Mids 100, 101 and 110: median 101; 110/101 - 1 = 8.9% > 5%, 100/101 - 1 = -1% within.
    alpha = snapshot("alpha", bids=[("99", "1")], asks=[("101", "1")], last="100", age_seconds=2)
    beta = snapshot("beta", bids=[("100", "2")], asks=[("102", "2")], last="101", age_seconds=1)
    broken = snapshot("broken", bids=[("109", "5")], asks=[("111", "5")], last="110", traded="50")

    market = aggregate([alpha, beta, broken], now=NOW, stale_after=STALE_AFTER)

    assert market.sources == ("alpha", "beta")
    assert market.bids == book(("100", "2"), ("99", "1"))
    assert market.asks == book(("101", "1"), ("102", "2"))
    assert market.last == D("101")
    assert market.timestamp == NOW - timedelta(seconds=1)
    assert market.traded_quantity == D("0")


def test_source_just_inside_five_percent_is_kept():
    # Mids 100, 100 and 105: median 100, 105/100 - 1 is exactly 5%, which is not more than 5%.
    sources = [
        snapshot("a", bids=[("99", "1")], asks=[("101", "1")]),
        snapshot("b", bids=[("99", "1")], asks=[("101", "1")]),
        snapshot("c", bids=[("104", "1")], asks=[("106", "1")]),
    ]

    market = aggregate(sources, now=NOW, stale_after=STALE_AFTER)

    assert market.sources == ("a", "b", "c")


def test_with_two_sources_a_far_apart_one_is_kept():
    alpha = snapshot("alpha", bids=[("99.5", "1")], asks=[("100.5", "1")])
    far = snapshot("far", bids=[("119.5", "1")], asks=[("120.5", "1")])

    market = aggregate([alpha, far], now=NOW, stale_after=STALE_AFTER)

    assert market.sources == ("alpha", "far")


def test_books_merge_level_by_level_summing_equal_prices_best_first():
    alpha = snapshot("alpha", bids=[("100", "1"), ("99", "2"), ("97", "1")], asks=[("102", "1"), ("103", "2")])
    beta = snapshot("beta", bids=[("100", "0.5"), ("98", "4")], asks=[("101", "3"), ("103", "1.5"), ("105", "1")])

    market = aggregate([alpha, beta], now=NOW, stale_after=STALE_AFTER)

    assert market.bids == book(("100", "1.5"), ("99", "2"), ("98", "4"), ("97", "1"))
    assert market.asks == book(("101", "3"), ("102", "1"), ("103", "3.5"), ("105", "1"))
    assert (market.bid, market.ask) == (D("100"), D("101"))


def test_crossed_consolidated_book_is_uncrossed_by_netting():
    # Merged bids 101×2, 100×1, 99×1; merged asks 100.5×1, 101×3, 102×1.
    # 101 ≥ 100.5: net 1 → bid 101×1 left, ask 100.5 gone.
    # 101 ≥ 101:   net 1 → bid 101 gone, ask 101×2 left.
    # 100 < 101: uncrossed.
    alpha = snapshot("alpha", bids=[("101", "2"), ("100", "1")], asks=[("102", "1")])
    beta = snapshot("beta", bids=[("99", "1")], asks=[("100.5", "1"), ("101", "3")])

    market = aggregate([alpha, beta], now=NOW, stale_after=STALE_AFTER)

    assert market.bids == book(("100", "1"), ("99", "1"))
    assert market.asks == book(("101", "2"), ("102", "1"))


def test_crossing_that_consumes_a_whole_side_leaves_it_empty():
    alpha = snapshot("alpha", bids=[("105", "1")], asks=[("106", "1")])
    beta = snapshot("beta", bids=[("100", "1")], asks=[("104", "3")])

    market = aggregate([alpha, beta], now=NOW, stale_after=STALE_AFTER)

    assert market.bids == book(("100", "1"))
    assert market.asks == book(("104", "2"), ("106", "1"))


def test_last_comes_from_the_most_recent_source_that_has_one():
    older = snapshot("older", bids=[("100", "1")], asks=[("101", "1")], last="100.2", age_seconds=3)
    newer = snapshot("newer", bids=[("100", "1")], asks=[("101", "1")], last="100.8", age_seconds=1)
    newest_without_trade = snapshot("quiet", bids=[("100", "1")], asks=[("101", "1")], last=None, age_seconds=0)

    market = aggregate([older, newer, newest_without_trade], now=NOW, stale_after=STALE_AFTER)

    assert market.last == D("100.8")
    assert market.timestamp == NOW


def test_last_is_none_when_no_source_has_traded():
    sources = [snapshot(name, bids=[("100", "1")], asks=[("101", "1")]) for name in ("a", "b")]

    assert aggregate(sources, now=NOW, stale_after=STALE_AFTER).last is None


def test_sources_list_every_contributor_in_order_and_traded_quantity_sums():
    sources = [
        snapshot("a", bids=[("100", "1")], asks=[("101", "1")], traded="0.25", is_open=False),
        snapshot("b", bids=[("100", "1")], asks=[("101", "1")], traded="1.5", is_open=True),
        snapshot("c", bids=[("100", "1")], asks=[("101", "1")], traded="2", is_open=False),
    ]

    market = aggregate(sources, now=NOW, stale_after=STALE_AFTER)

    assert market.sources == ("a", "b", "c")
    assert market.traded_quantity == D("3.75")
    assert market.is_open is True


def test_source_with_an_empty_book_is_not_judged_an_outlier():
    # Three mids of 100.5 make a median; the one-sided book has no mid to compare, so it stays.
    sources = [
        snapshot("a", bids=[("100", "1")], asks=[("101", "1")]),
        snapshot("b", bids=[("100", "1")], asks=[("101", "1")]),
        snapshot("c", bids=[("100", "1")], asks=[("101", "1")]),
        snapshot("one_sided", bids=[], asks=[("150", "1")]),
    ]

    market = aggregate(sources, now=NOW, stale_after=STALE_AFTER)

    assert market.sources == ("a", "b", "c", "one_sided")
    assert market.asks == book(("101", "3"), ("150", "1"))


prices = st.integers(min_value=9000, max_value=11000).map(lambda cents: D(cents) / 100)
quantities = st.integers(min_value=1, max_value=500).map(lambda lots: D(lots) / 10)
sides = st.lists(st.tuples(prices, quantities), min_size=1, max_size=6, unique_by=lambda level: level[0])


@given(st.lists(st.tuples(sides, sides), min_size=2, max_size=4))
def test_consolidated_book_is_never_crossed_and_nets_equal_quantities(books):
    sources = [
        SourceSnapshot(source=f"s{index}", symbol="X", timestamp=NOW,
                       bids=tuple(sorted(bids, reverse=True)), asks=tuple(sorted(asks)), last=None)
        for index, (bids, asks) in enumerate(books)
    ]

    market = aggregate(sources, now=NOW, stale_after=STALE_AFTER, max_deviation=D(1000))

    if market.bids and market.asks:
        assert market.bids[0][0] < market.asks[0][0]
    assert [price for price, _ in market.bids] == sorted({price for price, _ in market.bids}, reverse=True)
    assert [price for price, _ in market.asks] == sorted({price for price, _ in market.asks})
    assert all(quantity > 0 for _, quantity in market.bids + market.asks)
    # Netting removes the same quantity from each side.
    bid_total = sum(quantity for bids, _ in books for _, quantity in bids)
    ask_total = sum(quantity for _, asks in books for _, quantity in asks)
    assert bid_total - sum(q for _, q in market.bids) == ask_total - sum(q for _, q in market.asks)


def test_two_camps_with_no_source_near_the_median_are_all_kept():
    # Mids 100, 100, 120, 120: median 110, every source 9% away. No majority: keep all rather than none.
    sources = [
        snapshot("a", bids=[("99", "1")], asks=[("101", "1")], last="100", age_seconds=1),
        snapshot("b", bids=[("99", "2")], asks=[("101", "2")]),
        snapshot("c", bids=[("119", "1")], asks=[("121", "1")], last="120"),
        snapshot("d", bids=[("119", "1")], asks=[("121", "1")]),
    ]

    market = aggregate(sources, now=NOW, stale_after=STALE_AFTER)

    assert market.sources == ("a", "b", "c", "d")
    # Bids 119×2 cross asks 101×3: net 2, leaving ask 101×1; then bid 99×3 is below it.
    assert market.bids == book(("99", "3"))
    assert market.asks == book(("101", "1"), ("121", "2"))
    assert market.last == D("120")


wide_prices = st.integers(min_value=5000, max_value=15000).map(lambda cents: D(cents) / 100)
wide_sides = st.lists(st.tuples(wide_prices, quantities), max_size=4, unique_by=lambda level: level[0])


@given(st.lists(st.tuples(wide_sides, wide_sides), min_size=1, max_size=6))
def test_fresh_sources_always_give_a_market_from_some_of_them(books):
    sources = [
        SourceSnapshot(source=f"s{index}", symbol="X", timestamp=NOW,
                       bids=tuple(sorted(bids, reverse=True)), asks=tuple(sorted(asks)), last=None)
        for index, (bids, asks) in enumerate(books)
    ]

    market = aggregate(sources, now=NOW, stale_after=STALE_AFTER)

    assert market is not None
    assert market.sources and set(market.sources) <= {source.source for source in sources}
