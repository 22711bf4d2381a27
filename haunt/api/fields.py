"""Serializer Decimal fields with the stored precision: JSON carries them as strings at full places."""
from rest_framework import serializers

from haunt import money


def money_serializer_field(**options) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=money.MONEY_DIGITS, decimal_places=money.MONEY_PLACES, **options)


def price_serializer_field(**options) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=money.PRICE_DIGITS, decimal_places=money.PRICE_PLACES, **options)


def quantity_serializer_field(**options) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=money.QUANTITY_DIGITS, decimal_places=money.QUANTITY_PLACES, **options
    )


def rate_serializer_field(**options) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=money.RATE_DIGITS, decimal_places=money.RATE_PLACES, **options)
