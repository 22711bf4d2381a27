"""Order alerts end to end: a real order's life reaches a real receiver on loopback as signed
webhooks, and its owner's socket as Alert messages."""
import json
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from config.asgi import application
from haunt.market import state
from notifications import signing
from notifications.models import Alert
from notifications.services import webhook_create, webhook_deliveries_due
from orders.models import Order, OrderRole, OrderStatus
from orders.services import OrderRequest, order_cancel, order_place, position_set_exits
from orders.services.engine_actions import order_expire, order_fire
from portfolios.models import Position
from portfolios.services import portfolio_create


@pytest.fixture
def instant(user, market_feed):
    return portfolio_create(user=user, name="Instant", simulate_latency=False)


def buy_btc(user, portfolio, quantity="0.1"):
    order, _ = order_place(user=user, portfolio_id=portfolio.pk, request=OrderRequest(
        symbol="BTC-USD", side="buy", order_type="market", quantity=Decimal(quantity)))
    return order


def market_rises_to(bid: Decimal) -> None:
    """BTC-USD's best bid moves up to `bid`, with depth behind it."""
    quote, book = state.quote_read("BTC-USD"), state.book_read("BTC-USD")
    bids = [[f"{bid:f}", "5"], *book["bids"]]
    asks = [[f"{bid + 1:f}", "5"], *[level for level in book["asks"] if Decimal(level[0]) > bid + 1]]
    state.market_state_write(quotes=[{**quote, "bid": bids[0][0], "ask": asks[0][0], "last": bids[0][0]}],
                             books=[{**book, "bids": bids, "asks": asks}], status={"timestamp": quote["timestamp"]})


def resting_limit(user, portfolio, **options):
    order, _ = order_place(user=user, portfolio_id=portfolio.pk, request=OrderRequest(
        symbol="BTC-USD", side="buy", order_type="limit", quantity=Decimal("0.01"), limit_price=Decimal("1000.00"),
        **options))
    return order


@pytest.mark.django_db
@pytest.mark.usefixtures("private_targets_allowed")
def test_a_real_orders_life_reaches_a_real_receiver(user, instant, receiver):
    endpoint = webhook_create(user=user, url=receiver.url)

    entry = buy_btc(user, instant)
    position = Position.objects.get(portfolio=instant, status="open")
    price = entry.average_fill_price
    position_set_exits(user=user, position_id=position.pk, stop_loss=(price * Decimal("0.9")).quantize(Decimal("1")),
                       take_profit=(price * Decimal("1.1")).quantize(Decimal("1")))
    stop = Order.objects.get(portfolio=instant, role=OrderRole.STOP_LOSS)
    order_fire(order_id=stop.pk, now=timezone.now())  # the engine saw the stop's level reached
    cancelled = resting_limit(user, instant)
    order_cancel(user=user, order_id=cancelled.pk)
    now = timezone.now()
    webhook_deliveries_due(now=now)

    stop.refresh_from_db()
    assert stop.status == OrderStatus.FILLED
    events = [json.loads(request.body) for request in receiver.received]
    assert [(event["type"], event["data"]["order"]["id"]) for event in events] == [
        ("order_filled", str(entry.pk)),
        # The stop triggering cancels the other leg of the exits' OCO pair before the stop fills.
        ("order_cancelled", str(Order.objects.get(portfolio=instant, role=OrderRole.TAKE_PROFIT).pk)),
        ("order_filled", str(stop.pk)),
        ("stop_loss_hit", str(stop.pk)),
        ("order_cancelled", str(cancelled.pk)),
    ]
    assert events[1]["data"]["order"]["status"] == "cancelled"
    assert [request.headers["Haunt-Sequence"] for request in receiver.received] == ["1", "2", "3", "4", "5"]
    for request in receiver.received:
        assert signing.verify(header=request.headers["Haunt-Signature"], body=request.body, secret=endpoint.secret,
                              now=int(now.timestamp()))
    assert Alert.objects.filter(owner=user).count() == 5


@pytest.mark.django_db
def test_take_profit_and_expiry_raise_their_alerts_once(user, instant):
    buy_btc(user, instant)
    position = Position.objects.get(portfolio=instant, status="open")
    target = (Order.objects.get(portfolio=instant).average_fill_price * Decimal("1.1")).quantize(Decimal("1"))
    position_set_exits(user=user, position_id=position.pk, stop_loss=None, take_profit=target)
    take_profit = Order.objects.get(portfolio=instant, role=OrderRole.TAKE_PROFIT)
    market_rises_to(target + 10)
    order_fire(order_id=take_profit.pk, now=timezone.now())
    order_fire(order_id=take_profit.pk, now=timezone.now())  # a second sighting changes nothing
    expiring = resting_limit(user, instant, time_in_force="gtd",
                             expires_at=timezone.now() + timezone.timedelta(hours=1))
    order_expire(order_id=expiring.pk, now=timezone.now() + timezone.timedelta(hours=2))

    take_profit.refresh_from_db()
    types = list(Alert.objects.filter(owner=user).order_by("created_at").values_list("alert_type", flat=True))
    assert take_profit.status == OrderStatus.FILLED
    assert types.count("take_profit_hit") == 1 and types.count("order_filled") == 2
    expired = Alert.objects.get(alert_type="order_cancelled")
    assert expired.payload["order"]["id"] == str(expiring.pk) and expired.payload["order"]["status"] == "expired"


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_an_alert_reaches_its_owners_socket_once_after_subscribing(user_and_token, other_user_and_token,
                                                                          instruments):
    from tests.test_trading_events import publish_market

    user, token = user_and_token
    portfolio = await database_sync_to_async(portfolio_create)(user=user, name="Instant", simulate_latency=False)
    publish_market(asks=[("100.00", "50")])
    mine = WebsocketCommunicator(application, f"/ws/?token={token.key}")
    theirs = WebsocketCommunicator(application, f"/ws/?token={other_user_and_token[1].key}")
    for communicator in (mine, theirs):
        assert (await communicator.connect())[0]
        await communicator.send_json_to({"type": "SubscribeAlerts"})
        assert await communicator.receive_json_from() == {"type": "Subscribed", "data": {"channel": "alerts"}}

    order, _ = await database_sync_to_async(order_place)(user=user, portfolio_id=portfolio.pk, request=OrderRequest(
        symbol="SOL-USD", side="buy", order_type="market", quantity=Decimal("2")))

    alert = await mine.receive_json_from(timeout=2)
    assert alert["type"] == "Alert" and alert["data"]["alert_type"] == "order_filled"
    assert alert["data"]["payload"]["order"]["id"] == str(order.pk) and alert["data"]["read"] is False
    assert await mine.receive_nothing(timeout=0.3)
    assert await theirs.receive_nothing(timeout=0.3)

    await mine.send_json_to({"type": "UnsubscribeAlerts"})
    assert (await mine.receive_json_from())["type"] == "Unsubscribed"
    await database_sync_to_async(order_place)(user=user, portfolio_id=portfolio.pk, request=OrderRequest(
        symbol="SOL-USD", side="buy", order_type="market", quantity=Decimal("1")))
    assert await mine.receive_nothing(timeout=0.3)
    await mine.disconnect()
    await theirs.disconnect()
