"""Serializer Decimal fields with the stored precision: JSON carries them as strings at full places.

Money, prices and quantities refuse more places than they keep (style guide §3.7: input is never
silently rounded; the instrument's tick and lot sizes decide the rest). Every other number a client
sends (rates, volatilities, years to expiry, percentages, leverage) is often computed on the
client's side, 30/365 for a month, so it is rounded half-even at its stated places instead.
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
