"""Order requests validate themselves in the domain: the shape rules (which types take which
prices, GTD and expires_at, post-only, the stop-loss leg of an OCO or bracket) refuse a request
whichever door it comes in by, with the code and field the REST API answers (test_api pins those
for POST /api/orders). Called here the way a strategy or an Alpaca-shaped API would: the service
directly, no serializer in front."""
from datetime import timedelta

import pytest

from haunt.errors import DomainError
from orders.models import Order
from orders.requests import ExitLegs, OrderRequest
from orders.services import bracket_place, oco_place, order_modify, order_place
from orders.tests.books import D, NOW, instruments, make_portfolio, publish_eth  # noqa: F401 (fixture)

LATER = NOW + timedelta(days=1)


def eth(**fields) -> OrderRequest:
    """A market buy of 1 ETH unless `fields` say otherwise."""
    return OrderRequest(**{"symbol": "ETH-USD", "side": "buy", "order_type": "market", "quantity": D("1"), **fields})


BAD_SHAPES = [
    ({"order_type": "limit"}, "required", "limit_price"),
    ({"order_type": "stop"}, "required", "stop_price"),
    ({"order_type": "take_profit"}, "required", "stop_price"),
    ({"order_type": "stop_limit", "stop_price": D("1900")}, "required", "limit_price"),
    ({"order_type": "trailing_stop"}, "required", "trail_amount"),
    ({"order_type": "trailing_stop", "trail_amount": D("5"), "trail_percent": D("1")}, "required", "trail_amount"),
    ({"limit_price": D("1900")}, "not_allowed", "limit_price"),
    ({"stop_price": D("1900")}, "not_allowed", "stop_price"),
    ({"order_type": "trailing_stop", "trail_percent": D("1"), "stop_price": D("1900")}, "not_allowed", "stop_price"),
    ({"trail_percent": D("1")}, "not_allowed", "trail_percent"),
    ({"time_in_force": "gtd"}, "required", "expires_at"),
    ({"expires_at": LATER}, "not_allowed", "expires_at"),
    ({"post_only": True}, "not_allowed", "post_only"),
    ({"order_type": "stop", "stop_price": D("1900"), "post_only": True}, "not_allowed", "post_only"),
    ({"quantity": D("0")}, "min_value", "quantity"),
    ({"quantity": D("-1")}, "min_value", "quantity"),
    ({"order_type": "limit", "limit_price": D("-1")}, "min_value", "limit_price"),
    ({"order_type": "trailing_stop", "trail_percent": D("100")}, "max_value", "trail_percent"),
    ({"side": "long"}, "invalid_choice", "side"),
    ({"order_type": "iceberg"}, "invalid_choice", "order_type"),
    ({"time_in_force": "forever"}, "invalid_choice", "time_in_force"),
    ({"margin_mode": "portfolio"}, "invalid_choice", "margin_mode"),
]


@pytest.mark.parametrize(("fields", "code", "field"), BAD_SHAPES)
def test_a_request_of_a_broken_shape_names_its_fault(fields, code, field):
    with pytest.raises(DomainError) as refused:
        eth(**fields).validate()

    assert (refused.value.code, refused.value.field, refused.value.status) == (code, field, 400)


@pytest.mark.parametrize("fields", [
    {},
    {"order_type": "limit", "limit_price": D("1900"), "post_only": True, "time_in_force": "gtd", "expires_at": LATER},
    {"order_type": "stop_limit", "stop_price": D("1900"), "limit_price": D("1890")},
    {"order_type": "take_profit", "stop_price": D("2100"), "side": "sell"},
    {"order_type": "trailing_stop", "trail_amount": D("5"), "side": "sell", "trigger_source": "bid_ask"},
    {"margin_mode": "isolated", "leverage": D("2")},
])
def test_a_request_of_a_whole_shape_passes(fields):
    eth(**fields).validate()


@pytest.mark.parametrize(("legs", "code", "field"), [
    (ExitLegs(take_profit_price=D("2100")), "required", "stop_loss.stop_price"),
    (ExitLegs(take_profit_price=D("2100"), trail_amount=D("5"), trail_percent=D("1")), "not_allowed",
     "stop_loss.trail_percent"),
    (ExitLegs(take_profit_price=D("2100"), trail_percent=D("1"), stop_price=D("1900")), "not_allowed",
     "stop_loss.trail_percent"),
    (ExitLegs(take_profit_price=D("0"), stop_price=D("1900")), "min_value", "take_profit.limit_price"),
])
def test_exit_legs_of_a_broken_shape_name_their_fault(legs, code, field):
    with pytest.raises(DomainError) as refused:
        legs.validate()

    assert (refused.value.code, refused.value.field) == (code, field)


# --- the services refuse them themselves ---------------------------------------------------------


@pytest.fixture
def portfolio(user, instruments):
    publish_eth()
    return make_portfolio(user)


@pytest.mark.parametrize(("fields", "code", "field"), BAD_SHAPES)
def test_order_place_refuses_a_broken_shape_and_creates_nothing(user, portfolio, fields, code, field):
    with pytest.raises(DomainError) as refused:
        order_place(user=user, portfolio_id=portfolio.pk, request=eth(**fields), now=NOW)

    assert (refused.value.code, refused.value.field) == (code, field)
    assert not Order.objects.exists()


def test_order_place_refuses_a_gtd_order_without_expiry_with_the_apis_message(user, portfolio):
    with pytest.raises(DomainError) as refused:
        order_place(user=user, portfolio_id=portfolio.pk, request=eth(time_in_force="gtd"), now=NOW)

    assert refused.value.message == "A GTD order needs expires_at."


def test_oco_place_refuses_a_stop_loss_without_a_stop_and_an_expiry_without_gtd(user, portfolio):
    legs = ExitLegs(take_profit_price=D("2100"), stop_price=D("1900"))

    with pytest.raises(DomainError) as no_stop:
        oco_place(user=user, portfolio_id=portfolio.pk, side="sell", symbol="ETH-USD", quantity=D("1"),
                  legs=ExitLegs(take_profit_price=D("2100")), now=NOW)
    with pytest.raises(DomainError) as stray_expiry:
        oco_place(user=user, portfolio_id=portfolio.pk, side="sell", symbol="ETH-USD", quantity=D("1"), legs=legs,
                  expires_at=LATER, now=NOW)

    assert (no_stop.value.code, no_stop.value.field) == ("required", "stop_loss.stop_price")
    assert (stray_expiry.value.code, stray_expiry.value.field) == ("not_allowed", "expires_at")
    assert not Order.objects.exists()


@pytest.mark.parametrize(("fields", "code", "field"), [
    ({"order_type": "stop", "stop_price": D("2100")}, "not_allowed", "order_type"),
    ({"lot_ids": (1,)}, "not_allowed", "lot_ids"),
    ({"order_type": "limit"}, "required", "limit_price"),
])
def test_bracket_place_refuses_an_entry_that_is_no_bracket_entry(user, portfolio, fields, code, field):
    with pytest.raises(DomainError) as refused:
        bracket_place(user=user, portfolio_id=portfolio.pk, entry=eth(**fields),
                      legs=ExitLegs(take_profit_price=D("2100"), stop_price=D("1900")), now=NOW)

    assert (refused.value.code, refused.value.field) == (code, field)
    assert not Order.objects.exists()


def test_order_modify_refuses_an_empty_change(user, portfolio):
    order, _ = order_place(user=user, portfolio_id=portfolio.pk, now=NOW,
                           request=eth(order_type="limit", limit_price=D("1900")))

    with pytest.raises(DomainError) as refused:
        order_modify(user=user, order_id=order.pk, changes={}, now=NOW)

    assert (refused.value.code, refused.value.field) == ("empty_change", None)
    assert not order.events.filter(kind="modified").exists()
