"""haunt.api.fields.DecimalOut writes the digits the hand-written formats it replaced wrote."""
from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from rest_framework import serializers

from haunt.api.fields import DecimalOut, money_out
from haunt.api.serializers import FastOutput

D = Decimal
finite_floats = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)
decimals = st.decimals(allow_nan=False, allow_infinity=False, min_value=-10**12, max_value=10**12, places=12)


@given(value=finite_floats, places=st.integers(0, 10))
def test_a_float_is_its_exact_binary_value_rounded_once(value, places):
    assert DecimalOut(places).to_representation(value) == f"{value:.{places}f}"
    assert DecimalOut(places).to_representation(np.float64(value)) == f"{value:.{places}f}"


def test_a_float32_is_read_as_the_float_it_is():
    assert DecimalOut(8).to_representation(np.float32(0.1)) == f"{float(np.float32(0.1)):.8f}"


@given(value=decimals, places=st.integers(0, 10))
def test_a_decimal_is_rounded_half_even_to_its_places(value, places):
    assert DecimalOut(places).to_representation(value) == f"{value:.{places}f}"


@given(value=decimals)
def test_without_places_a_decimal_keeps_its_digits_or_drops_trailing_zeros(value):
    assert DecimalOut().to_representation(value) == f"{value:f}"
    assert DecimalOut(normalize=True).to_representation(value) == f"{value.normalize():f}"


@pytest.mark.parametrize(("field", "value", "text"), [
    (DecimalOut(normalize=True), D("200.00"), "200"),
    (DecimalOut(normalize=True), D("0E-8"), "0"),
    (DecimalOut(4, normalize=True), D("200.59004"), "200.59"),
    (DecimalOut(), "65000.10", "65000.10"),  # a quote's price, as the market state holds it
    (DecimalOut(2), D("0.125"), "0.12"),
    (DecimalOut(2), 2.675, "2.67"),  # the float 2.675 is 2.67499999…
    (money_out(), D("-1118"), "-1118.00000000"),
    (DecimalOut(8), D("-0.000000001"), "-0.00000000"),
])
def test_examples(field, value, text):
    assert field.to_representation(value) == text


def test_a_float_needs_places():
    with pytest.raises(TypeError):
        DecimalOut().to_representation(0.5)


class DoubledOut(DecimalOut):
    def get_attribute(self, instance):
        return super().get_attribute(instance) * 2


class RowOut(FastOutput, serializers.Serializer):
    name = serializers.CharField()
    day = serializers.DateField()
    at = serializers.DateTimeField()
    price = DecimalOut(normalize=True)
    greek = DecimalOut(8)
    cap = DecimalOut(allow_null=True)
    total = money_out(source="amount")
    doubled = DoubledOut(source="amount")


@pytest.mark.parametrize("row", [
    {"name": "a", "day": date(2026, 12, 18), "at": datetime(2026, 12, 18, 21, tzinfo=UTC), "price": D("195.00"),
     "greek": np.float64(0.123456789), "cap": None, "amount": D("-1118")},
    {"name": "b", "day": date(2026, 12, 18), "at": datetime(2026, 12, 18, 21, tzinfo=UTC), "price": D("1"),
     "greek": -0.0, "cap": D("50000"), "amount": 3},
])
def test_fast_output_reads_a_dict_as_drf_does(row):
    serializer = RowOut(row)
    assert serializer.data == serializers.Serializer.to_representation(serializer, row)
