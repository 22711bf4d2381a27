"""Margin on option positions by the Reg-T / Cboe strategy rules (spec §3 "Options: 100% premium").

Positions on one underlying are paired the way Cboe's margin manual recognises them, then each
piece is charged its rule:

- **Long options** are paid for in full; they need nothing more and lend nothing.
- **Covered calls**: a short call covered by long shares (multiplier units each) needs no margin:
  the shares deliver.
- **Spreads**: a short option paired with a long option of the same type that expires no earlier
  (verticals and calendars). The requirement is the spread's maximum loss at expiry, what it can
  cost to settle: the strike difference for a credit spread (short call below the long, short put
  above the long), nothing for a debit spread, whose cost was paid. The premium the short leg
  received stays in cash and counts towards it, so a credit spread ties up width − credit, the
  trader's maximum loss. A short call spread and a short put spread of the same expiry with the
  puts struck below the calls (iron condors and butterflies) can never both lose: the pair needs
  the larger of the two requirements, not their sum.
- **Naked shorts**: the option's current value plus the larger of 20% of the underlying less the
  out-of-the-money amount, and 10% of the strike (puts) or of the underlying (calls).

Pairing is greedy: each short call (lowest strike first) and each short put (highest strike
first) takes the longs that cost it least. Pure module: Decimal in and out, nothing rounded.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from options_trading.contracts import OptionType

ZERO = Decimal(0)
NAKED_UNDERLYING_RATE = Decimal("0.20")
NAKED_MINIMUM_RATE = Decimal("0.10")


@dataclass(frozen=True)
class OptionHolding:
    """One option position: ``quantity`` in contracts, negative when short; ``mark`` per unit."""

    option_type: OptionType
    strike: Decimal
    expiry: date
    quantity: Decimal
    multiplier: Decimal
    mark: Decimal


@dataclass(frozen=True)
class MarginLine:
    """One recognised piece: ``kind`` is naked, covered, spread or long; ``units`` of the underlying."""

    kind: str
    option_type: OptionType
    short_strike: Decimal | None
    long_strike: Decimal | None
    expiry: date
    units: Decimal
    requirement: Decimal


@dataclass(frozen=True)
class OptionMargin:
    requirement: Decimal
    lines: tuple[MarginLine, ...]


def naked_requirement_per_unit(*, option_type: OptionType, strike: Decimal, underlying_price: Decimal,
                               mark: Decimal) -> Decimal:
    """Cboe naked short: mark + max(20%·S − OTM amount, 10%·K for a put or 10%·S for a call)."""
    if option_type == OptionType.CALL:
        out_of_money, floor = max(strike - underlying_price, ZERO), NAKED_MINIMUM_RATE * underlying_price
    else:
        out_of_money, floor = max(underlying_price - strike, ZERO), NAKED_MINIMUM_RATE * strike
    return mark + max(NAKED_UNDERLYING_RATE * underlying_price - out_of_money, floor)


def spread_requirement_per_unit(*, option_type: OptionType, short_strike: Decimal, long_strike: Decimal) -> Decimal:
    """A spread's worst settlement cost per unit: its width when it is a credit spread, else 0."""
    width = long_strike - short_strike if option_type == OptionType.CALL else short_strike - long_strike
    return max(width, ZERO)


def option_margin(*, holdings: list[OptionHolding], underlying_price: Decimal,
                  underlying_quantity: Decimal = ZERO) -> OptionMargin:
    """The margin the option positions on one underlying need; ``underlying_quantity`` is the
    shares (or coins) held, positive when long."""
    shorts = [[holding, -holding.quantity * holding.multiplier] for holding in holdings if holding.quantity < 0]
    longs = [[holding, holding.quantity * holding.multiplier] for holding in holdings if holding.quantity > 0]
    shorts.sort(key=lambda item: item[0].strike if item[0].option_type == OptionType.CALL else -item[0].strike)
    lines: list[MarginLine] = []

    shares = max(underlying_quantity, ZERO)
    for item in shorts:
        holding, units = item
        if holding.option_type != OptionType.CALL or shares <= 0 or units <= 0:
            continue
        covered = min(units, shares)
        shares -= covered
        item[1] -= covered
        lines.append(MarginLine("covered", holding.option_type, holding.strike, None, holding.expiry, covered, ZERO))

    for item in shorts:
        holding = item[0]
        while item[1] > 0:
            candidates = [other for other in longs if other[1] > 0 and other[0].option_type == holding.option_type
                          and other[0].expiry >= holding.expiry]
            if not candidates:
                break
            best = min(candidates, key=lambda other: (
                spread_requirement_per_unit(option_type=holding.option_type, short_strike=holding.strike,
                                            long_strike=other[0].strike),
                abs(other[0].strike - holding.strike), other[0].expiry))
            units = min(item[1], best[1])
            item[1] -= units
            best[1] -= units
            per_unit = spread_requirement_per_unit(option_type=holding.option_type, short_strike=holding.strike,
                                                   long_strike=best[0].strike)
            lines.append(MarginLine("spread", holding.option_type, holding.strike, best[0].strike, holding.expiry,
                                    units, per_unit * units))

    for holding, units in shorts:
        if units > 0:
            per_unit = naked_requirement_per_unit(option_type=holding.option_type, strike=holding.strike,
                                                  underlying_price=underlying_price, mark=holding.mark)
            lines.append(MarginLine("naked", holding.option_type, holding.strike, None, holding.expiry, units,
                                    per_unit * units))
    for holding, units in longs:
        if units > 0:
            lines.append(MarginLine("long", holding.option_type, None, holding.strike, holding.expiry, units, ZERO))
    return OptionMargin(requirement=_total(lines), lines=tuple(lines))


def _total(lines: list[MarginLine]) -> Decimal:
    """Sum of the lines, with each expiry's call and put credit spreads charged only their larger
    side when every put spread is struck below every call spread (only one side can lose)."""
    spreads_by_expiry: dict[date, dict[OptionType, list[MarginLine]]] = defaultdict(lambda: defaultdict(list))
    total = ZERO
    for line in lines:
        if line.kind == "spread" and line.requirement > 0:
            spreads_by_expiry[line.expiry][line.option_type].append(line)
        else:
            total += line.requirement
    for sides in spreads_by_expiry.values():
        calls, puts = sides[OptionType.CALL], sides[OptionType.PUT]
        call_total = sum((line.requirement for line in calls), ZERO)
        put_total = sum((line.requirement for line in puts), ZERO)
        one_side_loses = calls and puts and max(line.short_strike for line in puts) <= min(
            line.short_strike for line in calls)
        total += max(call_total, put_total) if one_side_loses else call_total + put_total
    return total
