"""Reg-T / Cboe option margin, worked by hand (pure)."""
from datetime import date
from decimal import Decimal

from options_trading.contracts import OptionType
from options_trading.margin import OptionHolding, option_margin

D = Decimal
CALL, PUT = OptionType.CALL, OptionType.PUT
DEC, JAN = date(2026, 12, 18), date(2027, 1, 15)


def holding(option_type, strike, quantity, mark, expiry=DEC):
    return OptionHolding(option_type=option_type, strike=D(strike), expiry=expiry, quantity=D(quantity),
                         multiplier=D(100), mark=D(mark))


def test_naked_short_put_by_hand():
    # Short 2 puts struck at 190 with the stock at 200, marked at 3.10:
    # 20% of 200 = 40, less the 10 out of the money = 30; 10% of the strike = 19; the larger is 30.
    # Per share 3.10 + 30 = 33.10; × 100 shares × 2 contracts = 6,620.
    result = option_margin(holdings=[holding(PUT, 190, -2, "3.10")], underlying_price=D(200))
    assert result.requirement == D("6620.00")
    assert [(line.kind, line.units) for line in result.lines] == [("naked", D(200))]


def test_naked_short_call_far_out_of_the_money_pays_the_minimum():
    # Short call struck at 250, stock 200: 40 − 50 out of the money is negative, so 10% of the
    # underlying (20) applies: (0.45 + 20) × 100 = 2,045.
    assert option_margin(holdings=[holding(CALL, 250, -1, "0.45")], underlying_price=D(200)).requirement == D("2045.00")


def test_in_the_money_naked_call_has_no_out_of_the_money_relief():
    # Stock 200, call struck 180 marked 21.50: 21.50 + 40 = 61.50 per share.
    result = option_margin(holdings=[holding(CALL, 180, -1, "21.50")], underlying_price=D(200))
    assert result.requirement == D("6150.00")


def test_covered_call_needs_nothing():
    result = option_margin(holdings=[holding(CALL, 210, -1, "2.00")], underlying_price=D(200),
                           underlying_quantity=D(100))
    assert result.requirement == 0 and result.lines[0].kind == "covered"
    # Half covered: the other contract is naked. 200·20% − 10 OTM = 30 > 20, so (2 + 30) × 100.
    result = option_margin(holdings=[holding(CALL, 210, -2, "2.00")], underlying_price=D(200),
                           underlying_quantity=D(100))
    assert result.requirement == D("3200.00")


def test_credit_spread_needs_its_width_and_a_debit_spread_nothing():
    # Bull put spread: short 195 put, long 190 put, 3 contracts: width 5 × 100 × 3 = 1,500.
    bull_put = option_margin(holdings=[holding(PUT, 195, -3, "4.20"), holding(PUT, 190, 3, "2.60")],
                             underlying_price=D(200))
    assert bull_put.requirement == D(1500)
    assert [line.kind for line in bull_put.lines] == ["spread"]
    # Bull call spread (a debit): long 200 call, short 210 call; the long covers the short.
    bull_call = option_margin(holdings=[holding(CALL, 200, 1, "6.00"), holding(CALL, 210, -1, "2.00")],
                              underlying_price=D(200))
    assert bull_call.requirement == 0


def test_iron_condor_needs_only_its_wider_side():
    # Put spread 185/190 (width 5) and call spread 210/220 (width 10): only one side can lose.
    condor = [holding(PUT, 185, 1, "1.0"), holding(PUT, 190, -1, "2.0"), holding(CALL, 210, -1, "2.2"),
              holding(CALL, 220, 1, "0.8")]
    assert option_margin(holdings=condor, underlying_price=D(200)).requirement == D(1000)


def test_calendar_spread_long_leg_must_outlive_the_short():
    # Short December call covered by a long January call at the same strike: no requirement.
    calendar = [holding(CALL, 200, -1, "5.0", DEC), holding(CALL, 200, 1, "7.0", JAN)]
    assert option_margin(holdings=calendar, underlying_price=D(200)).requirement == 0
    # The reverse (long expires first) is no spread: the short is naked. (5 + 40) × 100.
    reverse = [holding(CALL, 200, -1, "7.0", JAN), holding(CALL, 200, 1, "5.0", DEC)]
    assert option_margin(holdings=reverse, underlying_price=D(200)).requirement == D("4700.0")


def test_long_options_need_nothing():
    result = option_margin(holdings=[holding(CALL, 200, 5, "6.00")], underlying_price=D(200))
    assert result.requirement == 0 and result.lines[0].kind == "long"
