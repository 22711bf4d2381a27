"""StrictInput: unknown and read-only fields are refused, and top-level serializers share their
bound fields (haunt.api.serializers) without sharing any validation state."""
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

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
