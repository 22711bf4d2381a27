"""Multi-leg option combos (spec §7 "Multi-Leg Strategies"; called combos here so that "strategy"
means only the strategies app's automated trading): the shape each named combo requires.

A combo order lists its legs (contract, buy or sell, ratio). ``custom`` takes any combination;
a named combo must have its textbook shape, so a mistyped strike or side is refused instead of
traded as something else. Pure module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from options_trading.contracts import OptionType


@dataclass(frozen=True)
class Leg:
    option_type: OptionType
    strike: Decimal
    expiry: date
    side: str  # "buy" or "sell"
    ratio: int


class ComboShapeError(ValueError):
    pass


def check_shape(name: str, legs: list[Leg]) -> None:
    """Raise ComboShapeError unless ``legs`` form the combo ``name``."""
    if name == "custom":
        return
    checker = _CHECKS[name]
    if not checker(legs):
        raise ComboShapeError(f"These legs do not form a {name.replace('_', ' ')}: {_SHAPES[name]}")


def _two(legs: list[Leg], option_type: OptionType | None = None) -> bool:
    return (len(legs) == 2 and legs[0].ratio == legs[1].ratio
            and (option_type is None or all(leg.option_type == option_type for leg in legs)))


def _vertical(legs: list[Leg], option_type: OptionType, buy_lower: bool) -> bool:
    if not _two(legs, option_type) or legs[0].expiry != legs[1].expiry:
        return False
    lower, higher = sorted(legs, key=lambda leg: leg.strike)
    return lower.strike < higher.strike and (lower.side == "buy") == buy_lower and lower.side != higher.side


def _straddle(legs: list[Leg], same_strike: bool) -> bool:
    if not _two(legs) or legs[0].expiry != legs[1].expiry or legs[0].side != legs[1].side:
        return False
    calls = [leg for leg in legs if leg.option_type == OptionType.CALL]
    puts = [leg for leg in legs if leg.option_type == OptionType.PUT]
    if len(calls) != 1 or len(puts) != 1:
        return False
    return calls[0].strike == puts[0].strike if same_strike else puts[0].strike < calls[0].strike


def _iron(legs: list[Leg], butterfly: bool) -> bool:
    if len(legs) != 4 or len({leg.expiry for leg in legs}) != 1 or len({leg.ratio for leg in legs}) != 1:
        return False
    puts = sorted((leg for leg in legs if leg.option_type == OptionType.PUT), key=lambda leg: leg.strike)
    calls = sorted((leg for leg in legs if leg.option_type == OptionType.CALL), key=lambda leg: leg.strike)
    if len(puts) != 2 or len(calls) != 2:
        return False
    outer, inner = (puts[0], calls[1]), (puts[1], calls[0])
    if len({leg.side for leg in outer}) != 1 or len({leg.side for leg in inner}) != 1 or outer[0].side == inner[0].side:
        return False
    ordered = puts[0].strike < puts[1].strike and calls[0].strike < calls[1].strike
    middle = puts[1].strike == calls[0].strike if butterfly else puts[1].strike < calls[0].strike
    return ordered and middle


def _calendar(legs: list[Leg]) -> bool:
    return (_two(legs) and legs[0].option_type == legs[1].option_type and legs[0].strike == legs[1].strike
            and legs[0].expiry != legs[1].expiry and legs[0].side != legs[1].side)


_CHECKS = {
    "bull_call_spread": lambda legs: _vertical(legs, OptionType.CALL, buy_lower=True),
    "bear_call_spread": lambda legs: _vertical(legs, OptionType.CALL, buy_lower=False),
    "bull_put_spread": lambda legs: _vertical(legs, OptionType.PUT, buy_lower=True),
    "bear_put_spread": lambda legs: _vertical(legs, OptionType.PUT, buy_lower=False),
    "straddle": lambda legs: _straddle(legs, same_strike=True),
    "strangle": lambda legs: _straddle(legs, same_strike=False),
    "iron_condor": lambda legs: _iron(legs, butterfly=False),
    "iron_butterfly": lambda legs: _iron(legs, butterfly=True),
    "calendar_spread": _calendar,
}
_SHAPES = {
    "bull_call_spread": "buy a call and sell a higher-strike call of the same expiry, one for one.",
    "bear_call_spread": "sell a call and buy a higher-strike call of the same expiry, one for one.",
    "bull_put_spread": "buy a put and sell a higher-strike put of the same expiry, one for one.",
    "bear_put_spread": "sell a put and buy a higher-strike put of the same expiry, one for one.",
    "straddle": "a call and a put of the same strike and expiry, both bought or both sold.",
    "strangle": "a call and a lower-strike put of the same expiry, both bought or both sold.",
    "iron_condor": "a put spread below a call spread, one expiry: the outer strikes on one side, the inner on the "
                   "other.",
    "iron_butterfly": "an iron condor whose inner put and call share their strike.",
    "calendar_spread": "the same type and strike in two expiries, one bought and one sold.",
}
