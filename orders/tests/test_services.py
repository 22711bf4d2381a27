from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from orders.engine import OrderEngine
from orders.models import Order, OrderStatus, Trade
from orders.services import (
    ExitLegs,
    OrderRequest,
    bracket_place,
    oco_place,
    order_cancel,
    order_place,
    position_close,
)
from orders.services.fills import order_profile
from portfolios.models import LedgerEntry, Position
from portfolios.selectors import ledger_sum
from portfolios.services import portfolio_create, portfolio_update

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 24, 15, 0, 2, tzinfo=UTC)  # just after the market_feed fixture's update


@pytest.fixture
def instant(user, market_feed):
    """A realistic portfolio with latency switched off: marketable orders fill in the call."""
    return portfolio_create(user=user, name="Instant", simulate_latency=False)


def book(symbol):
    from orders.market_view import live_book

    return live_book(symbol)


def test_market_buy_walks_the_book_and_opens_a_position(user, instant):
    asks = book("BTC-USD").asks
    quantity = asks[0][1] + asks[1][1]  # exactly two levels

    order, created = order_place(user=user, portfolio_id=instant.pk, now=NOW, request=OrderRequest(
        symbol="BTC-USD", side="buy", order_type="market", quantity=quantity))

    assert created and order.status == OrderStatus.FILLED and order.filled_quantity == quantity
    trades = list(Trade.objects.filter(order=order).order_by("price"))
    assert [trade.quantity for trade in trades] == [asks[0][1], asks[1][1]]
    assert all(trade.price >= level[0] for trade, level in zip(trades, asks))
    position = Position.objects.get(portfolio=instant, status="open")
    assert position.side == "long" and position.quantity == quantity
    instant.refresh_from_db()
    assert instant.cash == ledger_sum(portfolio_id=instant.pk)
    spent = sum(trade.quantity * trade.price for trade in trades) + sum(trade.fee for trade in trades)
    assert instant.cash == Decimal(5_000_000) - spent.quantize(Decimal("0.00000001"))


def test_round_trip_realizes_pnl_and_closes_the_position(user, instant):
    order_place(user=user, portfolio_id=instant.pk, now=NOW, request=OrderRequest(
        symbol="ETH-USD", side="buy", order_type="market", quantity=Decimal("2")))
    sell, _ = order_place(user=user, portfolio_id=instant.pk, now=NOW, request=OrderRequest(
        symbol="ETH-USD", side="sell", order_type="market", quantity=Decimal("2")))

    position = Position.objects.get(portfolio=instant)
    buys = Trade.objects.filter(portfolio=instant, side="buy")
    sells = Trade.objects.filter(portfolio=instant, side="sell")
    gross = sum(t.quantity * t.price for t in sells) - sum(t.quantity * t.price for t in buys)
    assert sell.status == OrderStatus.FILLED
    assert position.status == "closed" and position.quantity == 0
    assert position.realized_pnl == gross.quantize(Decimal("0.00000001"))
    instant.refresh_from_db()
    assert instant.cash == ledger_sum(portfolio_id=instant.pk)


def test_client_order_id_returns_the_same_order(user, instant):
    request = OrderRequest(symbol="BTC-USD", side="buy", order_type="limit", quantity=Decimal("0.01"),
                           limit_price=Decimal("1000.00"), client_order_id="abc")
    first, created = order_place(user=user, portfolio_id=instant.pk, now=NOW, request=request)
    again, created_again = order_place(user=user, portfolio_id=instant.pk, now=NOW, request=request)

    assert created and not created_again and first.pk == again.pk
    assert Order.objects.count() == 1


def test_resting_limit_fills_when_the_engine_sees_the_market_cross(user, instant, market_feed):
    best_ask = book("SOL-USD").asks[0][0]
    limit = best_ask - Decimal("0.50")
    order, _ = order_place(user=user, portfolio_id=instant.pk, now=NOW, request=OrderRequest(
        symbol="SOL-USD", side="buy", order_type="limit", quantity=Decimal("1"), limit_price=limit))
    assert order.status == OrderStatus.ACCEPTED

    engine = OrderEngine()
    engine.rebuild(now=NOW)
    assert engine.tick(now=NOW)["fired"] == 0
    from haunt.market import state

    quote = state.quote_read("SOL-USD")
    book_state = state.book_read("SOL-USD")
    moved = {**book_state, "asks": [[f"{limit - Decimal('0.10'):f}", "5"], *book_state["asks"]], "bids": [
        level for level in book_state["bids"] if Decimal(level[0]) < limit - Decimal("0.10")]}
    state.market_state_write(quotes=[{**quote, "ask": moved["asks"][0][0], "bid": moved["bids"][0][0]}],
                             books=[moved], status={"timestamp": NOW.isoformat()})

    assert engine.tick(now=NOW + timedelta(seconds=1))["fired"] == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.FILLED and order.average_fill_price == limit
    assert Trade.objects.get(order=order).liquidity == "maker"


def test_cancel_open_order(user, instant):
    order, _ = order_place(user=user, portfolio_id=instant.pk, now=NOW, request=OrderRequest(
        symbol="BTC-USD", side="buy", order_type="limit", quantity=Decimal("0.01"), limit_price=Decimal("1000.00")))
    cancelled = order_cancel(user=user, order_id=order.pk)
    assert cancelled.status == OrderStatus.CANCELLED
    assert LedgerEntry.objects.filter(portfolio=instant).count() == 1


def test_a_trade_quoted_in_yen_settles_in_dollars_at_the_market_rate(user, instant):
    """USD-JPY is quoted in yen: 1,000 units at ~155 JPY cost ~1,000 USD, not 155,000."""
    from haunt.market.selectors import conversion_rate

    rate = conversion_rate(from_currency="JPY", to_currency="USD")
    order, _ = order_place(user=user, portfolio_id=instant.pk, now=NOW, request=OrderRequest(
        symbol="USD-JPY", side="buy", order_type="market", quantity=Decimal("1000")))

    trades = list(Trade.objects.filter(order=order))
    yen = sum(trade.quantity * trade.price for trade in trades)
    instant.refresh_from_db()
    assert order.status == OrderStatus.FILLED
    assert instant.cash == ledger_sum(portfolio_id=instant.pk)
    assert instant.cash == Decimal(5_000_000) - (yen * rate).quantize(Decimal("0.00000001"))
    assert Decimal(4_998_900) < instant.cash < Decimal(4_999_100)  # about a thousand dollars spent


def test_a_euro_portfolio_pays_for_bitcoin_in_euros(user, market_feed):
    from haunt.market.selectors import conversion_rate
    from portfolios.valuation import portfolio_valuation

    euros = portfolio_create(user=user, name="Euro", base_currency="EUR", simulate_latency=False)
    start = euros.cash
    rate = conversion_rate(from_currency="USD", to_currency="EUR")
    order, _ = order_place(user=user, portfolio_id=euros.pk, now=NOW, request=OrderRequest(
        symbol="BTC-USD", side="buy", order_type="market", quantity=Decimal("1")))

    trades = list(Trade.objects.filter(order=order))
    dollars = sum(trade.quantity * trade.price for trade in trades)
    fees = sum(trade.fee for trade in trades)
    euros.refresh_from_db()
    assert euros.cash == start - (dollars * rate).quantize(Decimal("0.00000001")) \
        - sum((trade.fee * rate).quantize(Decimal("0.00000001")) for trade in trades)
    assert fees > 0
    valuation = portfolio_valuation(euros)
    assert abs(valuation.equity - start) < start * Decimal("0.01")  # equity stays ~ the same in euros


def test_reset_cancels_open_orders_and_wipes_positions_without_trading(user, instant, auth_client):
    order_place(user=user, portfolio_id=instant.pk, now=NOW, request=OrderRequest(
        symbol="ETH-USD", side="buy", order_type="market", quantity=Decimal("2")))
    resting, _ = order_place(user=user, portfolio_id=instant.pk, now=NOW, request=OrderRequest(
        symbol="BTC-USD", side="buy", order_type="limit", quantity=Decimal("0.01"), limit_price=Decimal("1000.00")))
    trades_before = Trade.objects.count()

    response = auth_client.post(f"/api/portfolio/{instant.pk}/reset")

    assert response.status_code == 200
    assert response.json()["current_balance"] == "5000000.00000000"
    assert response.json()["equity"] == "5000000.00000000"
    resting.refresh_from_db()
    assert resting.status == OrderStatus.CANCELLED and resting.reject_reason == "The portfolio was reset."
    position = Position.objects.get(portfolio=instant)
    assert position.status == "closed" and position.quantity == 0 and position.realized_pnl == 0
    assert Trade.objects.count() == trades_before
    instant.refresh_from_db()
    assert instant.cash == ledger_sum(portfolio_id=instant.pk)


def test_cancelling_one_oco_leg_cancels_the_other(user, instant):
    order_place(user=user, portfolio_id=instant.pk, now=NOW, request=OrderRequest(
        symbol="ETH-USD", side="buy", order_type="market", quantity=Decimal("1")))
    bid = book("ETH-USD").bids[0][0]
    legs, _ = oco_place(user=user, portfolio_id=instant.pk, side="sell", symbol="ETH-USD", quantity=Decimal("1"),
                        legs=ExitLegs(take_profit_price=bid + 500, stop_price=bid - 500), now=NOW)

    order_cancel(user=user, order_id=legs[0].pk)

    statuses = set(Order.objects.filter(group_id=legs[0].group_id).values_list("status", flat=True))
    assert statuses == {OrderStatus.CANCELLED}


def test_working_orders_keep_the_profile_they_were_placed_under(user, instant):
    resting, _ = order_place(user=user, portfolio_id=instant.pk, now=NOW, request=OrderRequest(
        symbol="BTC-USD", side="buy", order_type="limit", quantity=Decimal("0.01"), limit_price=Decimal("1000.00")))
    portfolio_update(user=user, portfolio_id=instant.pk, realism_profile="stress")

    resting.refresh_from_db()
    assert resting.realism_profile == "realistic"
    assert order_profile(resting).name == "realistic"


def test_closing_a_bracket_position_by_hand_retires_its_exits(user, instant):
    ask = book("ETH-USD").asks[0][0]
    legs, _ = bracket_place(user=user, portfolio_id=instant.pk, now=NOW, entry=OrderRequest(
        symbol="ETH-USD", side="buy", order_type="market", quantity=Decimal("1")),
        legs=ExitLegs(take_profit_price=ask + 500, stop_price=ask - 500))
    entry, take_profit, stop_loss = legs
    entry.refresh_from_db()
    assert entry.status == OrderStatus.FILLED
    assert {Order.objects.get(pk=leg.pk).status for leg in (take_profit, stop_loss)} == {
        OrderStatus.ACCEPTED, OrderStatus.PENDING_TRIGGER}

    position = Position.objects.get(portfolio=instant, status="open")
    position_close(user=user, position_id=position.pk)

    assert {Order.objects.get(pk=leg.pk).status for leg in (take_profit, stop_loss)} == {OrderStatus.CANCELLED}
    assert not Position.objects.filter(portfolio=instant, status="open").exists()
