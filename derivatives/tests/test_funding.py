"""Funding, premium index, index and mark price against hand-worked Binance-style examples (spec §6)."""
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from derivatives.funding import (
    IndexSource,
    average_premium_index,
    basis_moving_average,
    funding_cash_flow,
    funding_rate,
    funding_rate_cap_for,
    impact_margin_notional,
    impact_price,
    index_price,
    mark_price,
    next_funding_time,
    premium_index,
)
from haunt.market.terms import PositionSide

D = Decimal
LONG, SHORT = PositionSide.LONG, PositionSide.SHORT


@pytest.mark.parametrize(
    ("rate", "long_flow", "short_flow"),
    [
        # 2 BTC × 60,000 × 0.01% = 12: the long pays it, the short receives it
        ("0.0001", "-12", "12"),
        # negative rate: 2 × 60,000 × 0.03% = 36 flows from the short to the long
        ("-0.0003", "36", "-36"),
    ],
)
def test_funding_cash_flow_for_long_and_short(rate, long_flow, short_flow):
    common = {"quantity": D(2), "mark_price": D(60_000), "rate": D(rate)}
    assert funding_cash_flow(side=LONG, **common) == D(long_flow)
    assert funding_cash_flow(side=SHORT, **common) == D(short_flow)


def test_impact_margin_notional_is_200_over_initial_rate():
    assert impact_margin_notional(initial_rate=D("0.01")) == D(20_000)
    assert impact_margin_notional(initial_rate=D("0.05")) == D(4_000)  # Binance's BNBUSDT example at 20x


def test_impact_price_walks_the_book_for_the_impact_notional():
    # Filling 20,000 USDT of asks: 0.1 @ 60,000 (6,000) + 0.2 @ 60,010 (12,002) + 1,998 USDT at
    # 60,050 (1,998/60,050 BTC). Quantity = (18,015 + 1,998)/60,050 = 20,013/60,050, so the average
    # fill is 20,000 × 60,050 / 20,013 = 1,201,000,000 / 20,013.
    asks = [(D(60_000), D("0.1")), (D(60_010), D("0.2")), (D(60_050), D(1))]
    price = impact_price(levels=asks, notional=D(20_000))
    assert abs(price - D(1_201_000_000) / D(20_013)) < D("1e-20")


def test_impact_price_is_none_when_book_is_too_thin():
    assert impact_price(levels=[(D(60_000), D("0.1"))], notional=D(20_000)) is None


@pytest.mark.parametrize(
    ("impact_bid", "impact_ask", "expected"),
    [
        (60_030, 60_060, "0.0005"),  # book above index: (60,030 − 60,000)/60,000
        (59_990, 60_010, "0"),  # index inside the impact spread: no premium
        (59_900, 59_940, "-0.001"),  # book below index: −(60,000 − 59,940)/60,000
    ],
)
def test_premium_index(impact_bid, impact_ask, expected):
    value = premium_index(impact_bid=D(impact_bid), impact_ask=D(impact_ask), index_price=D(60_000))
    assert value == D(expected)


def test_average_premium_weights_later_samples_more():
    # (1 × 0.0001 + 2 × 0.0002 + 3 × 0.0004) / (1 + 2 + 3) = 0.0017 / 6
    assert average_premium_index([D("0.0001"), D("0.0002"), D("0.0004")]) == D("0.0017") / 6


@pytest.mark.parametrize(
    ("premium", "expected"),
    [
        ("0.0003", "0.0001"),  # interest − P = −0.02% is inside ±0.05%: F is the interest rate
        ("-0.0004", "0.0001"),  # +0.05% exactly on the band edge: still the interest rate
        ("0.002", "0.0015"),  # 0.2% + clamp(−0.19%) = 0.2% − 0.05%
        ("-0.001", "-0.0005"),  # −0.1% + clamp(+0.11%) = −0.1% + 0.05%
        ("0.02", "0.0075"),  # 2% − 0.05% = 1.95%, capped at +0.75%
        ("-0.02", "-0.0075"),  # floored at −0.75%
    ],
)
def test_funding_rate_clamp_and_cap(premium, expected):
    assert funding_rate(average_premium=D(premium)) == D(expected)


def test_funding_rate_with_binance_contract_cap_and_asymmetric_floor():
    binance_cap = funding_rate_cap_for(maintenance_rate=D("0.005"))
    assert binance_cap == D("0.00375")
    assert funding_rate(average_premium=D("0.01"), cap=binance_cap) == D("0.00375")
    assert funding_rate(average_premium=D("-0.01"), cap=binance_cap, floor=D("-0.002")) == D("-0.002")


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2024, 3, 1, 7, 59, 59, tzinfo=UTC), datetime(2024, 3, 1, 8, tzinfo=UTC)),
        (datetime(2024, 3, 1, 8, 0, 0, tzinfo=UTC), datetime(2024, 3, 1, 16, tzinfo=UTC)),
        (datetime(2024, 3, 1, 0, 0, 0, 1, tzinfo=UTC), datetime(2024, 3, 1, 8, tzinfo=UTC)),
        (datetime(2024, 3, 1, 23, 30, tzinfo=UTC), datetime(2024, 3, 2, 0, tzinfo=UTC)),
        (datetime(2024, 12, 31, 16, 0, 1, tzinfo=UTC), datetime(2025, 1, 1, 0, tzinfo=UTC)),
        # 10:00 at UTC+5 is 05:00 UTC
        (datetime(2024, 3, 1, 10, tzinfo=timezone(timedelta(hours=5))), datetime(2024, 3, 1, 8, tzinfo=UTC)),
    ],
)
def test_next_funding_time_is_next_of_00_08_16_utc(now, expected):
    assert next_funding_time(now=now) == expected


def test_next_funding_time_requires_aware_datetime():
    with pytest.raises(ValueError):
        next_funding_time(now=datetime(2024, 3, 1, 7))


def test_index_weights_out_source_more_than_5_percent_from_median():
    # Median of (60,000, 60,100, 59,900, 70,000) is 60,050; 70,000 is 16.6% away and drops out.
    # (60,000 × 1 + 60,100 × 1 + 59,900 × 2) / 4 = 59,975
    sources = [
        IndexSource(price=D(60_000), weight=D(1)),
        IndexSource(price=D(60_100), weight=D(1)),
        IndexSource(price=D(59_900), weight=D(2)),
        IndexSource(price=D(70_000), weight=D(3)),
    ]
    assert index_price(sources=sources) == D(59_975)


def test_index_is_none_when_every_source_is_weighted_out():
    # 100 and 120: the median 110 is 9% from each
    sources = [IndexSource(price=D(100), weight=D(1)), IndexSource(price=D(120), weight=D(1))]
    assert index_price(sources=sources) is None


def test_basis_moving_average_is_mean_of_mid_minus_index():
    assert basis_moving_average(book_mids=[D(60_010), D(60_020), D(60_030)], index_prices=[D(60_000)] * 3) == D(20)


def test_mark_price_is_median_of_funding_basis_moving_basis_and_last_price():
    # price 1 = 60,000 × (1 + 0.0001 × 4h/8h) = 60,003; price 2 = 60,000 + 20 = 60,020.
    common = {
        "index_price": D(60_000),
        "last_funding_rate": D("0.0001"),
        "time_to_funding": timedelta(hours=4),
        "basis_moving_average": D(20),
    }
    # a spiked last trade does not move the mark
    assert mark_price(last_price=D(70_000), **common) == D(60_020)
    assert mark_price(last_price=D(50_000), **common) == D(60_003)
    # a last trade between the two is the mark
    assert mark_price(last_price=D(60_010), **common) == D(60_010)
