"""Serializer Decimal fields with the stored precision: JSON carries them as strings at full places.

Money, prices and quantities refuse more places than they keep (style guide §3.7: input is never
silently rounded; the instrument's tick and lot sizes decide the rest). Every other number a client
sends (rates, volatilities, years to expiry, percentages, leverage) is often computed on the
client's side, 30/365 for a month, so it is rounded half-even at its stated places instead.

`DecimalOut` is the one way a response or an event payload writes a decimal that is not a stored
shape (a ratio to 6 places, a Greek from numpy, a strike as listed): views and events never
format numbers themselves.
"""
from decimal import ROUND_HALF_EVEN, Decimal

from rest_framework import serializers

from haunt import money


class RoundedDecimalField(serializers.DecimalField):
    """A decimal that is rounded half-even to `decimal_places`; only too many whole digits are refused."""

    def __init__(self, max_digits: int, decimal_places: int, **options):
        super().__init__(max_digits=max_digits, decimal_places=decimal_places, rounding=ROUND_HALF_EVEN, **options)

    def validate_precision(self, value: Decimal) -> Decimal:
        if value and value.adjusted() + 1 > self.max_whole_digits:
            self.fail("max_whole_digits", max_whole_digits=self.max_whole_digits)
        return super().validate_precision(value.quantize(money.quantum(self.decimal_places), rounding=ROUND_HALF_EVEN))


def money_serializer_field(**options) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=money.MONEY_DIGITS, decimal_places=money.MONEY_PLACES, **options)


def price_serializer_field(**options) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=money.PRICE_DIGITS, decimal_places=money.PRICE_PLACES, **options)


def quantity_serializer_field(**options) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=money.QUANTITY_DIGITS, decimal_places=money.QUANTITY_PLACES, **options
    )


def rate_serializer_field(**options) -> RoundedDecimalField:
    return RoundedDecimalField(max_digits=money.RATE_DIGITS, decimal_places=money.RATE_PLACES, **options)


class DecimalOut(serializers.DecimalField):
    """A read-only decimal written as a JSON string in plain notation.

    places=N: exactly N places, rounded once, half-even. places=None: the value's own digits.
    normalize=True drops trailing zeros (after rounding to `places`, when given): "100", "2.5".
    A float (a numpy/scipy result; only with `places`) is converted by money.from_float: its exact
    binary value rounded once, the digits f"{value:.Nf}" gives, not those of its shortest repr.
    A string (a quote's price) is read as the decimal it spells. `max_digits` documents the range
    (the schema's pattern); like quantize_money, writing does not enforce it.

    Responses write thousands of these (a chain is 110 rows of 17), so this is DRF's
    DecimalField.to_representation without its per-value context copy.
    """

    def __init__(self, places: int | None = None, *, normalize: bool = False, max_digits: int | None = None,
                 **options):
        super().__init__(max_digits=max_digits, decimal_places=places, normalize_output=normalize,
                         rounding=ROUND_HALF_EVEN, read_only=True, **options)
        self.quantum = None if places is None else money.quantum(places)

    def to_representation(self, value) -> str:
        if isinstance(value, (str, int)):
            value = Decimal(value)
        if isinstance(value, Decimal):
            if self.quantum is not None:
                value = value.quantize(self.quantum, rounding=ROUND_HALF_EVEN)
        elif self.quantum is None:
            raise TypeError(f"{self.field_name}: a float is written only at a fixed number of places")
        else:
            value = money.from_float(value, places=self.decimal_places)
        if self.normalize_output:
            value = value.normalize()
        return f"{value:f}"


def money_out(**options) -> DecimalOut:
    """A money figure computed for the response (equity, margin, P&L): 8 places, like a stored amount."""
    return DecimalOut(money.MONEY_PLACES, max_digits=money.MONEY_DIGITS, **options)


def price_out(**options) -> DecimalOut:
    """A price computed for the response (a liquidation price): 10 places, like a stored price."""
    return DecimalOut(money.PRICE_PLACES, max_digits=money.PRICE_DIGITS, **options)


def rate_out(**options) -> DecimalOut:
    """A rate computed for the response (a predicted funding rate): 10 places, like a stored rate."""
    return DecimalOut(money.RATE_PLACES, max_digits=money.RATE_DIGITS, **options)
