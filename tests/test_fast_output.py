"""FastOutput serializers render exactly what DRF's own field-by-field representation renders, for
every output serializer on the trading path, on objects in every state a fill leaves them in."""
from decimal import Decimal

import pytest
from rest_framework import serializers

from orders.models import Order, Trade
from orders.serializers import OrderDetailOut, OrderOut, TradeOut
from orders.services import ExitLegs, OrderRequest, bracket_place, order_place
from orders.tests.books import instruments, make_portfolio, publish_eth  # noqa: F401  (fixtures)
from portfolios.models import LedgerEntry, Position
from portfolios.serializers import LedgerEntryOut, PortfolioOut, PositionOut
from reporting.history.serializers import OrderHistoryOut

D = Decimal


def drf_representation(serializer, instance) -> dict:
    """DRF's own Serializer.to_representation: fields built and bound for this serializer."""
    return serializers.Serializer.to_representation(serializer, instance)


@pytest.fixture
def traded(user, instruments):  # noqa: F811
    publish_eth()
    portfolio = make_portfolio(user)
    order_place(user=user, portfolio_id=portfolio.pk, request=OrderRequest(
        symbol="ETH-USD", side="buy", order_type="market", quantity=D("3"), tags=("swing",)))
    order_place(user=user, portfolio_id=portfolio.pk, request=OrderRequest(
        symbol="ETH-USD", side="sell", order_type="limit", quantity=D("1"), limit_price=D("2100")))
    bracket_place(user=user, portfolio_id=portfolio.pk,
                  entry=OrderRequest(symbol="ETH-USD", side="buy", order_type="limit", quantity=D("1"),
                                     limit_price=D("1900")),
                  legs=ExitLegs(take_profit_price=D("2500"), stop_price=D("1800")))
    order_place(user=user, portfolio_id=portfolio.pk, request=OrderRequest(
        symbol="ETH-USD", side="sell", order_type="market", quantity=D("4")))  # flips: one closed, one short
    return portfolio


@pytest.mark.parametrize("serializer_class, model", [
    (OrderOut, Order), (OrderDetailOut, Order), (OrderHistoryOut, Order), (TradeOut, Trade),
    (PositionOut, Position), (LedgerEntryOut, LedgerEntry),
])
def test_fast_output_equals_drf_representation(traded, serializer_class, model):
    instances = list(model.objects.all())
    assert len(instances) >= 2
    for instance in instances:
        serializer = serializer_class(instance)
        assert serializer.data == drf_representation(serializer, instance)


def test_portfolio_output_equals_drf_representation(traded):
    serializer = PortfolioOut(traded)
    fast = serializer.data
    assert fast == drf_representation(PortfolioOut(traded), traded)
    assert D(fast["equity"]) != D(fast["current_balance"])  # valued with an open position
