"""Margin, tiers and liquidation price, checked against hand-worked numbers (spec §3, §6, Appendix B)."""
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from haunt.market.terms import AssetClass, PositionSide
from portfolios.accounting.margin import (
    CLASS_MARGIN_RATES,
    PERP_LEVERAGE_TIERS,
    LeverageNotAllowed,
    bankruptcy_price,
    check_leverage,
    initial_margin,
    leverage_tiers,
    liquidation_price,
    liquidation_price_tiered,
    maintenance_margin,
    margin_ratio,
    max_leverage,
    required_maintenance_margin,
    tier_for,
    unrealized_pnl,
)

D = Decimal
CENT = D("0.01")
LONG, SHORT = PositionSide.LONG, PositionSide.SHORT


@pytest.mark.parametrize(
    ("asset_class", "max_lev", "initial", "maintenance"),
    [
        (AssetClass.PERPETUAL, "100", "0.01", "0.005"),
        (AssetClass.CRYPTO_SPOT, "10", "0.10", "0.05"),
        (AssetClass.STOCK, "4", "0.25", "0.25"),
        (AssetClass.ETF, "4", "0.25", "0.25"),
        (AssetClass.FOREX, "50", "0.02", "0.01"),
        (AssetClass.OPTION, "1", "1", "0"),
    ],
)
def test_class_limits_match_spec_section_3(asset_class, max_lev, initial, maintenance):
    rates = CLASS_MARGIN_RATES[asset_class]
    assert (rates.max_leverage, rates.initial_rate, rates.maintenance_rate) == (D(max_lev), D(initial), D(maintenance))


def test_tier_table_has_spec_limits_half_rates_and_hand_computed_cum():
    # Given the spec §6 brackets, each MMR half of 1/max leverage,
    # cum2 = 50,000 × (1% − 0.5%) = 250; cum3 = 250 + 250,000 × (2.5% − 1%) = 4,000;
    # cum4 = 4,000 + 1,000,000 × (5% − 2.5%) = 29,000; cum5 = 29,000 + 5,000,000 × (10% − 5%) = 279,000.
    rows = [
        (tier.number, tier.notional_floor, tier.notional_cap, tier.max_leverage, tier.initial_rate,
         tier.maintenance_rate, tier.maintenance_amount)
        for tier in PERP_LEVERAGE_TIERS
    ]
    assert rows == [
        (1, D(0), D(50_000), D(100), D("0.01"), D("0.005"), D(0)),
        (2, D(50_000), D(250_000), D(50), D("0.02"), D("0.01"), D(250)),
        (3, D(250_000), D(1_000_000), D(20), D("0.05"), D("0.025"), D(4_000)),
        (4, D(1_000_000), D(5_000_000), D(10), D("0.1"), D("0.05"), D(29_000)),
        (5, D(5_000_000), None, D(5), D("0.2"), D("0.10"), D(279_000)),
    ]


@pytest.mark.parametrize(
    ("notional", "tier_number"),
    [("0", 1), ("49999.99", 1), ("50000", 2), ("249999.99", 2), ("250000", 3), ("999999", 3),
     ("1000000", 4), ("4999999.99", 4), ("5000000", 5), ("80000000", 5)],
)
def test_tier_for_uses_floor_inclusive_cap_exclusive_brackets(notional, tier_number):
    assert tier_for(notional=D(notional)).number == tier_number


@given(
    boundary=st.sampled_from(PERP_LEVERAGE_TIERS[1:]),
    offset=st.decimals(min_value=D("0.00000001"), max_value=D(10_000), places=8),
)
def test_maintenance_margin_is_continuous_across_tier_floors(boundary, offset):
    # Given a floor, the tiers either side agree exactly at it ...
    below = PERP_LEVERAGE_TIERS[boundary.number - 2]
    floor = boundary.notional_floor
    assert maintenance_margin(notional=floor, tier=below) == maintenance_margin(notional=floor, tier=boundary)
    # ... so stepping `offset` either side moves the requirement by no more than offset × the larger rate.
    just_below = maintenance_margin(notional=floor - offset, tier=tier_for(notional=floor - offset))
    just_above = maintenance_margin(notional=floor + offset, tier=tier_for(notional=floor + offset))
    assert D(0) <= just_above - just_below <= offset * (below.maintenance_rate + boundary.maintenance_rate)


def test_leverage_tiers_rejects_table_not_starting_at_zero():
    with pytest.raises(ValueError):
        leverage_tiers([(D(10), D(100), D("0.005"))])


def test_leverage_above_tier_maximum_is_rejected_naming_the_tier():
    with pytest.raises(LeverageNotAllowed) as refused:
        check_leverage(asset_class=AssetClass.PERPETUAL, notional=D(100_000), leverage=D(60))
    assert refused.value.tier.number == 2
    assert "tier 2" in refused.value.message and "50x" in refused.value.message
    assert refused.value.field == "leverage"


def test_leverage_at_tier_maximum_is_accepted():
    check_leverage(asset_class=AssetClass.PERPETUAL, notional=D(49_999), leverage=D(100))
    check_leverage(asset_class=AssetClass.PERPETUAL, notional=D(6_000_000), leverage=D(5))
    check_leverage(asset_class=AssetClass.STOCK, notional=D(10**9), leverage=D(4))


@pytest.mark.parametrize(
    ("asset_class", "leverage"),
    [(AssetClass.STOCK, "4.5"), (AssetClass.FOREX, "51"), (AssetClass.CRYPTO_SPOT, "11"),
     (AssetClass.OPTION, "2"), (AssetClass.FOREX, "0.5")],
)
def test_leverage_outside_class_limits_is_rejected(asset_class, leverage):
    with pytest.raises(LeverageNotAllowed):
        check_leverage(asset_class=asset_class, notional=D(1_000), leverage=D(leverage))


def test_max_leverage_follows_tier_for_perps_and_class_otherwise():
    assert max_leverage(asset_class=AssetClass.PERPETUAL, notional=D(300_000)) == D(20)
    assert max_leverage(asset_class=AssetClass.FOREX, notional=D(300_000)) == D(50)


def test_initial_and_maintenance_margin_by_class():
    assert initial_margin(notional=D(60_000), leverage=D(10)) == D(6_000)
    assert required_maintenance_margin(asset_class=AssetClass.STOCK, notional=D(100_000)) == D(25_000)
    assert required_maintenance_margin(asset_class=AssetClass.FOREX, notional=D(100_000)) == D(1_000)
    assert required_maintenance_margin(asset_class=AssetClass.CRYPTO_SPOT, notional=D(100_000)) == D(5_000)
    # perps by tier: 300,000 × 2.5% − 4,000 = 3,500
    assert required_maintenance_margin(asset_class=AssetClass.PERPETUAL, notional=D(300_000)) == D(3_500)


def test_margin_ratio_is_infinite_once_margin_balance_is_gone():
    assert margin_ratio(maintenance_margin=D(300), margin_balance=D(1_000)) == D("0.3")
    assert margin_ratio(maintenance_margin=D(300), margin_balance=D(-5)) > D(10**9)


def test_unrealized_pnl_sign_follows_side():
    # 2 units bought or sold at 100, now worth 90 each
    assert unrealized_pnl(side=LONG, value=D(180), cost=D(200)) == D(-20)
    assert unrealized_pnl(side=SHORT, value=D(180), cost=D(200)) == D(20)
    assert unrealized_pnl(side=-1, value=D(180), cost=D(200)) == D(20)  # a sign, as the numpy sweep passes


@pytest.mark.parametrize(("side", "expected"), [(LONG, "54221.11"), (SHORT, "65721.39")])
def test_binance_worked_liquidation_price_for_1_btc_at_10x_isolated(side, expected):
    # Given 1 BTC at 60,000, 10x isolated (position margin 6,000), MMR 0.5% and cum 50:
    # long  (6,000 + 50 − 60,000) / (0.005 − 1) = 53,950 / 0.995 = 54,221.11
    # short (6,000 + 50 + 60,000) / (0.005 + 1) = 66,050 / 1.005 = 65,721.39
    price = liquidation_price(
        side=side, quantity=D(1), entry_price=D(60_000), wallet_balance=D(6_000),
        maintenance_rate=D("0.005"), maintenance_amount=D(50),
    )
    assert price.quantize(CENT) == D(expected)


def test_isolated_long_at_100x_liquidates_after_a_fall_of_one_part_in_199():
    # Given 0.5 BTC long at 60,000 at 100x (notional 30,000: tier 1, margin 300, MMR 0.5%, cum 0).
    # LP = (300 − 30,000) / (0.5 × 0.005 − 0.5) = 60,000 × 0.99 / 0.995 = 60,000 × 198/199.
    # The fall is (1% − 0.5%) / (1 − 0.5%) = 1/199 ≈ 0.5025%: the 0.5% of margin above maintenance,
    # stretched slightly because maintenance shrinks with the price. The brief's "~0.6%" is a
    # generous rounding of this: a 0.5% fall survives, a 0.6% fall is past the liquidation price.
    price = liquidation_price_tiered(side=LONG, quantity=D("0.5"), entry_price=D(60_000), wallet_balance=D(300))
    assert abs(price - D(60_000) * 198 / 199) < D("1e-18")
    assert abs(1 - price / D(60_000) - D(1) / 199) < D("1e-24")
    assert D(60_000) * D("0.995") > price > D(60_000) * D("0.994")


def test_tiered_liquidation_price_uses_the_tier_at_the_liquidation_price():
    # Long 1 @ 60,000 with 12,000 margin: entry notional is tier 2, whose line gives
    # (12,000 + 250 − 60,000)/(0.01 − 1) = 48,232.32, inside tier 1; tier 1 gives
    # (12,000 − 60,000)/(0.005 − 1) = 48,241.21, which is in tier 1: that is the answer.
    long_price = liquidation_price_tiered(side=LONG, quantity=D(1), entry_price=D(60_000), wallet_balance=D(12_000))
    assert long_price.quantize(CENT) == D("48241.21")
    # Short 1 @ 45,000 (tier 1) with 9,000 margin: tier 1 gives 53,731.34 (tier 2), tier 2 gives
    # (9,000 + 250 + 45,000)/(1.01) = 53,712.87, which is in tier 2.
    short_price = liquidation_price_tiered(side=SHORT, quantity=D(1), entry_price=D(45_000), wallet_balance=D(9_000))
    assert short_price.quantize(CENT) == D("53712.87")


def test_fully_collateralised_long_has_no_liquidation_price():
    assert liquidation_price_tiered(side=LONG, quantity=D(1), entry_price=D(60_000), wallet_balance=D(60_000)) is None


def test_cross_margin_winner_keeps_loser_alive():
    # Given a cross wallet of 2,000 and a 1 BTC long at 60,000 (tier 2: MMR 1%, cum 250).
    # Alone: LP = (2,000 + 250 − 60,000)/(0.01 − 1) = 58,333.33.
    alone = liquidation_price_tiered(side=LONG, quantity=D(1), entry_price=D(60_000), wallet_balance=D(2_000))
    assert alone.quantize(CENT) == D("58333.33")
    # With a winning 10 ETH short from 3,000 now marked at 2,700: UPNL1 = +3,000,
    # TMM1 = 27,000 × 0.5% = 135. LP = (2,000 − 135 + 3,000 + 250 − 60,000)/(−0.99) = 55,439.39.
    with_winner = liquidation_price_tiered(
        side=LONG, quantity=D(1), entry_price=D(60_000), wallet_balance=D(2_000),
        other_maintenance_margin=D(135), other_unrealized_pnl=D(3_000),
    )
    assert with_winner.quantize(CENT) == D("55439.39")
    # So a BTC mark of 57,000 is past the lone long's liquidation price but not the cross one's.
    assert with_winner < D(57_000) < alone


@pytest.mark.parametrize(("side", "expected"), [(LONG, 54_000), (SHORT, 66_000)])
def test_bankruptcy_price_is_where_isolated_margin_is_exhausted(side, expected):
    assert bankruptcy_price(side=side, quantity=D(1), entry_price=D(60_000), wallet_balance=D(6_000)) == D(expected)
