"""Vectorised liquidation sweep, warning ladder, partial liquidation, insurance fund and ADL (spec §4, §6)."""
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from derivatives.liquidation import (
    LIQUIDATION_FEE_RATE,
    LeveragedPositions,
    adl_quantiles,
    adl_queue,
    advance_warnings,
    leverage_pnl,
    plan_partial_liquidation,
    settle_liquidation,
    sweep_mark,
    tier_arrays,
)
from haunt.market.terms import PositionSide
from portfolios.accounting.margin import liquidation_price_tiered

D = Decimal
LONG, SHORT = PositionSide.LONG, PositionSide.SHORT
TIERS = tier_arrays()


def positions(rows):
    """rows: (side, quantity, entry, wallet balance, other maintenance margin, other unrealized PnL)."""
    columns = np.array(rows, dtype=np.float64).T
    return LeveragedPositions(
        side=columns[0], quantity=columns[1], entry_price=columns[2], wallet_balance=columns[3],
        other_maintenance_margin=columns[4], other_unrealized_pnl=columns[5],
    )


def test_sweep_margin_ratio_and_breach_for_isolated_positions():
    # Long 1 @ 60,000, 6,000 margin, marked at 55,000: notional 55,000 is tier 2, MM = 550 − 250 = 300,
    # margin balance 6,000 − 5,000 = 1,000, ratio 0.3. The same short has 11,000 and MM 300.
    # A long 1 @ 60,000 with 1,200 margin at 59,000: MB 200, MM 340, ratio 1.7, breached.
    book = positions([
        (1, 1, 60_000, 6_000, 0, 0),
        (-1, 1, 60_000, 6_000, 0, 0),
        (1, 1, 60_000, 1_200, 0, 0),
    ])
    sweep = sweep_mark(positions=book, mark_price=55_000.0, tiers=TIERS)
    np.testing.assert_allclose(sweep.margin_ratio[:2], [0.3, 300 / 11_000])
    at_59k = sweep_mark(positions=book, mark_price=59_000.0, tiers=TIERS)
    np.testing.assert_allclose(at_59k.margin_ratio[2], 1.7)
    assert at_59k.breached.tolist() == [False, False, True]


def test_sweep_liquidation_price_matches_worked_tiered_examples():
    # Hand-worked in test_margin: 48,241.21 (long, tier 1 at LP), 53,712.87 (short, tier 2 at LP),
    # and no liquidation price for a 1x long.
    book = positions([
        (1, 1, 60_000, 12_000, 0, 0),
        (-1, 1, 45_000, 9_000, 0, 0),
        (1, 1, 60_000, 60_000, 0, 0),
    ])
    sweep = sweep_mark(positions=book, mark_price=50_000.0, tiers=TIERS)
    np.testing.assert_allclose(sweep.liquidation_price[:2], [48_000 / 0.995, 54_250 / 1.01], rtol=1e-12)
    assert np.isnan(sweep.liquidation_price[2])
    np.testing.assert_allclose(sweep.liquidation_move[:2], [48_000 / 0.995 / 50_000 - 1, 54_250 / 1.01 / 50_000 - 1])


def test_isolated_100x_long_survives_half_percent_fall_and_is_breached_by_six_tenths():
    # 0.5 BTC at 60,000 with 300 margin: LP is 60,000 × 198/199, a fall of 1/199 ≈ 0.5025%.
    book = positions([(1, 0.5, 60_000, 300, 0, 0)])
    assert not sweep_mark(positions=book, mark_price=60_000 * 0.995, tiers=TIERS).breached[0]
    assert sweep_mark(positions=book, mark_price=60_000 * 0.994, tiers=TIERS).breached[0]
    sweep = sweep_mark(positions=book, mark_price=60_000.0, tiers=TIERS)
    np.testing.assert_allclose(sweep.liquidation_move[0], -1 / 199, rtol=1e-12)


def test_sweep_cross_winner_keeps_loser_alive_where_isolated_twin_is_breached():
    # Both rows: 1 BTC long at 60,000 on a 2,000 wallet, marked at 57,000. The cross row's account
    # also holds a winning ETH short (UPNL +3,000, maintenance 135):
    # ratio = (135 + 570 − 250) / (2,000 + 3,000 − 3,000) = 0.2275. The lone long's balance is −1,000.
    book = positions([
        (1, 1, 60_000, 2_000, 135, 3_000),
        (1, 1, 60_000, 2_000, 0, 0),
    ])
    sweep = sweep_mark(positions=book, mark_price=57_000.0, tiers=TIERS)
    np.testing.assert_allclose(sweep.margin_ratio[0], 0.2275)
    assert sweep.margin_ratio[1] == np.inf
    assert sweep.breached.tolist() == [False, True]
    np.testing.assert_allclose(sweep.liquidation_price, [54_885 / 0.99, 57_750 / 0.99])


def test_sweep_agrees_with_decimal_tiered_liquidation_price_on_random_book():
    rng = np.random.default_rng(7)
    count = 300
    side = rng.choice([-1.0, 1.0], count)
    quantity = rng.uniform(0.01, 150.0, count)
    entry = rng.uniform(20_000, 80_000, count)
    wallet = quantity * entry / rng.uniform(1, 100, count)
    book = LeveragedPositions(side, quantity, entry, wallet, np.zeros(count), np.zeros(count))
    sweep = sweep_mark(positions=book, mark_price=50_000.0, tiers=TIERS)
    for row in range(count):
        expected = liquidation_price_tiered(
            side=PositionSide.of_sign(int(side[row])), quantity=D(quantity[row]), entry_price=D(entry[row]),
            wallet_balance=D(wallet[row]),
        )
        if expected is None:
            assert np.isnan(sweep.liquidation_price[row])
        else:
            assert sweep.liquidation_price[row] == pytest.approx(float(expected), rel=1e-9)


def run_ladder(ratios, **options):
    level = np.zeros(1, dtype=np.int8)
    emitted = []
    for ratio in ratios:
        step = advance_warnings(previous_level=level, margin_ratio=np.array([ratio]), **options)
        level = step.level
        emitted.append(int(step.emitted[0]))
    return emitted


def test_warning_ladder_emits_each_crossing_once_and_rearms_after_recovery():
    # 80% alert once; a dip to 79% is not a recovery (gap 5 points), so no repeat; 90%, 95% once each;
    # recovery to 70% re-arms, and 81% alerts again.
    ratios = [0.50, 0.82, 0.85, 0.79, 0.81, 0.91, 0.96, 0.97, 0.70, 0.81]
    assert run_ladder(ratios) == [0, 1, 0, 0, 0, 2, 3, 0, 0, 1]


def test_warning_ladder_without_gap_rearms_as_soon_as_ratio_falls_below():
    assert run_ladder([0.82, 0.79, 0.81], rearm_gap=0.0) == [1, 0, 1]


def test_warning_ladder_over_arrays_with_custom_thresholds():
    # A jump over every threshold emits one alert for the highest; an infinite ratio counts as over all.
    step = advance_warnings(
        previous_level=np.array([0, 0, 2, 1], dtype=np.int8),
        margin_ratio=np.array([0.99, np.inf, 0.60, 0.74]),
        thresholds=(0.70, 0.85),
        rearm_gap=0.1,
    )
    assert step.level.tolist() == [2, 2, 1, 1]
    assert step.emitted.tolist() == [2, 2, 0, 0]


def test_partial_liquidation_closes_just_enough_within_a_tier():
    # Long 10 @ 60,000 on 30,000 margin, mark 58,000: MB 10,000; MM = 580,000 × 2.5% − 4,000 = 10,500.
    # Filling at the mark with no fee leaves MB at 10,000, so MM must fall below it:
    # (10 − c) × 1,450 − 4,000 < 10,000 → c > 0.3448…, on a 0.001 lot grid c = 0.345.
    common = {
        "side": LONG, "quantity": D(10), "entry_price": D(60_000), "wallet_balance": D(30_000),
        "mark_price": D(58_000), "fill_price": D(58_000), "lot_size": D("0.001"),
    }
    plan = plan_partial_liquidation(fee_rate=D(0), **common)
    assert plan.close_quantity == D("0.345")
    assert plan.margin_ratio_after == D("9999.75") / D(10_000)
    # With the 0.5% fee (290 a unit): 10,000 − 290c > 10,500 − 1,450c → c > 0.43103…, so 0.432.
    with_fee = plan_partial_liquidation(fee_rate=LIQUIDATION_FEE_RATE, **common)
    assert with_fee.close_quantity == D("0.432")
    assert with_fee.margin_ratio_after < 1 and not with_fee.is_full


def test_partial_liquidation_steps_down_tiers_as_notional_shrinks():
    # Long 1 @ 60,000 on 1,200 margin, mark 59,000: MB 200, MM 340. Tier 2 alone would ask for
    # 340 − 590c < 200, c > 0.2373, but below 50,000 notional the position is tier 1, where
    # 295 × (1 − c) < 200 → c > 0.32203…: c = 0.323 and MM = 0.677 × 295 = 199.715.
    plan = plan_partial_liquidation(
        side=LONG, quantity=D(1), entry_price=D(60_000), wallet_balance=D(1_200), mark_price=D(59_000),
        fill_price=D(59_000), lot_size=D("0.001"), fee_rate=D(0),
    )
    assert plan.close_quantity == D("0.323")
    assert plan.margin_ratio_after == D("199.715") / D(200)


def test_partial_liquidation_in_tier_1_with_full_fee_is_a_full_close():
    # At tier 1 the 0.5% fee on the closed notional equals the 0.5% maintenance it releases:
    # no partial close helps, so the whole position goes.
    plan = plan_partial_liquidation(
        side=SHORT, quantity=D("0.5"), entry_price=D(60_000), wallet_balance=D(300), mark_price=D(60_400),
        fill_price=D(60_400), lot_size=D("0.001"), fee_rate=LIQUIDATION_FEE_RATE,
    )
    assert plan.is_full and plan.close_quantity == D("0.5")


def test_partial_liquidation_of_a_healthy_position_closes_nothing():
    plan = plan_partial_liquidation(
        side=LONG, quantity=D(1), entry_price=D(60_000), wallet_balance=D(6_000), mark_price=D(59_000),
        fill_price=D(59_000), lot_size=D("0.001"), fee_rate=LIQUIDATION_FEE_RATE,
    )
    assert plan.close_quantity == D(0) and plan.margin_ratio_after < 1


@pytest.mark.parametrize(
    ("fill", "fund", "expected"),
    [
        # above bankruptcy (54,000): −5,000 PnL leaves 1,000; fee 0.5% × 55,000 = 275 to the fund
        (55_000, 10_000, {"fee_to_fund": 275, "shortfall": 0, "collateral_after": 725, "fund_balance_after": 10_275}),
        # just above bankruptcy: 100 left, the 270.50 fee is capped at it
        (54_100, 10_000, {"fee_to_fund": 100, "shortfall": 0, "collateral_after": 0, "fund_balance_after": 10_100}),
        # below bankruptcy: 500 short, no fee, the fund pays the 500
        (53_500, 10_000, {"fee_to_fund": 0, "shortfall": 500, "drawn_from_fund": 500, "fund_balance_after": 9_500}),
        # the fund holds only 200: 300 is left for ADL
        (53_500, 200, {"drawn_from_fund": 200, "uncovered_shortfall": 300, "fund_balance_after": 0}),
    ],
)
def test_insurance_fund_collects_fees_and_covers_shortfalls(fill, fund, expected):
    # Long 1 @ 60,000 on 6,000 isolated margin
    settlement = settle_liquidation(
        side=LONG, close_quantity=D(1), entry_price=D(60_000), fill_price=D(fill), collateral=D(6_000),
        fee_rate=LIQUIDATION_FEE_RATE, fund_balance=D(fund),
    )
    assert {name: getattr(settlement, name) for name in expected} == {name: D(v) for name, v in expected.items()}


@given(
    side=st.sampled_from([LONG, SHORT]),
    quantity=st.decimals(min_value=D("0.001"), max_value=D(1_000), places=3),
    entry=st.decimals(min_value=D(1), max_value=D(100_000), places=2),
    leverage=st.integers(min_value=1, max_value=100),
    fill_ratio=st.decimals(min_value=D("0.01"), max_value=D(3), places=4),
)
def test_isolated_position_loses_at_most_its_margin_and_nothing_to_the_fund_inside_bankruptcy(
    side, quantity, entry, leverage, fill_ratio
):
    # Given an isolated position whose margin is a stored money amount, closed at any price
    margin = (quantity * entry / leverage).quantize(D("1e-8"))
    fill = (entry * fill_ratio).quantize(D("0.01"))
    settlement = settle_liquidation(
        side=side, close_quantity=quantity, entry_price=entry, fill_price=fill, collateral=margin,
        fee_rate=LIQUIDATION_FEE_RATE, fund_balance=D(10**12),
    )
    # Then the trader's loss, margin − collateral after, never exceeds the margin ...
    assert settlement.collateral_after >= 0
    # ... and a fill at or inside the bankruptcy price draws nothing from the fund, while one beyond
    # it draws exactly the deficit. side·(fill − bankruptcy price) ≥ 0 is checked in its exact form
    # margin + side·Q·(fill − entry) ≥ 0, free of the division by Q.
    inside_bankruptcy = margin + side.sign * quantity * (fill - entry) >= 0
    assert (settlement.drawn_from_fund == 0) == inside_bankruptcy
    if not inside_bankruptcy:
        assert settlement.drawn_from_fund == -(margin + side.sign * quantity * (fill - entry))


def test_adl_ranks_by_binance_leverage_pnl_and_buckets_into_quantiles():
    # PnL% = max(0, upnl)/max(1, wallet); ratio = MM/(wallet + upnl):
    # row 0: 0.5 × 100/1,500 = 1/30; row 1: 0.2 × 100/1,200 = 1/60; row 2: 1 × 100/1,000 = 0.1;
    # row 3 losing: 0; row 4: 0.5 × 10/150 = 1/30; row 5 flat: 0; row 6: wallet 0.5 floors at 1: 2 × 5/2.5 = 4.
    wallet = np.array([1_000, 1_000, 500, 2_000, 100, 1_000, 0.5])
    upnl = np.array([500, 200, 500, -100, 50, 0, 2])
    maintenance = np.array([100, 100, 100, 100, 10, 50, 5])
    scores = leverage_pnl(unrealized_pnl=upnl, wallet_balance=wallet, maintenance_margin=maintenance)
    np.testing.assert_allclose(scores, [1 / 30, 1 / 60, 0.1, 0, 1 / 30, 0, 4])
    assert adl_queue(scores).tolist() == [6, 2, 0, 4, 1, 3, 5]
    # ranks (strictly lower scores): [3, 2, 5, 0, 3, 0, 6]; quantile = 5 × rank // 7
    assert adl_quantiles(scores).tolist() == [2, 1, 3, 0, 2, 0, 4]
