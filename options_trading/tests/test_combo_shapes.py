"""Named combos must have their textbook shape (pure)."""
from datetime import date
from decimal import Decimal

import pytest

from options_trading.combos import ComboShapeError, Leg, check_shape
from options_trading.contracts import OptionType

D = Decimal
CALL, PUT = OptionType.CALL, OptionType.PUT
DEC, JAN = date(2026, 12, 18), date(2027, 1, 15)


def leg(option_type, strike, side, expiry=DEC, ratio=1):
    return Leg(option_type=option_type, strike=D(strike), expiry=expiry, side=side, ratio=ratio)


@pytest.mark.parametrize("name, legs", [
    ("bull_call_spread", [leg(CALL, 200, "buy"), leg(CALL, 210, "sell")]),
    ("bear_call_spread", [leg(CALL, 200, "sell"), leg(CALL, 210, "buy")]),
    ("bull_put_spread", [leg(PUT, 190, "buy"), leg(PUT, 200, "sell")]),
    ("bear_put_spread", [leg(PUT, 190, "sell"), leg(PUT, 200, "buy")]),
    ("straddle", [leg(CALL, 200, "buy"), leg(PUT, 200, "buy")]),
    ("strangle", [leg(CALL, 210, "sell"), leg(PUT, 190, "sell")]),
    ("iron_condor", [leg(PUT, 180, "buy"), leg(PUT, 190, "sell"), leg(CALL, 210, "sell"), leg(CALL, 220, "buy")]),
    ("iron_butterfly", [leg(PUT, 190, "buy"), leg(PUT, 200, "sell"), leg(CALL, 200, "sell"), leg(CALL, 210, "buy")]),
    ("calendar_spread", [leg(CALL, 200, "sell", DEC), leg(CALL, 200, "buy", JAN)]),
    ("custom", [leg(CALL, 200, "buy", ratio=1), leg(CALL, 210, "sell", ratio=2)]),
])
def test_textbook_shapes_pass(name, legs):
    check_shape(name, legs)


@pytest.mark.parametrize("name, legs", [
    ("bull_call_spread", [leg(CALL, 200, "sell"), leg(CALL, 210, "buy")]),  # that is a bear spread
    ("bull_call_spread", [leg(CALL, 200, "buy"), leg(CALL, 210, "sell", ratio=2)]),  # a ratio spread
    ("bull_put_spread", [leg(PUT, 190, "buy"), leg(PUT, 200, "sell", JAN)]),  # two expiries
    ("straddle", [leg(CALL, 200, "buy"), leg(PUT, 205, "buy")]),
    ("strangle", [leg(CALL, 190, "buy"), leg(PUT, 210, "buy")]),  # put above the call
    ("iron_condor", [leg(PUT, 180, "buy"), leg(PUT, 200, "sell"), leg(CALL, 200, "sell"), leg(CALL, 220, "buy")]),
    ("iron_butterfly", [leg(PUT, 180, "sell"), leg(PUT, 190, "sell"), leg(CALL, 200, "sell"), leg(CALL, 210, "buy")]),
    ("calendar_spread", [leg(CALL, 200, "sell"), leg(CALL, 200, "buy")]),
])
def test_wrong_shapes_are_refused(name, legs):
    with pytest.raises(ComboShapeError):
        check_shape(name, legs)
