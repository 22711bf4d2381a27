"""Exercise, assignment and expiry decisions (spec §7 "Expiration Handling").

- At expiry an option in the money by at least $0.01 per unit is exercised (OCC's
  exercise-by-exception threshold), and a short one is assigned; anything else expires worthless.
- Early assignment of a short American option follows a stated model of when a rational holder
  exercises: within ``EARLY_ASSIGNMENT_DAYS`` calendar days of expiry, more than
  ``EARLY_ASSIGNMENT_MONEYNESS`` in the money (relative to the strike), and exercising pays more
  than selling the option at the bid after the commission. The other classic trigger, a call
  exercised the day before an ex-dividend date whose dividend exceeds its time value, cannot occur:
  the simulated underlyings pay no dividends.

Pure module: Decimal in and out.
"""

from __future__ import annotations

from decimal import Decimal

from options_trading.contracts import OptionType

ZERO = Decimal(0)
EXERCISE_THRESHOLD = Decimal("0.01")
EARLY_ASSIGNMENT_DAYS = 4
EARLY_ASSIGNMENT_MONEYNESS = Decimal("0.05")


def intrinsic_value(*, option_type: OptionType, strike: Decimal, underlying_price: Decimal) -> Decimal:
    if option_type == OptionType.CALL:
        return max(underlying_price - strike, ZERO)
    return max(strike - underlying_price, ZERO)


def exercises_at_expiry(*, option_type: OptionType, strike: Decimal, underlying_price: Decimal) -> bool:
    return intrinsic_value(option_type=option_type, strike=strike,
                           underlying_price=underlying_price) >= EXERCISE_THRESHOLD


def early_assignment_due(*, option_type: OptionType, strike: Decimal, underlying_price: Decimal, bid: Decimal | None,
                         days_to_expiry: float, multiplier: Decimal, commission_per_contract: Decimal) -> bool:
    """Would a holder of this American option exercise it now rather than sell it at the bid?"""
    if days_to_expiry > EARLY_ASSIGNMENT_DAYS:
        return False
    intrinsic = intrinsic_value(option_type=option_type, strike=strike, underlying_price=underlying_price)
    if intrinsic <= EARLY_ASSIGNMENT_MONEYNESS * strike:
        return False
    sale_proceeds = ZERO if bid is None else bid * multiplier - commission_per_contract
    return intrinsic * multiplier > sale_proceeds
