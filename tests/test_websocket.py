"""The /ws/ stream through the real ASGI application and channel layer (in-memory, or Redis in CI)."""
from datetime import timedelta
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import application

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def connect(token_key: str | None) -> tuple[WebsocketCommunicator, bool]:
    path = "/ws/" if token_key is None else f"/ws/?token={token_key}"
    communicator = WebsocketCommunicator(application, path)
    connected, _ = await communicator.connect()
    return communicator, connected


async def test_socket_without_token_is_refused():
    communicator, connected = await connect(None)
    assert connected is False


async def test_socket_with_a_wrong_token_is_refused(user_and_token):
    communicator, connected = await connect("0" * 40)
    assert connected is False


async def connect_with_ticket(ticket: str) -> tuple[WebsocketCommunicator, bool]:
    communicator = WebsocketCommunicator(application, f"/ws/?ticket={ticket}")
    connected, _ = await communicator.connect()
    return communicator, connected


async def test_a_ticket_opens_one_socket(user_and_token):
    from haunt.accounts.websocket_tickets import ws_ticket_issue

    ticket = ws_ticket_issue(user_id=user_and_token[0].pk)

    first, opened = await connect_with_ticket(ticket)
    await first.send_json_to({"type": "Ping", "echo": 1})
    assert opened and await first.receive_json_from() == {"type": "Pong", "data": {"echo": 1}}
    _, reopened = await connect_with_ticket(ticket)
    assert reopened is False  # spent
    await first.disconnect()


async def test_an_expired_or_unknown_ticket_is_refused(user_and_token, monkeypatch):
    import time

    from haunt.accounts.websocket_tickets import WS_TICKET_SECONDS, ws_ticket_issue

    ticket = ws_ticket_issue(user_id=user_and_token[0].pk)
    issued_at = time.time()
    monkeypatch.setattr(time, "time", lambda: issued_at + WS_TICKET_SECONDS + 1)

    assert (await connect_with_ticket(ticket))[1] is False
    assert (await connect_with_ticket("not-a-ticket"))[1] is False


async def test_quotes_arrive_after_subscribing(user_and_token, market_feed):
    communicator, connected = await connect(user_and_token[1].key)
    assert connected

    await communicator.send_json_to({"type": "SubscribeQuotes", "symbols": ["BTC-USD", "AAPL"]})
    acknowledged = await communicator.receive_json_from()
    snapshots = [await communicator.receive_json_from(), await communicator.receive_json_from()]

    assert acknowledged == {"type": "Subscribed",
                            "data": {"channel": "quotes", "symbols": ["BTC-USD", "AAPL"], "batch": False}}
    assert {snapshot["data"]["symbol"] for snapshot in snapshots} == {"BTC-USD", "AAPL"}

    update = await sync_to_async(market_feed.update)(market_feed_time(market_feed) + timedelta(seconds=1))
    await market_feed.broadcast(update)
    pushed = [await communicator.receive_json_from(timeout=2) for _ in range(2)]

    assert {message["type"] for message in pushed} == {"Quote"}
    assert {message["data"]["symbol"] for message in pushed} == {"BTC-USD", "AAPL"}
    assert all(message["seq"] == update.sequence for message in pushed)
    rest = next(quote for quote in update.quotes if quote["symbol"] == "BTC-USD")
    assert next(message["data"] for message in pushed if message["data"]["symbol"] == "BTC-USD") == rest
    assert await communicator.receive_nothing(timeout=0.2)  # no other symbol leaks in
    await communicator.disconnect()


async def test_batched_quotes_arrive_as_one_message_per_update(user_and_token, market_feed):
    communicator, _ = await connect(user_and_token[1].key)
    await communicator.send_json_to({"type": "SubscribeQuotes", "symbols": ["BTC-USD", "ETH-USD"], "batch": True})
    acknowledged = await communicator.receive_json_from()
    snapshot = await communicator.receive_json_from()
    assert acknowledged["data"] == {"channel": "quotes", "symbols": ["BTC-USD", "ETH-USD"], "batch": True}
    assert snapshot["type"] == "Quotes" and snapshot["seq"] is None
    assert [quote["symbol"] for quote in snapshot["data"]] == ["BTC-USD", "ETH-USD"]

    update = await sync_to_async(market_feed.update)(market_feed_time(market_feed) + timedelta(seconds=1))
    await market_feed.broadcast(update)
    pushed = await communicator.receive_json_from(timeout=2)

    assert pushed["type"] == "Quotes" and pushed["seq"] == update.sequence
    published = {quote["symbol"]: quote for quote in update.quotes}
    assert {quote["symbol"] for quote in pushed["data"]} == {"BTC-USD", "ETH-USD"}
    assert all(quote == published[quote["symbol"]] for quote in pushed["data"])
    assert await communicator.receive_nothing(timeout=0.2)  # one message for the whole update
    await communicator.send_json_to({"type": "SubscribeQuotes", "symbols": ["SOL-USD"], "batch": "yes"})
    assert (await communicator.receive_json_from())["error"]["field"] == "batch"
    await communicator.disconnect()


def market_feed_time(feed):
    return feed.sources[0].simulator.time


async def test_order_book_subscription_is_cut_to_the_requested_depth(user_and_token, market_feed):
    communicator, _ = await connect(user_and_token[1].key)

    await communicator.send_json_to({"type": "SubscribeOrderBook", "symbols": ["ETH-USD"], "depth": 5})
    acknowledged = await communicator.receive_json_from()
    snapshot = await communicator.receive_json_from()

    assert acknowledged["data"] == {"channel": "orderbook", "symbols": ["ETH-USD"], "depth": 5}
    assert snapshot["type"] == "OrderBook"
    assert len(snapshot["data"]["bids"]) == 5 and len(snapshot["data"]["asks"]) == 5
    assert Decimal(snapshot["data"]["bids"][0][0]) < Decimal(snapshot["data"]["asks"][0][0])
    await communicator.disconnect()


async def test_portfolio_updates_reach_the_owner(user_and_token, portfolio):
    from portfolios.services import portfolio_topup

    communicator, _ = await connect(user_and_token[1].key)
    await communicator.send_json_to({"type": "SubscribePortfolio", "portfolio_id": str(portfolio.pk)})
    acknowledged = await communicator.receive_json_from()
    snapshot = await communicator.receive_json_from()

    await database_sync_to_async(portfolio_topup)(user=user_and_token[0], portfolio_id=portfolio.pk, amount=Decimal("10"))
    update = await communicator.receive_json_from(timeout=2)

    assert acknowledged == {"type": "Subscribed", "data": {"channel": "portfolio", "portfolio_id": str(portfolio.pk)}}
    assert snapshot["type"] == "PortfolioUpdate" and snapshot["data"]["current_balance"] == "5000000.00000000"
    assert update["type"] == "PortfolioUpdate" and update["data"]["current_balance"] == "5000010.00000000"
    await communicator.disconnect()


async def test_another_users_portfolio_is_refused(other_user_and_token, portfolio):
    communicator, _ = await connect(other_user_and_token[1].key)

    for message_type in ("SubscribePortfolio", "SubscribeOrders", "SubscribePositions"):
        await communicator.send_json_to({"type": message_type, "portfolio_id": str(portfolio.pk)})
        refusal = await communicator.receive_json_from()
        assert refusal == {"type": "Error", "error": {"code": "not_found", "message": "Portfolio not found.",
                                                      "field": "portfolio_id"}}
    await communicator.disconnect()


@pytest.mark.parametrize("message, code, field", [
    ({"type": "Subscribe"}, "unknown_message_type", "type"),
    ({"symbols": ["BTC-USD"]}, "invalid_message", "type"),
    (["SubscribeQuotes"], "invalid_message", "type"),
    ({"type": "SubscribeQuotes", "symbols": "BTC-USD"}, "invalid", "symbols"),
    ({"type": "SubscribeQuotes", "symbols": ["NOPE-USD"]}, "unknown_symbol", "symbols"),
    ({"type": "SubscribeOrderBook", "symbols": ["BTC-USD"], "depth": 0}, "invalid", "depth"),
    ({"type": "SubscribePortfolio", "portfolio_id": "not-an-id"}, "not_found", "portfolio_id"),
    ({"type": "UnsubscribePortfolio", "portfolio_id": "x"}, "invalid", "portfolio_id"),
])
async def test_bad_messages_get_an_error_in_the_rest_shape(user_and_token, instruments, message, code, field):
    communicator, _ = await connect(user_and_token[1].key)

    await communicator.send_json_to(message)
    reply = await communicator.receive_json_from()

    assert reply["type"] == "Error"
    assert reply["error"]["code"] == code and reply["error"]["field"] == field
    await communicator.disconnect()


async def test_invalid_json_gets_an_error_and_the_socket_stays_open(user_and_token):
    communicator, _ = await connect(user_and_token[1].key)

    await communicator.send_to(text_data="{oops")
    reply = await communicator.receive_json_from()
    await communicator.send_json_to({"type": "Ping", "echo": 7})
    pong = await communicator.receive_json_from()

    assert reply["error"]["code"] == "invalid_json"
    assert pong == {"type": "Pong", "data": {"echo": 7}}
    await communicator.disconnect()


async def test_json_nested_too_deep_gets_an_error_and_the_socket_stays_open(user_and_token):
    communicator, _ = await connect(user_and_token[1].key)

    await communicator.send_to(text_data='{"type": "Ping", "echo": ' + "[" * 5000 + "]" * 5000 + "}")
    reply = await communicator.receive_json_from()
    await communicator.send_json_to({"type": "Ping", "echo": 7})
    pong = await communicator.receive_json_from()

    assert reply["error"]["code"] == "invalid_json"
    assert pong == {"type": "Pong", "data": {"echo": 7}}
    await communicator.disconnect()


async def test_unsubscribed_symbols_stop_arriving(user_and_token, market_feed):
    communicator, _ = await connect(user_and_token[1].key)
    await communicator.send_json_to({"type": "SubscribeQuotes", "symbols": ["SOL-USD"]})
    await communicator.receive_json_from()
    await communicator.receive_json_from()
    await communicator.send_json_to({"type": "UnsubscribeQuotes", "symbols": ["SOL-USD"]})
    assert (await communicator.receive_json_from())["type"] == "Unsubscribed"

    update = await sync_to_async(market_feed.update)(market_feed_time(market_feed) + timedelta(seconds=1))
    await market_feed.broadcast(update)

    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


async def test_repeated_symbols_count_once_and_leaving_is_always_allowed(user_and_token, instruments):
    communicator, _ = await connect(user_and_token[1].key)

    await communicator.send_json_to({"type": "SubscribeQuotes", "symbols": ["BTC-USD"] * 250})
    subscribed = await communicator.receive_json_from()
    await communicator.send_json_to({"type": "UnsubscribeQuotes", "symbols": ["BTC-USD"] * 250})
    left = await communicator.receive_json_from()

    assert subscribed == {"type": "Subscribed", "data": {"channel": "quotes", "symbols": ["BTC-USD"], "batch": False}}
    assert left == {"type": "Unsubscribed", "data": {"channel": "quotes", "symbols": ["BTC-USD"]}}
    await communicator.disconnect()
