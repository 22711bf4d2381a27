"""StrictInput: unknown and read-only fields are refused, and top-level serializers share their
bound fields (haunt.api.serializers) without sharing any validation state."""
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from orders.serializers import OrderModifyIn, OrderPlaceIn

PORTFOLIO = "6c03011e-2db1-4438-9593-1622db0ac427"
MARKET = {"portfolio": PORTFOLIO, "symbol": "BTC-USD", "side": "buy", "order_type": "market", "quantity": "0.5"}
BRACKET = {**MARKET, "order_type": "limit", "limit_price": "60000", "order_class": "bracket",
           "take_profit": {"limit_price": "66000"}, "stop_loss": {"trail_percent": "3"}}


def validated(body: dict, **options) -> tuple[dict | None, dict | None]:
    payload = OrderPlaceIn(data=body, **options)
    return (payload.validated_data, None) if payload.is_valid() else (None, payload.errors)


def test_top_level_serializers_of_a_class_share_their_fields():
    first, second = OrderPlaceIn(data=MARKET), OrderPlaceIn(data=BRACKET)

    assert first.fields["quantity"] is second.fields["quantity"]
    assert first.fields["take_profit"] is second.fields["take_profit"]


def test_context_and_partial_validation_get_fields_of_their_own():
    shared = OrderPlaceIn(data=MARKET).fields["quantity"]

    assert OrderPlaceIn(data=MARKET, context={"request": None}).fields["quantity"] is not shared
    partial = OrderModifyIn(data={}, partial=True)
    assert partial.fields["quantity"] is not OrderModifyIn(data={}).fields["quantity"]
    assert partial.fields["quantity"].root is partial


def test_validation_state_stays_on_each_serializer():
    refused = OrderPlaceIn(data={**MARKET, "quantity": "-1"})
    accepted = OrderPlaceIn(data=BRACKET)

    assert not refused.is_valid()
    assert accepted.is_valid(), accepted.errors
    assert set(refused.errors) == {"quantity"} and accepted.errors == {}
    assert accepted.validated_data["take_profit"] == {"limit_price": Decimal("66000")}
    assert accepted.validated_data["stop_loss"]["trail_percent"] == Decimal("3")
    assert refused.validated_data == {}


def test_many_threads_validating_at_once_each_get_their_own_answer():
    bodies = [MARKET, BRACKET, {**MARKET, "quantity": "abc"}, {**MARKET, "colour": "blue"},
              {**BRACKET, "take_profit": {"limit_price": "-5"}}, {**MARKET, "quantity": f"{Decimal('0.25'):f}"}]
    expected = [validated(body) for body in bodies]

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda index: (index, validated(bodies[index])), [i % len(bodies) for i in range(3000)]))

    assert all(answer == expected[index] for index, answer in answers)
    assert [answer is None for answer, _ in expected] == [False, False, True, True, True, False]


# One decimal grammar: plain ASCII digits, an optional sign, fraction and exponent


@pytest.mark.parametrize("quantity", ["1_000", "１２", " 1", "1 ", "\t0.5\n", "0x10", ".5", "5.", "1e", "+-1", "٣",
                                      "1,000", "NaN", "Infinity", ""])
def test_a_quantity_outside_the_decimal_grammar_is_refused(quantity):
    _, errors = validated({**MARKET, "quantity": quantity})

    assert errors is not None and set(errors) == {"quantity"}


@pytest.mark.parametrize("quantity, value", [("1000", "1000"), ("0.5", "0.5"), ("+2", "2"), ("00.50", "0.5"),
                                             ("1e-3", "0.001"), ("2E+1", "20"), (3, "3"), (0.25, "0.25")])
def test_a_quantity_in_the_decimal_grammar_is_read(quantity, value):
    data, errors = validated({**MARKET, "quantity": quantity})

    assert errors is None
    assert data["quantity"] == Decimal(value)


def test_numbers_nested_in_objects_and_lists_follow_the_grammar():
    _, nested = validated({**BRACKET, "take_profit": {"limit_price": "６６000"}})
    _, listed = validated({**MARKET, "side": "sell", "lot_ids": [1, "2_0"]})
    _, integer = validated({**MARKET, "side": "sell", "lot_ids": [" 3"]})

    assert nested == {"take_profit": {"limit_price": ["A valid number is required."]}}
    assert listed == {"lot_ids": {1: ["A valid integer is required."]}}
    assert integer == {"lot_ids": {0: ["A valid integer is required."]}}


def input_number_fields():
    """(serializer, dotted name, field) for every number field of every StrictInput the URLs reach."""
    from django.urls import get_resolver
    from rest_framework import serializers

    from haunt.api.serializers import StrictInput

    get_resolver().url_patterns  # imports every view, and so every input serializer

    def subclasses(cls):
        for subclass in cls.__subclasses__():
            yield subclass
            yield from subclasses(subclass)

    def walk(name, field):
        if isinstance(field, (serializers.ListField, serializers.DictField)):
            yield from walk(f"{name}[]", field.child)
        elif isinstance(field, serializers.Serializer):
            for child_name, child in field.fields.items():
                yield from walk(f"{name}.{child_name}", child)
        elif isinstance(field, (serializers.DecimalField, serializers.IntegerField, serializers.FloatField)):
            yield name, field

    for serializer in set(subclasses(StrictInput)):
        for name, field in serializer().fields.items():
            for path, number in walk(name, field):
                yield serializer.__name__, path, number


def test_only_money_prices_and_quantities_refuse_extra_places():
    """Every other decimal input rounds at its stated places (haunt.api.fields.RoundedDecimalField)."""
    from rest_framework import serializers

    from haunt import money
    from haunt.api.fields import RoundedDecimalField

    stored_shapes = {(money.MONEY_DIGITS, money.MONEY_PLACES), (money.PRICE_DIGITS, money.PRICE_PLACES),
                     (money.QUANTITY_DIGITS, money.QUANTITY_PLACES)}
    refusing = [(serializer, path, (field.max_digits, field.decimal_places))
                for serializer, path, field in input_number_fields()
                if isinstance(field, serializers.DecimalField) and not isinstance(field, RoundedDecimalField)]

    assert refusing, "the walk found no decimal inputs"
    assert [entry for entry in refusing if entry[2] not in stored_shapes] == []
