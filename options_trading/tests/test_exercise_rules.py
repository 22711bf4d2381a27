"""Exercise-by-exception and the early-assignment model (pure)."""
from decimal import Decimal

import pytest

from options_trading.contracts import OptionType
from options_trading.exercise import early_assignment_due, exercises_at_expiry, intrinsic_value

D = Decimal


def test_exercise_by_exception_at_one_cent():
    assert exercises_at_expiry(option_type=OptionType.CALL, strike=D(200), underlying_price=D("200.01"))
    assert not exercises_at_expiry(option_type=OptionType.CALL, strike=D(200), underlying_price=D("200.009"))
    assert exercises_at_expiry(option_type=OptionType.PUT, strike=D(200), underlying_price=D("199.99"))
    assert intrinsic_value(option_type=OptionType.PUT, strike=D(200), underlying_price=D(210)) == 0


@pytest.mark.parametrize("days, spot, bid, expected", [
    (3.0, D(180), D("19.90"), True),    # 10% in the money, the bid is below intrinsic: exercise
    (3.0, D(180), D("20.10"), False),   # selling at the bid pays more than exercising
    (3.0, D(180), D("20.005"), True),   # … unless the $0.65 commission eats the difference
    (5.0, D(180), D("19.00"), False),   # more than four days left
    (2.0, D(192), D("7.50"), False),    # only 4% in the money
])
def test_short_put_early_assignment(days, spot, bid, expected):
    assert early_assignment_due(option_type=OptionType.PUT, strike=D(200), underlying_price=spot, bid=bid,
                                days_to_expiry=days, multiplier=D(100),
                                commission_per_contract=D("0.65")) is expected
