"""Precision and rounding for money, prices, quantities and rates (style guide §3.7).

Pure module: no Django. Every DecimalField, serializer field and service rounding step takes its
digits from here, so a stored value, an in-memory value and a JSON string always agree.
"""
import math
from decimal import ROUND_HALF_EVEN, Decimal

MONEY_DIGITS, MONEY_PLACES = 24, 8
PRICE_DIGITS, PRICE_PLACES = 24, 10
QUANTITY_DIGITS, QUANTITY_PLACES = 24, 10
RATE_DIGITS, RATE_PLACES = 16, 10

ZERO = Decimal(0)


def quantum(places: int) -> Decimal:
    """The smallest step with `places` decimal places: quantum(2) == Decimal("0.01")."""
    return Decimal(1).scaleb(-places)


def quantize_money(value: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """Round once to the stored money precision (8 places), half-even unless a policy says otherwise."""
    return value.quantize(quantum(MONEY_PLACES), rounding=rounding)


def quantize_price(value: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    return value.quantize(quantum(PRICE_PLACES), rounding=rounding)


def quantize_quantity(value: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    return value.quantize(quantum(QUANTITY_PLACES), rounding=rounding)


def from_float(value: float, *, places: int, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """Bring a numpy/scipy result into Decimal with exactly one rounding step."""
    value = float(value)  # np.float32 is not a float subclass
    if not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite number")
    return Decimal(value).quantize(quantum(places), rounding=rounding)  # exact binary value, rounded once


def round_to_step(value: Decimal, step: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """Snap a price to an instrument's tick size, or a quantity to its lot size."""
    return (value / step).quantize(Decimal(1), rounding=rounding) * step


def is_multiple_of(value: Decimal, step: Decimal) -> bool:
    """True when `value` lies exactly on the grid of `step` (a tick or lot size)."""
    return value % step == 0


# Minor units of the currencies a portfolio can be based in; anything unlisted has cents.
CURRENCY_PLACES = {"JPY": 0, "BTC": 8, "ETH": 8}


def quantize_currency(value: Decimal, currency: str, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """Round an amount to the currency's smallest unit (cents, yen, satoshis)."""
    return value.quantize(quantum(CURRENCY_PLACES.get(currency, 2)), rounding=rounding)


def places_of(step: Decimal) -> int:
    """Decimal places a tick or lot size needs: 0.01 → 2, 1 → 0, 1000 → 0."""
    return max(0, -step.normalize().as_tuple().exponent)


def format_decimal(value: Decimal, places: int) -> str:
    """Plain-notation string with exactly `places` decimals (never exponent notation)."""
    return f"{value.quantize(quantum(places)):f}"
