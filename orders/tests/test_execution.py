"""Execution simulation (spec §5, appendix A): hand-worked books, fees, latency, profiles, queues.

Every expected number below is worked by hand in the comments from the spec §5 formula
    s = base_slippage + min(order_size, depth) / depth × impact_factor
with buys paying level × (1 + s) rounded up to the tick and sells receiving level × (1 − s)
rounded down.
"""

import dataclasses
import hashlib
import json
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from orders.execution import (
    DEFAULT_FEE_SCHEDULES,
    FRICTIONLESS,
    PROFILES,
    REALISTIC,
    STRESS,
    THIN_BOOK,
    AssetClass,
    FeeSchedule,
    InstrumentSpec,
    Liquidity,
    LiquidityTier,
    OrderBook,
    RealismProfile,
    RemainderAction,
    Side,
    TimeInForce,
    fee_for,
    initial_queue_ahead,
    profile_book,
    round_fee_up,
    sample_latency_ms,
    simulate_execution,
    simulate_resting_limit_update,
)

D = Decimal

# Stock book used throughout: spread 0.05, mid 99.975, 1 000 shares visible on each side.
STOCK_BOOK = OrderBook(
    bids=[(D("99.95"), D(100)), (D("99.90"), D(300)), (D("99.85"), D(600))],
    asks=[(D("100.00"), D(100)), (D("100.05"), D(200)), (D("100.10"), D(700))],
)
# Stock: impact factor 0.05; tier 1: base slippage 0.0001.
STOCK = InstrumentSpec(
    asset_class=AssetClass.STOCK, liquidity_tier=LiquidityTier.LIQUID, tick_size=D("0.01"), lot_size=D(1)
)


def bps(value: Decimal | None) -> Decimal:
    return value.quantize(D("0.0001"))


def fills(result) -> list[tuple[Decimal, Decimal, Decimal]]:
    return [(piece.book_price, piece.fill_price, piece.quantity) for piece in result.slices]


def execute(**overrides):
    arguments = dict(
        side=Side.BUY, quantity=D(400), book=STOCK_BOOK, profile=REALISTIC, instrument=STOCK, order_key="order-1"
    )
    arguments.update(overrides)
    return simulate_execution(**arguments)


# --- market orders walking the book -----------------------------------------------------------


def test_market_buy_walks_three_ask_levels_with_slippage_on_each():
    # Given 400 shares against 1 000 of ask depth: s = 0.0001 + 400/1000 × 0.05 = 0.0201.
    # When the order walks the asks:
    result = execute(arrival_price=D("99.90"))
    # Then each level fills at level × 1.0201 rounded up to the cent:
    #   100.00 × 1.0201 = 102.01      (exact)      × 100
    #   100.05 × 1.0201 = 102.061005  → 102.07     × 200
    #   100.10 × 1.0201 = 102.11201   → 102.12     × 100
    assert result.slippage_fraction_applied == D("0.0201")
    assert fills(result) == [
        (D("100.00"), D("102.01"), D(100)),
        (D("100.05"), D("102.07"), D(200)),
        (D("100.10"), D("102.12"), D(100)),
    ]
    assert [piece.level_index for piece in result.slices] == [0, 1, 2]
    # VWAP = (10 201 + 20 414 + 10 212) / 400 = 40 827 / 400 = 102.0675
    assert result.vwap == D("102.0675")
    # vs mid 99.975: 2.0925 / 99.975 × 10 000 = 209.3023 bps
    assert bps(result.slippage_bps_vs_mid) == D("209.3023")
    # vs arrival 99.90: 2.1675 / 99.90 × 10 000 = 216.9670 bps
    assert bps(result.slippage_bps_vs_arrival) == D("216.9670")
    # Slippage paid against the book: 2.01×100 + 2.02×200 + 2.02×100 = 201 + 404 + 202 = 807
    assert result.total_slippage_cost == D(807)
    assert (result.filled_quantity, result.remaining_quantity, result.remainder) == (D(400), D(0), RemainderAction.NONE)
    assert result.liquidity == Liquidity.TAKER
    assert result.total_fee == 0  # stocks: zero commission


def test_market_sell_hits_bids_and_rounds_each_price_down():
    # Given 400 shares against 1 000 of bid depth: s = 0.0201.
    result = execute(side=Side.SELL)
    #   99.95 × 0.9799 = 97.941005 → 97.94 × 100
    #   99.90 × 0.9799 = 97.89201  → 97.89 × 300
    assert fills(result) == [(D("99.95"), D("97.94"), D(100)), (D("99.90"), D("97.89"), D(300))]
    # VWAP = (9 794 + 29 367) / 400 = 97.9025; vs mid: (99.975 − 97.9025) / 99.975 × 10 000 = 207.3018
    assert result.vwap == D("97.9025")
    assert bps(result.slippage_bps_vs_mid) == D("207.3018")
    # Without an arrival price the arrival is the mid.
    assert result.slippage_bps_vs_arrival == result.slippage_bps_vs_mid


def test_crypto_buy_records_a_taker_fee_on_every_slice():
    # Given BTC asks 0.5 @ 50 000, 1.0 @ 50 010, 1.5 @ 50 020 (depth 3), crypto impact 0.1:
    book = OrderBook(
        bids=[(D("49990.00"), D(2))],
        asks=[(D("50000.00"), D("0.5")), (D("50010.00"), D("1.0")), (D("50020.00"), D("1.5"))],
    )
    btc = InstrumentSpec(
        asset_class=AssetClass.CRYPTO_SPOT,
        liquidity_tier=LiquidityTier.LIQUID,
        tick_size=D("0.01"),
        lot_size=D("0.0001"),
    )
    # When buying 1.2: s = 0.0001 + 1.2/3 × 0.1 = 0.0401
    result = execute(quantity=D("1.2"), book=book, instrument=btc)
    # Then 50 000 × 1.0401 = 52 005.00 × 0.5 and 50 010 × 1.0401 = 52 015.401 → 52 015.41 × 0.7
    assert fills(result) == [
        (D("50000.00"), D("52005.00"), D("0.5")),
        (D("50010.00"), D("52015.41"), D("0.7")),
    ]
    # Fees at 0.10% taker: 26 002.5 × 0.001 = 26.0025 and 36 410.787 × 0.001 = 36.410787
    assert [piece.fee for piece in result.slices] == [D("26.0025"), D("36.410787")]
    assert result.total_fee == D("62.413287")


def test_order_bigger_than_book_fills_the_book_and_rests_the_remainder():
    # Given 1 500 shares against 1 000 of depth: size capped at the depth, s = 0.0001 + 1 × 0.05 = 0.0501
    result = execute(quantity=D(1500), time_in_force=TimeInForce.GTC)
    #   100.00 × 1.0501 = 105.01; 100.05 × 1.0501 = 105.062505 → 105.07; 100.10 × 1.0501 = 105.11501 → 105.12
    assert fills(result) == [
        (D("100.00"), D("105.01"), D(100)),
        (D("100.05"), D("105.07"), D(200)),
        (D("100.10"), D("105.12"), D(700)),
    ]
    assert (result.filled_quantity, result.remaining_quantity) == (D(1000), D(500))
    assert result.remainder == RemainderAction.REST
    assert result.queue_ahead is None  # a market order has no price to queue at


def test_immediate_or_cancel_keeps_the_fills_and_cancels_the_rest():
    result = execute(quantity=D(1500), time_in_force=TimeInForce.IOC)
    assert (result.filled_quantity, result.remaining_quantity) == (D(1000), D(500))
    assert result.remainder == RemainderAction.CANCEL


def test_fill_or_kill_that_the_book_cannot_fill_is_killed_without_fills():
    result = execute(quantity=D(1500), time_in_force=TimeInForce.FOK)
    assert result.slices == ()
    assert (result.filled_quantity, result.remaining_quantity) == (D(0), D(1500))
    assert result.remainder == RemainderAction.KILL
    assert result.vwap is None and result.slippage_bps_vs_mid is None


def test_fill_or_kill_that_the_book_can_fill_executes_in_full():
    result = execute(quantity=D(400), time_in_force=TimeInForce.FOK)
    assert result.filled_quantity == D(400) and result.remainder == RemainderAction.NONE


def test_empty_opposite_side_fills_nothing():
    book = OrderBook(bids=[(D("99.95"), D(100))], asks=[])
    result = execute(book=book)
    assert result.filled_quantity == 0 and result.remainder == RemainderAction.REST
    assert result.mid_price is None and result.slippage_bps_vs_mid is None


# --- limit orders at placement --------------------------------------------------------------------


def test_marketable_buy_limit_stops_before_a_slice_beyond_its_price():
    # Given buy 400 limit 102.08 (s = 0.0201 as in the market buy):
    result = execute(limit_price=D("102.08"))
    # Then 102.01 and 102.07 are within the limit; 102.12 is beyond it and not taken.
    assert fills(result) == [(D("100.00"), D("102.01"), D(100)), (D("100.05"), D("102.07"), D(200))]
    assert (result.filled_quantity, result.remaining_quantity) == (D(300), D(100))
    assert result.remainder == RemainderAction.REST
    assert result.queue_ahead == 0  # nobody bids 102.08: the remainder improves the touch


def test_marketable_sell_limit_is_capped_at_its_price():
    # Sell 400 limit 97.90 (s = 0.0201): 97.94 is fine, 97.89 would be below the limit.
    result = execute(side=Side.SELL, limit_price=D("97.90"), time_in_force=TimeInForce.IOC)
    assert fills(result) == [(D("99.95"), D("97.94"), D(100))]
    assert result.remainder == RemainderAction.CANCEL


def test_non_marketable_limit_fills_nothing_and_queues_behind_the_visible_size():
    result = execute(limit_price=D("99.90"))
    assert result.slices == ()
    assert result.remainder == RemainderAction.REST
    assert result.queue_ahead == D(300)  # 300 already bid at 99.90


# --- profiles -------------------------------------------------------------------------------------


def test_frictionless_fills_everything_at_the_touch_with_no_slippage_or_latency():
    # 5 000 shares against 1 000 visible: frictionless ignores depth.
    result = execute(quantity=D(5000), profile=FRICTIONLESS)
    assert fills(result) == [(D("100.00"), D("100.00"), D(5000))]
    assert result.slippage_fraction_applied == 0
    assert result.vwap == D("100.00")
    assert result.latency_ms == 0
    # Only the half spread remains: 0.025 / 99.975 × 10 000 = 2.5006 bps
    assert bps(result.slippage_bps_vs_mid) == D("2.5006")


def test_realistic_costs_more_than_frictionless_for_the_same_order():
    frictionless = execute(profile=FRICTIONLESS)
    realistic = execute(profile=REALISTIC)
    assert frictionless.vwap == D("100.00")
    assert realistic.vwap == D("102.0675")
    assert 50 <= realistic.latency_ms <= 200


def flat_slippage_profile(rate: Decimal) -> RealismProfile:
    """A profile whose slippage is exactly ``rate`` (no impact term), to test rounding alone."""
    return dataclasses.replace(
        REALISTIC,
        name="flat",
        base_slippage_by_tier={tier: rate for tier in LiquidityTier},
        impact_factor_by_class={asset_class: D(0) for asset_class in AssetClass},
    )


def test_fill_prices_round_to_the_tick_against_the_taker():
    # Given s = 0.0004 on a 10.00 / 10.00 touch: the exact prices sit below the half tick.
    book = OrderBook(bids=[(D("9.99"), D(100)), (D("9.98"), D(100))], asks=[(D("10.00"), D(100))])
    profile = flat_slippage_profile(D("0.0004"))
    buy = execute(quantity=D(10), book=book, profile=profile)
    bid_only = OrderBook(bids=[(D("10.00"), D(100))], asks=[])
    sell = execute(side=Side.SELL, quantity=D(10), book=bid_only, profile=profile)
    # Then 10.00 × 1.0004 = 10.004 rounds UP to 10.01 (half-even would give 10.00),
    # and 10.00 × 0.9996 = 9.996 rounds DOWN to 9.99 (half-even would give 10.00).
    assert buy.slices[0].fill_price == D("10.01")
    assert sell.slices[0].fill_price == D("9.99")


def test_sale_is_never_filled_at_a_price_rounded_down_to_zero():
    # Given s = 0.5 and bids 0.02 and 0.01 on a 0.01 tick:
    # 0.02 × 0.5 = 0.01 fills; 0.01 × 0.5 = 0.005 rounds down to 0.00 and is not taken.
    book = OrderBook(bids=[(D("0.02"), D(10)), (D("0.01"), D(10))], asks=[])
    result = execute(side=Side.SELL, quantity=D(20), book=book, profile=flat_slippage_profile(D("0.5")))
    assert fills(result) == [(D("0.02"), D("0.01"), D(10))]
    assert result.remaining_quantity == D(10)


def test_stress_profile_widens_and_thins_the_book_by_hand():
    # Given spread 0.05, multiplier 4: each side moves 0.025 × 3 = 0.075 away from the mid,
    # prices round outwards, sizes × 0.1.
    shaped = profile_book(STOCK_BOOK, profile=STRESS, tick_size=D("0.01"), lot_size=D(1))
    # 99.875 → 99.87, 99.825 → 99.82, 99.775 → 99.77; 100.075 → 100.08, 100.125 → 100.13, 100.175 → 100.18
    assert shaped.bids == ((D("99.87"), D(10)), (D("99.82"), D(30)), (D("99.77"), D(60)))
    assert shaped.asks == ((D("100.08"), D(10)), (D("100.13"), D(20)), (D("100.18"), D(70)))


def test_profile_book_merges_levels_that_land_on_one_tick_and_drops_emptied_levels():
    # Given a raw book finer than the 0.05 tick: bids 100.04 and 100.01 both floor to 100.00.
    book = OrderBook(
        bids=[(D("100.04"), D(3)), (D("100.01"), D(5)), (D("99.90"), D(3))],
        asks=[(D("100.06"), D(8))],
    )
    profile = dataclasses.replace(REALISTIC, name="quarter", depth_multiplier=D("0.25"))
    shaped = profile_book(book, profile=profile, tick_size=D("0.05"), lot_size=D(1))
    # Merged 8 × 0.25 = 2; 3 × 0.25 = 0.75 → 0 lots, dropped; ask 100.06 → 100.10, 8 × 0.25 = 2
    assert shaped.bids == ((D("100.00"), D(2)),)
    assert shaped.asks == ((D("100.10"), D(2)),)


def test_profile_book_drops_bids_pushed_to_zero():
    book = OrderBook(bids=[(D("0.10"), D(5)), (D("0.05"), D(5))], asks=[(D("0.20"), D(5))])
    # Spread 0.10, multiplier 4: shift 0.15 → bids −0.05 and −0.10 vanish; ask 0.35.
    shaped = profile_book(book, profile=STRESS, tick_size=D("0.05"), lot_size=D("0.1"))
    assert shaped.bids == ()
    assert shaped.asks == ((D("0.35"), D("0.5")),)


def test_profiles_are_named_versioned_and_seeded():
    assert set(PROFILES) == {"frictionless", "realistic", "thin_book", "stress"}
    assert all(profile.version >= 1 for profile in PROFILES.values())
    assert len({profile.seed for profile in PROFILES.values()}) == 4
    assert THIN_BOOK.depth_multiplier < 1 < THIN_BOOK.spread_multiplier
    assert STRESS.depth_multiplier < THIN_BOOK.depth_multiplier
    assert STRESS.latency_ms_range[1] > THIN_BOOK.latency_ms_range[1] > REALISTIC.latency_ms_range[1]


def test_same_orders_against_same_market_reproduce_the_same_fills():
    first = execute(profile=THIN_BOOK, order_key="abc")
    second = execute(profile=THIN_BOOK, order_key="abc")
    assert first == second
    assert first.explain() == second.explain()


@pytest.mark.parametrize(
    "overrides",
    [
        {"depth_multiplier": D(0)},
        {"depth_multiplier": D("1.5")},
        {"spread_multiplier": D("0.5")},
        {"latency_ms_range": (200, 50)},
        {"version": 0},
        {"base_slippage_by_tier": {LiquidityTier.LIQUID: D("0.0001")}},
        {"impact_factor_by_class": {asset_class: D(-1) for asset_class in AssetClass}},
    ],
)
def test_invalid_profile_is_refused(overrides):
    with pytest.raises(ValueError):
        dataclasses.replace(REALISTIC, **overrides)


# --- fees -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asset_class", "liquidity", "quantity", "notional", "expected"),
    [
        (AssetClass.CRYPTO_SPOT, Liquidity.TAKER, D(1), D(10000), D("10")),  # 0.10%
        (AssetClass.CRYPTO_SPOT, Liquidity.MAKER, D(1), D(10000), D("8")),  # 0.08%
        (AssetClass.PERPETUAL, Liquidity.TAKER, D(1), D(10000), D("5")),  # 0.05%
        (AssetClass.PERPETUAL, Liquidity.MAKER, D(1), D(10000), D("2")),  # 0.02%
        (AssetClass.STOCK, Liquidity.TAKER, D(100), D(10000), D(0)),
        (AssetClass.ETF, Liquidity.TAKER, D(100), D(10000), D(0)),
        (AssetClass.FOREX, Liquidity.TAKER, D(100000), D(108000), D(0)),
        # 3 contracts at $2.50 premium × 100 multiplier: 3 × $0.65 = $1.95 regardless of notional
        (AssetClass.OPTION, Liquidity.TAKER, D(3), D(750), D("1.95")),
    ],
)
def test_default_fee_schedules_per_asset_class(asset_class, liquidity, quantity, notional, expected):
    schedule = DEFAULT_FEE_SCHEDULES[asset_class]
    fee = fee_for(schedule=schedule, liquidity=liquidity, quantity=quantity, notional=notional)
    assert fee == expected


def test_minimum_fee_applies_per_fill():
    schedule = FeeSchedule(maker_rate=D("0.001"), taker_rate=D("0.002"), minimum_fee=D(1))
    # 100 × 0.002 = 0.20 → the $1 minimum; 1 000 × 0.002 = 2.00 is above it
    assert fee_for(schedule=schedule, liquidity=Liquidity.TAKER, quantity=D(1), notional=D(100)) == D(1)
    assert fee_for(schedule=schedule, liquidity=Liquidity.TAKER, quantity=D(1), notional=D(1000)) == D(2)
    assert fee_for(schedule=schedule, liquidity=Liquidity.TAKER, quantity=D(0), notional=D(0)) == 0


def test_fees_round_up_to_the_money_quantum():
    # 123.456781 × 0.001 = 0.123456781: half-even gives 0.12345678, the policy gives 0.12345679
    crypto = DEFAULT_FEE_SCHEDULES[AssetClass.CRYPTO_SPOT]
    exact = fee_for(schedule=crypto, liquidity=Liquidity.TAKER, quantity=D(1), notional=D("123.456781"))
    assert exact == D("0.123456781")
    assert exact.quantize(D("1e-8"), rounding=ROUND_HALF_EVEN) == D("0.12345678")
    assert round_fee_up(exact) == D("0.12345679")
    assert round_fee_up(D("1.5")) == D("1.50000000")


def test_option_fills_pay_per_contract_and_use_the_contract_multiplier_for_notional():
    book = OrderBook(bids=[(D("2.40"), D(50))], asks=[(D("2.50"), D(50))])
    option = InstrumentSpec(
        asset_class=AssetClass.OPTION,
        liquidity_tier=LiquidityTier.MODERATE,
        tick_size=D("0.01"),
        lot_size=D(1),
        contract_multiplier=D(100),
    )
    result = execute(quantity=D(3), book=book, instrument=option, profile=FRICTIONLESS)
    assert result.slices[0].fee == D("1.95")
    custom = FeeSchedule(maker_rate=D(0), taker_rate=D("0.001"))
    # 3 × 2.50 × 100 = 750 notional × 0.001 = 0.75
    with_custom_fees = execute(quantity=D(3), book=book, instrument=option, profile=FRICTIONLESS, fee_schedule=custom)
    assert with_custom_fees.total_fee == D("0.75")


# --- latency --------------------------------------------------------------------------------------


def test_latency_is_deterministic_per_key_and_within_range():
    samples = [sample_latency_ms(profile=REALISTIC, order_key=f"order-{index}") for index in range(2000)]
    assert samples == [sample_latency_ms(profile=REALISTIC, order_key=f"order-{index}") for index in range(2000)]
    assert all(50 <= sample <= 200 for sample in samples)
    # Uniform over 151 values: the ends are reached and the mean is near 125.
    assert min(samples) <= 52 and max(samples) >= 198
    assert 120 <= sum(samples) / len(samples) <= 130


def test_latency_follows_the_documented_sha256_derivation():
    # The contract, so replays match across machines: low + first 8 bytes of
    # sha256("name|version|seed|key") big-endian, modulo (high − low + 1).
    digest = hashlib.sha256(b"realistic|1|1|order-42").digest()
    assert sample_latency_ms(profile=REALISTIC, order_key="order-42") == 50 + int.from_bytes(digest[:8], "big") % 151


def test_latency_changes_with_the_seed_and_is_off_for_frictionless():
    reseeded = dataclasses.replace(REALISTIC, seed=99)
    keys = [f"order-{index}" for index in range(50)]
    original = [sample_latency_ms(profile=REALISTIC, order_key=key) for key in keys]
    changed = [sample_latency_ms(profile=reseeded, order_key=key) for key in keys]
    assert sum(a != b for a, b in zip(original, changed, strict=True)) >= 40
    assert sample_latency_ms(profile=FRICTIONLESS, order_key="order-1") == 0


# --- resting limit orders ---------------------------------------------------------------------------


def rest(
    book: OrderBook,
    *,
    remaining,
    queue_ahead,
    traded,
    profile=REALISTIC,
    side=Side.BUY,
    limit=D("99.90"),
    instrument=STOCK,
):
    return simulate_resting_limit_update(
        side=side,
        limit_price=limit,
        remaining_quantity=remaining,
        queue_ahead=queue_ahead,
        book=book,
        traded_quantity=traded,
        profile=profile,
        instrument=instrument,
    )


def test_resting_buy_waits_for_its_queue_then_fills_over_several_updates():
    # Given a buy of 200 @ 99.90 placed behind 300 shares already bid there.
    placed_on = OrderBook(
        bids=[(D("99.90"), D(300)), (D("99.85"), D(600))], asks=[(D("100.00"), D(500)), (D("100.05"), D(500))]
    )
    queue = initial_queue_ahead(
        side=Side.BUY, limit_price=D("99.90"), book=placed_on, profile=REALISTIC, instrument=STOCK
    )
    assert queue == D(300)

    # Update 1: 120 trade at 99.90 (180 left visible): all of it was ahead of us → queue 180, no fill.
    update = rest(
        OrderBook(bids=[(D("99.90"), D(180)), (D("99.85"), D(600))], asks=[(D("100.00"), D(500))]),
        remaining=D(200), queue_ahead=queue, traded=D(120),
    )
    assert (update.fill_quantity, update.queue_ahead) == (D(0), D(180))

    # Update 2: 50 cancelled, no trades: only 130 remain visible, so at most 130 can be ahead.
    update = rest(
        OrderBook(bids=[(D("99.90"), D(130)), (D("99.85"), D(600))], asks=[(D("100.00"), D(500))]),
        remaining=D(200), queue_ahead=update.queue_ahead, traded=D(0),
    )
    assert (update.fill_quantity, update.queue_ahead) == (D(0), D(130))

    # Update 3: 200 trade at 99.90 and the level is gone: 130 clear the queue, 70 fill us at 99.90.
    update = rest(
        OrderBook(bids=[(D("99.85"), D(600))], asks=[(D("99.95"), D(400)), (D("100.00"), D(500))]),
        remaining=D(200), queue_ahead=update.queue_ahead, traded=D(200),
    )
    assert (update.fill_quantity, update.fill_price, update.queue_ahead) == (D(70), D("99.90"), D(0))
    assert (update.filled_from_trades, update.filled_from_crossing) == (D(70), D(0))
    assert update.liquidity == Liquidity.MAKER

    # Update 4: an ask appears at our price (50): it crosses us and fills at 99.90.
    update = rest(
        OrderBook(bids=[(D("99.85"), D(600))], asks=[(D("99.90"), D(50)), (D("99.95"), D(400))]),
        remaining=D(130), queue_ahead=update.queue_ahead, traded=D(0),
    )
    assert (update.fill_quantity, update.fill_price, update.filled_from_crossing) == (D(50), D("99.90"), D(50))

    # Update 5: the ask falls through us to 99.80 with 100: we take the remaining 80 at our
    # limit 99.90 as maker, not at 99.80.
    update = rest(
        OrderBook(bids=[(D("99.75"), D(100))], asks=[(D("99.80"), D(100)), (D("99.95"), D(400))]),
        remaining=D(80), queue_ahead=update.queue_ahead, traded=D(0),
    )
    assert (update.fill_quantity, update.fill_price) == (D(80), D("99.90"))


def test_resting_order_behind_the_touch_ignores_trades():
    # Bids at 99.95 are better than our 99.90: trades at the touch never reach us.
    update = rest(STOCK_BOOK, remaining=D(100), queue_ahead=D(0), traded=D(1000))
    assert update.fill_quantity == 0 and update.fill_price is None


def test_resting_sell_fills_from_traded_volume_beyond_its_queue():
    # Sell 100 @ 100.00 with 40 ahead; 70 lifted at 100.00 → 30 for us; 60 remain visible behind.
    update = rest(
        OrderBook(bids=[(D("99.95"), D(100))], asks=[(D("100.00"), D(60)), (D("100.05"), D(200))]),
        side=Side.SELL, limit=D("100.00"), remaining=D(100), queue_ahead=D(40), traded=D(70),
    )
    assert (update.fill_quantity, update.fill_price, update.queue_ahead) == (D(30), D("100.00"), D(0))


def test_frictionless_resting_order_is_first_in_the_queue():
    update = rest(
        OrderBook(bids=[(D("99.90"), D(300))], asks=[(D("100.00"), D(500))]),
        profile=FRICTIONLESS, remaining=D(200), queue_ahead=D(300), traded=D(120),
    )
    assert update.fill_quantity == D(120)


def test_thin_profile_scales_traded_volume_with_depth():
    quarter_depth = dataclasses.replace(REALISTIC, name="quarter_depth", depth_multiplier=D("0.25"))
    # 300 visible × 0.25 = 75 ahead; 400 traded × 0.25 = 100 → 25 for us.
    update = rest(
        OrderBook(bids=[(D("99.90"), D(300))], asks=[(D("100.00"), D(500))]),
        profile=quarter_depth, remaining=D(200), queue_ahead=D(75), traded=D(400),
    )
    assert update.fill_quantity == D(25)


def test_resting_fill_never_exceeds_remaining_and_stays_on_the_lot_grid():
    btc = InstrumentSpec(
        asset_class=AssetClass.CRYPTO_SPOT,
        liquidity_tier=LiquidityTier.LIQUID,
        tick_size=D("0.01"),
        lot_size=D("0.001"),
    )
    update = rest(
        OrderBook(bids=[(D("99.00"), D(1))], asks=[(D("99.50"), D("7.5")), (D("99.90"), D(3))]),
        instrument=btc, remaining=D("0.5"), queue_ahead=D(0), traded=D(0),
    )
    # Crossing size 10.5 is far above the 0.5 left: fill 0.5 at 99.90, maker fee 0.08% of 49.95 = 0.03996
    assert (update.fill_quantity, update.fill_price) == (D("0.5"), D("99.90"))
    assert update.fee == D("0.03996")


# --- explanation, validation --------------------------------------------------------------------------


def test_explain_is_plain_json_with_decimals_as_strings():
    result = execute(arrival_price=D("99.90"))
    explained = json.loads(json.dumps(result.explain()))
    assert explained["profile"] == {"name": "realistic", "version": 1, "seed": 1}
    assert explained["vwap"] == "102.0675"
    assert explained["slippage_fraction_applied"] == "0.0201"
    assert [level["fill_price"] for level in explained["levels"]] == ["102.01", "102.07", "102.12"]
    assert explained["levels"][0]["fee"] == "0.00000000"
    assert explained["latency_ms"] == result.latency_ms
    assert explained["remainder"] == "none" and explained["liquidity"] == "taker"


@pytest.mark.parametrize(
    ("bids", "asks"),
    [
        ([(D(100), D(1))], [(D(100), D(1))]),  # locked/crossed
        ([(D(99), D(1)), (D(100), D(1))], []),  # bids ascending
        ([], [(D(101), D(1)), (D(100), D(1))]),  # asks descending
        ([(D(99), D(0))], []),  # empty level
    ],
)
def test_malformed_book_is_refused(bids, asks):
    with pytest.raises(ValueError):
        OrderBook(bids=bids, asks=asks)


def test_quantity_and_limit_must_be_on_their_grids():
    with pytest.raises(ValueError):
        execute(quantity=D("1.5"))
    with pytest.raises(ValueError):
        execute(limit_price=D("100.005"))


# --- properties -------------------------------------------------------------------------------------

TICKS = [D("0.01"), D("0.5"), D(1), D("0.0001")]
LOTS = [D(1), D("0.001"), D("0.1")]


@st.composite
def markets(draw):
    tick, lot = draw(st.sampled_from(TICKS)), draw(st.sampled_from(LOTS))
    best_bid_ticks = draw(st.integers(min_value=1, max_value=20_000))
    gap = draw(st.integers(min_value=1, max_value=50))
    bids, price_ticks = [], best_bid_ticks
    for step in draw(st.lists(st.integers(min_value=1, max_value=20), max_size=8)):
        if price_ticks <= 0:
            break
        bids.append((price_ticks * tick, draw(st.integers(min_value=1, max_value=1000)) * lot))
        price_ticks -= step
    asks, price_ticks = [], best_bid_ticks + gap
    for step in draw(st.lists(st.integers(min_value=1, max_value=20), max_size=8)):
        asks.append((price_ticks * tick, draw(st.integers(min_value=1, max_value=1000)) * lot))
        price_ticks += step
    instrument = InstrumentSpec(
        asset_class=draw(st.sampled_from(list(AssetClass))),
        liquidity_tier=draw(st.sampled_from(list(LiquidityTier))),
        tick_size=tick,
        lot_size=lot,
    )
    return OrderBook(bids=bids, asks=asks), instrument, best_bid_ticks


@settings(max_examples=150, deadline=None)
@given(
    market=markets(),
    side=st.sampled_from(list(Side)),
    lots=st.integers(min_value=1, max_value=5000),
    profile=st.sampled_from(list(PROFILES.values())),
    time_in_force=st.sampled_from(list(TimeInForce)),
    limit_offset=st.none() | st.integers(min_value=-100, max_value=100),
)
def test_execution_invariants(market, side, lots, profile, time_in_force, limit_offset):
    book, instrument, best_bid_ticks = market
    quantity = lots * instrument.lot_size
    limit_price = None
    if limit_offset is not None and best_bid_ticks + limit_offset > 0:
        limit_price = (best_bid_ticks + limit_offset) * instrument.tick_size
    result = simulate_execution(
        side=side, quantity=quantity, book=book, profile=profile, instrument=instrument, order_key="p",
        time_in_force=time_in_force, limit_price=limit_price,
    )
    assert result.filled_quantity + result.remaining_quantity == quantity
    assert 0 <= result.filled_quantity <= quantity
    assert sum((piece.quantity for piece in result.slices), D(0)) == result.filled_quantity
    for piece in result.slices:
        assert piece.quantity > 0 and piece.quantity % instrument.lot_size == 0
        assert piece.fill_price % instrument.tick_size == 0
        if side == Side.BUY:
            assert piece.fill_price >= piece.book_price
            assert limit_price is None or piece.fill_price <= limit_price
        else:
            assert 0 < piece.fill_price <= piece.book_price
            assert limit_price is None or piece.fill_price >= limit_price
    if result.vwap is not None:
        if side == Side.BUY:
            assert result.vwap >= book.best_ask
        else:
            assert result.vwap <= book.best_bid
    if time_in_force == TimeInForce.FOK:
        assert result.filled_quantity in (0, quantity)


@settings(max_examples=80, deadline=None)
@given(market=markets(), profile=st.sampled_from(list(PROFILES.values())))
def test_profile_book_invariants(market, profile):
    book, instrument, _ = market
    shaped = profile_book(book, profile=profile, tick_size=instrument.tick_size, lot_size=instrument.lot_size)
    for levels in (shaped.bids, shaped.asks):
        for price, quantity in levels:
            assert price % instrument.tick_size == 0 and quantity % instrument.lot_size == 0
    # Ordering is checked by OrderBook itself; depth only shrinks and the spread only widens.
    assert sum(quantity for _, quantity in shaped.bids) <= sum(quantity for _, quantity in book.bids)
    assert sum(quantity for _, quantity in shaped.asks) <= sum(quantity for _, quantity in book.asks)
    if shaped.bids and shaped.asks:
        assert shaped.best_ask - shaped.best_bid >= (book.best_ask - book.best_bid) * profile.spread_multiplier


@settings(max_examples=100, deadline=None)
@given(
    market=markets(),
    side=st.sampled_from(list(Side)),
    remaining_lots=st.integers(min_value=1, max_value=2000),
    queue_lots=st.integers(min_value=0, max_value=2000),
    traded_lots=st.integers(min_value=0, max_value=2000),
    limit_offset=st.integers(min_value=-30, max_value=80),
    profile=st.sampled_from(list(PROFILES.values())),
)
def test_resting_update_invariants(market, side, remaining_lots, queue_lots, traded_lots, limit_offset, profile):
    book, instrument, best_bid_ticks = market
    assume(best_bid_ticks + limit_offset > 0)
    lot = instrument.lot_size
    remaining, queue_ahead = remaining_lots * lot, queue_lots * lot
    update = simulate_resting_limit_update(
        side=side, limit_price=(best_bid_ticks + limit_offset) * instrument.tick_size, remaining_quantity=remaining,
        queue_ahead=queue_ahead, book=book, traded_quantity=traded_lots * lot, profile=profile, instrument=instrument,
    )
    assert 0 <= update.fill_quantity <= remaining and update.fill_quantity % lot == 0
    assert 0 <= update.queue_ahead <= queue_ahead and update.queue_ahead % lot == 0
    assert update.filled_from_trades + update.filled_from_crossing == update.fill_quantity
