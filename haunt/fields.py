"""DecimalField factories built from haunt.money, so every column of a shape has the same digits."""
from django.db import models

from haunt import money


def money_field(**options) -> models.DecimalField:
    return models.DecimalField(max_digits=money.MONEY_DIGITS, decimal_places=money.MONEY_PLACES, **options)


def price_field(**options) -> models.DecimalField:
    return models.DecimalField(max_digits=money.PRICE_DIGITS, decimal_places=money.PRICE_PLACES, **options)


def quantity_field(**options) -> models.DecimalField:
    return models.DecimalField(max_digits=money.QUANTITY_DIGITS, decimal_places=money.QUANTITY_PLACES, **options)


def rate_field(**options) -> models.DecimalField:
    return models.DecimalField(max_digits=money.RATE_DIGITS, decimal_places=money.RATE_PLACES, **options)
