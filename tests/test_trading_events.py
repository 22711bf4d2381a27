"""What a subscriber sees when an order fills: the events, in order, each equal to the REST body.

Through the real ASGI application and channel layer (in-memory, or Redis in CI). The database must
be committed for the consumer's thread to see it, hence transaction=True; database work from the
test runs through database_sync_to_async, which closes its thread's connection afterwards.
"""
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.utils import timezone

from config.asgi import application
from haunt.market import state
from orders.services import OrderRequest, order_place
from portfolios.services import portfolio_create

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

SYMBOL = "SOL-USD"
ROOMS = {"OrderUpdate": "orders", "TradeExecution": "orders", "PositionUpdate": "positions",
         "PortfolioUpdate": "portfolio"}


def publish_market(*, asks: list[tuple[str, str]]) -> None:
    stamp = timezone.now().isoformat()
    quote = {"symbol": SYMBOL, "bid": "99.99", "ask": asks[0][0], "last": asks[0][0], "bid_size": "500",
             "ask_size": asks[0][1], "timestamp": stamp, "sources": ["test"], "is_open": True}
    book = {"symbol": SYMBOL, "bids": [["99.99", "500"]], "asks": [list(level) for level in asks],
            "timestamp": stamp, "sources": ["test"], "is_open": True}
    state.market_state_write(quotes=[quote], books=[book], status={"timestamp": stamp})


@pytest.fixture
def instant(user, instruments):
    """A portfolio whose marketable orders fill inside the call."""
    return portfolio_create(user=user, name="Instant", starting_balance=Decimal("100000"), simulate_latency=False)


async def subscribed(token_key: str, portfolio_id) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, f"/ws/?token={token_key}")
    connected, _ = await communicator.connect()
    assert connected
    for command in ("SubscribeOrders", "SubscribePositions", "SubscribePortfolio"):
        await communicator.send_json_to({"type": command, "portfolio_id": str(portfolio_id)})
        assert (await communicator.receive_json_from())["type"] == "Subscribed"
    assert (await communicator.receive_json_from())["type"] == "PortfolioUpdate"  # the subscription snapshot
    return communicator


async def drain(communicator: WebsocketCommunicator) -> list[dict]:
    """Every message until the socket goes quiet, in the order they arrived."""
    arrived = []
    while not await communicator.receive_nothing(timeout=0.5):
        arrived.append(await communicator.receive_json_from())
    return arrived


def by_room(messages: list[dict]) -> dict[str, list[dict]]:
    """The messages split by the room (stream) they belong to, each in arrival order."""
    rooms: dict[str, list[dict]] = {"orders": [], "positions": [], "portfolio": []}
    for message in messages:
        rooms[ROOMS[message["type"]]].append(message)
    return rooms


@database_sync_to_async
def get(client, path: str) -> dict:
    """The REST body at `path`."""
    response = client.get(path)
    assert response.status_code == 200, response.content
    return response.json()


place = database_sync_to_async(order_place)


def summary(messages: list[dict]) -> list[tuple[str, str | None]]:
    return [(message["type"], message.get("change")) for message in messages]


async def test_a_market_fill_streams_order_trade_position_and_portfolio_events(user_and_token, auth_client, instant):
    # given: a subscriber to the portfolio's three rooms, and 50 SOL offered at 100.00
    cache.clear()
    publish_market(asks=[("100.00", "50")])
    communicator = await subscribed(user_and_token[1].key, instant.pk)

    # when: a market buy of 2 SOL fills against the first level
    order, _ = await place(user=user_and_token[0], portfolio_id=instant.pk, request=OrderRequest(
        symbol=SYMBOL, side="buy", order_type="market", quantity=Decimal("2")))
    arrived = await drain(communicator)
    rooms = by_room(arrived)
    await communicator.disconnect()

    # then: created, one trade, filled; the position opened; the portfolio moved
    assert summary(rooms["orders"]) == [("OrderUpdate", "created"), ("TradeExecution", None),
                                        ("OrderUpdate", "filled")]
    assert summary(rooms["positions"]) == [("PositionUpdate", "opened")]
    assert summary(rooms["portfolio"]) == [("PortfolioUpdate", None)]

    created, trade, filled = (message["data"] for message in rooms["orders"])
    order_body = await get(auth_client, f"/api/orders/{order.pk}")
    history = order_body.pop("history")
    assert [entry["kind"] for entry in history] == ["created", "filled"]
    assert filled == order_body
    # the created event is the order as it was accepted: nothing filled yet
    assert created == {**order_body, "status": "accepted", "filled_quantity": "0.0000000000",
                       "remaining_quantity": "2.0000000000", "average_fill_price": None, "fees_paid": "0.00000000",
                       "filled_at": None, "updated_at": created["updated_at"]}
    trade_body = await get(auth_client, f"/api/trades/{trade['id']}")
    assert trade == trade_body and trade["order"] == str(order.pk) and trade["quantity"] == "2.0000000000"

    position = rooms["positions"][0]["data"]
    position_body = await get(auth_client, f"/api/positions/{position['id']}")
    # holding_seconds counts up with the clock between the event and the request
    assert abs(position.pop("holding_seconds") - position_body.pop("holding_seconds")) <= 1
    assert position == position_body and position["quantity"] == "2.0000000000" and position["side"] == "long"

    portfolio_body = await get(auth_client, f"/api/portfolio/{instant.pk}")
    assert rooms["portfolio"][0]["data"] == portfolio_body
    spent = Decimal(trade["quantity"]) * Decimal(trade["price"]) + Decimal(trade["fee"])
    assert Decimal(portfolio_body["current_balance"]) == Decimal("100000") - spent


async def test_a_fill_across_two_levels_streams_each_trade_before_the_order_completes(user_and_token, instant):
    # given: 1 SOL at 100.00 and more behind it at 100.05
    cache.clear()
    publish_market(asks=[("100.00", "1"), ("100.05", "50")])
    communicator = await subscribed(user_and_token[1].key, instant.pk)

    # when: a market buy of 3 SOL walks both levels
    await place(user=user_and_token[0], portfolio_id=instant.pk, request=OrderRequest(
        symbol=SYMBOL, side="buy", order_type="market", quantity=Decimal("3")))
    arrived = await drain(communicator)
    rooms = by_room(arrived)
    await communicator.disconnect()

    # then: each level's trade precedes the order update it caused; the position opens then grows
    assert summary(rooms["orders"]) == [("OrderUpdate", "created"), ("TradeExecution", None),
                                        ("OrderUpdate", "partial_fill"), ("TradeExecution", None),
                                        ("OrderUpdate", "filled")]
    assert [message["data"]["quantity"] for message in rooms["orders"] if message["type"] == "TradeExecution"] \
        == ["1.0000000000", "2.0000000000"]
    assert summary(rooms["positions"]) == [("PositionUpdate", "opened"), ("PositionUpdate", "increased")]
    assert [message["data"]["quantity"] for message in rooms["positions"]] == ["1.0000000000", "3.0000000000"]
    assert len(rooms["portfolio"]) == 2
    # and across the rooms, one sequence as orders.services commits it: each fill moves the
    # position, then the portfolio, then reports the trade and the order's progress
    fill = [("PositionUpdate", None), ("PortfolioUpdate", None), ("TradeExecution", None)]
    assert [(message["type"], None if message["type"] == "PositionUpdate" else message.get("change"))
            for message in arrived] == [("OrderUpdate", "created"), *fill, ("OrderUpdate", "partial_fill"),
                                        *fill, ("OrderUpdate", "filled")]


async def test_a_socket_receives_only_the_streams_it_follows(user_and_token, instant):
    cache.clear()
    publish_market(asks=[("100.00", "50")])
    communicator = WebsocketCommunicator(application, f"/ws/?token={user_and_token[1].key}")
    assert (await communicator.connect())[0]
    await communicator.send_json_to({"type": "SubscribeOrders", "portfolio_id": str(instant.pk)})
    assert (await communicator.receive_json_from())["type"] == "Subscribed"
    buy = OrderRequest(symbol=SYMBOL, side="buy", order_type="market", quantity=Decimal("1"))

    await place(user=user_and_token[0], portfolio_id=instant.pk, request=buy)
    only_orders = summary([await communicator.receive_json_from() for _ in range(3)])
    quiet_after_orders = await communicator.receive_nothing(timeout=0.5)

    await communicator.send_json_to({"type": "UnsubscribeOrders", "portfolio_id": str(instant.pk)})
    assert (await communicator.receive_json_from())["type"] == "Unsubscribed"
    await place(user=user_and_token[0], portfolio_id=instant.pk, request=buy)
    quiet_after_leaving = await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()

    assert only_orders == [("OrderUpdate", "created"), ("TradeExecution", None), ("OrderUpdate", "filled")]
    assert quiet_after_orders and quiet_after_leaving
