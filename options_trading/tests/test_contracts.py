"""Contract symbols, listed expirations and strikes (pure)."""
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from haunt.market.calendars import NYSE
from options_trading.contracts import (
    ContractTerms,
    ExerciseStyle,
    OptionType,
    Settlement,
    contract_class,
    expires_at,
    listed_expirations,
    listed_strikes,
    option_symbol,
    parse_option_symbol,
    strike_step,
)

D = Decimal


def test_occ_symbols_round_trip():
    terms = ContractTerms(root="AAPL", expiry=date(2026, 12, 18), option_type=OptionType.CALL, strike=D(200))
    assert option_symbol(terms=terms, asset_class="stock") == "AAPL  261218C00200000"
    assert parse_option_symbol("AAPL  261218C00200000") == terms
    # Alpaca and most vendors drop the padding; the strike keeps three decimals.
    assert parse_option_symbol("SPY261218P00682500") == ContractTerms("SPY", date(2026, 12, 18), OptionType.PUT,
                                                                       D("682.5"))
    with pytest.raises(ValueError):
        option_symbol(terms=ContractTerms("X", date(2026, 12, 18), OptionType.CALL, D("100000")), asset_class="stock")


def test_deribit_symbols_round_trip():
    terms = ContractTerms(root="SOL", expiry=date(2026, 12, 25), option_type=OptionType.PUT, strike=D("137.5"))
    assert option_symbol(terms=terms, asset_class="crypto_spot") == "SOL-25DEC26-137d5-P"
    assert parse_option_symbol("SOL-25DEC26-137d5-P") == terms
    assert parse_option_symbol("BTC-5JAN27-120000-C") == ContractTerms("BTC", date(2027, 1, 5), OptionType.CALL,
                                                                        D(120000))


@pytest.mark.parametrize("symbol", ["AAPL", "BTC-USD", "AAPL  261318C00200000", "BTC-31FEB27-1-C", "BTC-1XYZ27-1-C"])
def test_other_symbols_are_not_options(symbol):
    assert parse_option_symbol(symbol) is None


def test_style_and_settlement_follow_the_underlying():
    equity = contract_class(symbol="AAPL", asset_class="stock", spot=D(200))
    assert (equity.style, equity.settlement, equity.multiplier, equity.tick_size) == (
        ExerciseStyle.AMERICAN, Settlement.PHYSICAL, D(100), D("0.01"))
    assert contract_class(symbol="SPY", asset_class="etf", spot=D(680)).style == ExerciseStyle.AMERICAN
    btc = contract_class(symbol="BTC-USD", asset_class="crypto_spot", spot=D(90000))
    assert (btc.style, btc.settlement, btc.multiplier, btc.tick_size, btc.lot_size) == (
        ExerciseStyle.EUROPEAN, Settlement.CASH, D(1), D(1), D("0.1"))
    assert contract_class(symbol="DOGE-USD", asset_class="crypto_spot", spot=D("0.14")) is None
    assert contract_class(symbol="BTC-PERP", asset_class="perpetual", spot=D(90000)) is None
    assert contract_class(symbol="EUR-USD", asset_class="forex", spot=D("1.16")) is None


def test_expiry_instants():
    assert expires_at(expiry=date(2026, 12, 18), settlement=Settlement.PHYSICAL) == datetime(2026, 12, 18, 21,
                                                                                              tzinfo=UTC)
    assert expires_at(expiry=date(2026, 7, 17), settlement=Settlement.PHYSICAL) == datetime(2026, 7, 17, 20,
                                                                                             tzinfo=UTC)  # EDT
    assert expires_at(expiry=date(2026, 12, 25), settlement=Settlement.CASH) == datetime(2026, 12, 25, 8, tzinfo=UTC)


def test_equity_expirations_weeklies_monthlies_and_holidays():
    days = listed_expirations(today=date(2026, 11, 24), settlement=Settlement.PHYSICAL,
                              is_trading_day=lambda day: NYSE.session_on(day) is not None)
    # Eight weekly Fridays; Christmas and New Year's Day fall on Fridays, so those expire on Thursday.
    assert days[:8] == [date(2026, 11, 27), date(2026, 12, 4), date(2026, 12, 11), date(2026, 12, 18),
                        date(2026, 12, 24), date(2026, 12, 31), date(2027, 1, 8), date(2027, 1, 15)]
    # Then the third Friday of each month out to a year; Juneteenth (Saturday 19 June 2027) is
    # observed on Friday the 18th, so June's monthly expires on Thursday the 17th.
    assert days[8:] == [date(2027, 2, 19), date(2027, 3, 19), date(2027, 4, 16), date(2027, 5, 21),
                        date(2027, 6, 17), date(2027, 7, 16), date(2027, 8, 20), date(2027, 9, 17),
                        date(2027, 10, 15), date(2027, 11, 19)]


def test_crypto_monthlies_are_last_fridays():
    days = listed_expirations(today=date(2026, 11, 24), settlement=Settlement.CASH)
    assert date(2026, 12, 25) in days and date(2027, 1, 29) in days and date(2027, 10, 29) in days
    assert date(2027, 2, 19) not in days


@pytest.mark.parametrize("spot, step", [("200", "1"), ("278.5", "2.5"), ("681.5", "5"), ("90000", "500"),
                                        ("3085", "25"), ("54.12", "0.5")])
def test_strike_steps(spot, step):
    assert strike_step(D(spot)) == D(step)


def test_listed_strikes_widen_with_tenor_and_stay_on_the_grid():
    near = listed_strikes(spot=D(200), volatility=0.25, years=0.02)
    # 3·25%·√0.02 = 10.6% either side of 200 (179.9 to 222.4) in $1 steps.
    assert near[0] == D(180) and near[-1] == D(222) and len(near) == 43
    # A year out, 3·25% = 75% either side (94.5 to 423.4): $5 steps would list 44 strikes above the
    # money, so the grid coarsens to $10.
    far = listed_strikes(spot=D(200), volatility=0.25, years=1.0)
    assert far == [D(10) * units for units in range(10, 43)]
