"""The seed universe against what real venues list: coverage, tick and lot grids, and consistent crosses."""

import math
from decimal import Decimal

import pytest

from haunt.market.universe import (
    FACTOR_ANNUAL_VOLATILITY,
    UNIVERSE,
    AssetClass,
    Factor,
    spec_by_symbol,
)

FOREX_PAIRS = {"EUR-USD", "GBP-USD", "USD-JPY", "USD-CHF", "AUD-USD", "USD-CAD", "NZD-USD", "EUR-GBP", "EUR-JPY",
               "GBP-JPY"}


def symbols_of(asset_class: AssetClass) -> set[str]:
    return {spec.symbol for spec in UNIVERSE if spec.asset_class is asset_class}


def test_universe_covers_every_tradable_class_with_enough_instruments():
    assert len(symbols_of(AssetClass.CRYPTO_SPOT)) >= 10
    assert len(symbols_of(AssetClass.STOCK)) >= 10
    assert len(symbols_of(AssetClass.ETF)) >= 6
    assert {"SPY", "QQQ", "IWM"} <= symbols_of(AssetClass.ETF)
    assert {"BTC-PERP", "ETH-PERP", "SOL-PERP"} <= symbols_of(AssetClass.PERPETUAL)
    assert symbols_of(AssetClass.FOREX) == FOREX_PAIRS
    assert symbols_of(AssetClass.OPTION) == set()


def test_symbols_are_unique_and_looked_up_by_symbol():
    assert len({spec.symbol for spec in UNIVERSE}) == len(UNIVERSE)
    assert spec_by_symbol("AAPL").name == "Apple Inc."
    with pytest.raises(KeyError):
        spec_by_symbol("NOPE")


@pytest.mark.parametrize("spec", UNIVERSE, ids=lambda spec: spec.symbol)
def test_initial_price_is_positive_and_on_the_tick_grid(spec):
    assert spec.initial_price > 0
    assert spec.initial_price % spec.tick_size == 0
    assert spec.lot_size > 0 and spec.minimum_quantity % spec.lot_size == 0
    assert spec.contract_multiplier == 1
    assert spec.liquidity_tier in (1, 2, 3)


@pytest.mark.parametrize(
    ("symbol", "tick", "lot", "tier"),
    [
        ("BTC-USD", "0.01", "0.00001", 1),
        ("ETH-USD", "0.01", "0.0001", 1),
        ("SOL-USD", "0.01", "0.01", 2),
        ("XRP-USD", "0.0001", "0.1", 2),
        ("DOGE-USD", "0.00001", "1", 3),
        ("BTC-PERP", "0.1", "0.001", 1),
        ("ETH-PERP", "0.01", "0.001", 1),
        ("AAPL", "0.01", "1", 1),
        ("JPM", "0.01", "1", 2),
        ("EUR-USD", "0.00001", "1000", 1),
        ("USD-JPY", "0.001", "1000", 1),
        ("GBP-JPY", "0.001", "1000", 3),
    ],
)
def test_tick_lot_and_tier_are_the_venue_conventions(symbol, tick, lot, tier):
    spec = spec_by_symbol(symbol)
    assert (spec.tick_size, spec.lot_size, spec.liquidity_tier) == (Decimal(tick), Decimal(lot), tier)


def test_stocks_trade_in_whole_shares_and_forex_in_micro_lots():
    for spec in UNIVERSE:
        if spec.asset_class in (AssetClass.STOCK, AssetClass.ETF):
            assert (spec.lot_size, spec.minimum_quantity) == (1, 1)
        if spec.asset_class is AssetClass.FOREX:
            assert (spec.lot_size, spec.minimum_quantity) == (1000, 1000)


def test_volatilities_are_realistic_for_their_class():
    ranges = {
        AssetClass.CRYPTO_SPOT: (0.4, 1.2),
        AssetClass.PERPETUAL: (0.4, 1.2),
        AssetClass.STOCK: (0.12, 0.7),
        AssetClass.ETF: (0.1, 0.3),
        AssetClass.FOREX: (0.05, 0.12),
    }
    for spec in UNIVERSE:
        low, high = ranges[spec.asset_class]
        assert low <= spec.annual_volatility <= high, spec.symbol


def test_factor_references_are_the_factor_itself():
    assert spec_by_symbol("BTC-USD").beta == 1.0
    assert spec_by_symbol("BTC-USD").annual_volatility == FACTOR_ANNUAL_VOLATILITY[Factor.CRYPTO]
    assert spec_by_symbol("SPY").beta == 1.0
    assert spec_by_symbol("SPY").annual_volatility == FACTOR_ANNUAL_VOLATILITY[Factor.EQUITY]


def test_factor_loading_never_exceeds_total_volatility():
    for spec in UNIVERSE:
        assert spec.factor is not None
        assert abs(spec.beta) * FACTOR_ANNUAL_VOLATILITY[spec.factor] <= spec.annual_volatility + 1e-12, spec.symbol


def test_perpetuals_track_an_existing_spot_and_share_its_risk():
    for spec in UNIVERSE:
        if spec.asset_class is AssetClass.PERPETUAL:
            spot = spec_by_symbol(spec.underlying)
            assert spot.asset_class is AssetClass.CRYPTO_SPOT
            assert (spec.base_currency, spec.quote_currency) == (spot.base_currency, "USD")
            assert (spec.annual_volatility, spec.factor, spec.beta) == (spot.annual_volatility, spot.factor, spot.beta)
            # A perpetual trades within a few bps of its index.
            assert abs(spec.initial_price / spot.initial_price - 1) < Decimal("0.0005")


@pytest.mark.parametrize(
    ("cross", "value"),
    [
        # Hand-worked from the majors: 1.16480 / 1.33210, 1.16480 × 155.420, 1.33210 × 155.420.
        ("EUR-GBP", Decimal("1.16480") / Decimal("1.33210")),
        ("EUR-JPY", Decimal("181.0332160")),
        ("GBP-JPY", Decimal("207.0349820")),
    ],
)
def test_cross_initial_prices_agree_with_their_majors_within_a_spread(cross, value):
    spec = spec_by_symbol(cross)
    legs = Decimal(1)
    for symbol, exponent in spec.derivation.legs:
        legs *= spec_by_symbol(symbol).initial_price ** exponent
    assert abs(legs - value) < Decimal("1e-9")
    # Rounded to the tick, so within a tenth of a pip.
    assert abs(spec.initial_price - value) <= spec.tick_size / 2


def test_only_crosses_are_derived_and_their_legs_are_majors():
    for spec in UNIVERSE:
        if spec.derivation is None:
            continue
        assert spec.asset_class is AssetClass.FOREX
        for symbol, _ in spec.derivation.legs:
            assert spec_by_symbol(symbol).derivation is None
    assert {spec.symbol for spec in UNIVERSE if spec.derivation} == {"EUR-GBP", "EUR-JPY", "GBP-JPY"}


@pytest.mark.parametrize("cross", ["EUR-GBP", "EUR-JPY", "GBP-JPY"])
def test_cross_volatility_and_beta_are_those_their_legs_imply(cross):
    # With one dollar factor: β_cross = Σ e·β_leg and σ² = (β_cross·σ_$)² + Σ idiosyncratic variances of the legs.
    spec = spec_by_symbol(cross)
    dollar = FACTOR_ANNUAL_VOLATILITY[Factor.DOLLAR]
    beta = sum(exponent * spec_by_symbol(symbol).beta for symbol, exponent in spec.derivation.legs)
    variance = (beta * dollar) ** 2 + sum(
        spec_by_symbol(symbol).annual_volatility ** 2 - (spec_by_symbol(symbol).beta * dollar) ** 2
        for symbol, _ in spec.derivation.legs
    )
    assert spec.beta == pytest.approx(beta, abs=1e-9)
    assert spec.annual_volatility == pytest.approx(math.sqrt(variance), abs=0.001)
