"""haunt.api.formatting writes a value as the serializers write it, so a payload built as a dict and
one rendered by a serializer agree."""
import math
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from rest_framework import serializers

from haunt import money
from haunt.api.fields import money_serializer_field
from haunt.api.formatting import decimal_text, float_text, instant_text, trimmed_decimal_text

decimals = st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), allow_nan=False, allow_infinity=False,
                       places=12)


@given(decimals)
def test_decimal_text_at_money_places_is_what_a_money_field_writes(value):
    assert decimal_text(value, money.MONEY_PLACES) == money_serializer_field().to_representation(value)


def test_decimal_text_is_plain_notation_and_rounds_half_even():
    assert decimal_text(Decimal("1E+2")) == "100"
    assert decimal_text(Decimal("1.2300")) == "1.2300"
    assert decimal_text(Decimal("0.125"), 2) == "0.12"
    assert decimal_text(Decimal("0.135"), 2) == "0.14"
    assert decimal_text(None) is None


def test_trimmed_decimal_text_drops_trailing_zeros_only():
    assert trimmed_decimal_text(Decimal("1.500")) == "1.5"
    assert trimmed_decimal_text(Decimal("100.00")) == "100"
    assert trimmed_decimal_text(Decimal("0.0000000100")) == "0.00000001"
    assert trimmed_decimal_text(None) is None


@given(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False))
def test_float_text_rounds_like_from_float(value):
    expected = money.from_float(value, places=8)
    assert float_text(value, 8) == f"{expected:f}".replace("-0.00000000", "0.00000000")


def test_float_text_is_null_when_undefined_and_never_negative_zero():
    assert [float_text(value, 8) for value in (math.nan, math.inf, -math.inf, None)] == [None] * 4
    assert float_text(-1e-12, 8) == "0.00000000"
    assert float_text(-0.0, 2) == "0.00"
    assert float_text(-0.005, 2) == "-0.01"  # -0.005000000000000000104 in binary: rounds away from zero


@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)),
       st.integers(min_value=-12, max_value=12))
def test_instant_text_is_what_a_datetime_field_writes(moment, offset_hours):
    local = moment.astimezone(timezone(timedelta(hours=offset_hours)))
    assert instant_text(local) == serializers.DateTimeField().to_representation(moment)


def test_instant_text_of_none_is_null():
    assert instant_text(None) is None
    assert instant_text(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05Z"
