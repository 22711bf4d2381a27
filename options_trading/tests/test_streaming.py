"""Option quotes on the market stream: a real WebSocket client subscribed to option contracts gets
their quotes on every update of the underlying, priced as the REST chain prices them at that
underlying price and moment, under the update's sequence number."""
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from haunt.asgi import application
from haunt.market.stream import market_hub

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

FEED_START = datetime(2026, 11, 24, 15, 0, 1, tzinfo=UTC)  # the market_feed fixture's first update


@pytest.fixture
def clock(monkeypatch):
    """The services' clock (django.utils.timezone.now), moved along with the feed's updates."""
    moment = {"now": FEED_START}
    monkeypatch.setattr("django.utils.timezone.now", lambda: moment["now"])
    return moment


@pytest.fixture
def client(user_and_token):
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {user_and_token[1].key}")
    return api


async def connect(token) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, f"/ws/?token={token.key}")
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def chain(client, underlying: str, expiry: str) -> dict[str, dict]:
    response = await sync_to_async(client.get)(f"/api/options/chains/{underlying}", {"expiry": expiry})
    assert response.status_code == 200, response.content
    return {row["symbol"]: row for row in response.json()["contracts"]}


async def step(feed, clock, seconds: int):
    """One feed update `seconds` after the first, published to the sockets; the clock follows it."""
    clock["now"] = FEED_START + timedelta(seconds=seconds)
    update = await sync_to_async(feed.update)(clock["now"])
    await feed.broadcast(update)
    return update


def near_the_money(rows: dict[str, dict], option_type: str) -> str:
    return min((row for row in rows.values() if row["option_type"] == option_type),
               key=lambda row: abs(float(row["delta"]) - (0.5 if option_type == "call" else -0.5)))["symbol"]


async def test_option_quotes_follow_every_update_of_their_underlying(user_and_token, market_feed, clock, client):
    aapl = await chain(client, "AAPL", "2026-12-18")
    btc = await chain(client, "BTC-USD", "2026-12-25")
    call, put, btc_call = near_the_money(aapl, "call"), near_the_money(aapl, "put"), near_the_money(btc, "call")
    communicator = await connect(user_and_token[1])
    await communicator.send_json_to({"type": "SubscribeQuotes", "symbols": [call, put, btc_call, "AAPL"]})
    acknowledged = await communicator.receive_json_from()
    snapshots = [await communicator.receive_json_from() for _ in range(4)]
    assert acknowledged["data"]["symbols"] == [call, put, btc_call, "AAPL"]
    assert {message["data"]["symbol"] for message in snapshots} == {call, put, btc_call, "AAPL"}
    assert all(message["seq"] is None for message in snapshots)

    sequences = []
    for seconds in (1, 2, 3):
        update = await step(market_feed, clock, seconds)
        pushed = {message["data"]["symbol"]: message
                  for message in [await communicator.receive_json_from(timeout=2) for _ in range(4)]}
        assert await communicator.receive_nothing(timeout=0.1)
        assert set(pushed) == {call, put, btc_call, "AAPL"}
        assert {message["type"] for message in pushed.values()} == {"Quote"}
        assert {message["seq"] for message in pushed.values()} == {update.sequence}
        sequences.append(update.sequence)
        # At this underlying price and moment, the REST chain quotes each contract exactly so.
        rest = {**await chain(client, "AAPL", "2026-12-18"), **await chain(client, "BTC-USD", "2026-12-25")}
        for symbol in (call, put, btc_call):
            quote = pushed[symbol]["data"]
            assert (quote["bid"], quote["ask"]) == (rest[symbol]["bid"], rest[symbol]["ask"])
            assert quote["timestamp"] == update.quotes[0]["timestamp"]
        aapl_update = next(quote for quote in update.quotes if quote["symbol"] == "AAPL")
        assert pushed["AAPL"]["data"] == aapl_update  # the feed's own quotes are untouched
    assert sequences == [sequences[0], sequences[0] + 1, sequences[0] + 2]

    await communicator.send_json_to({"type": "UnsubscribeQuotes", "symbols": [call, put, btc_call]})
    assert (await communicator.receive_json_from())["type"] == "Unsubscribed"
    assert market_hub().derived == {}  # nobody follows an option: no pricing on later updates
    await step(market_feed, clock, 4)
    assert (await communicator.receive_json_from(timeout=2))["data"]["symbol"] == "AAPL"
    assert await communicator.receive_nothing(timeout=0.1)
    await communicator.disconnect()


async def test_batched_option_quotes_share_the_updates_message(user_and_token, market_feed, clock, client):
    call = near_the_money(await chain(client, "AAPL", "2026-12-18"), "call")
    communicator = await connect(user_and_token[1])
    await communicator.send_json_to({"type": "SubscribeQuotes", "symbols": ["SPY", call], "batch": True})
    await communicator.receive_json_from()
    snapshot = await communicator.receive_json_from()
    assert snapshot["type"] == "Quotes" and [quote["symbol"] for quote in snapshot["data"]] == ["SPY", call]

    update = await step(market_feed, clock, 1)
    pushed = await communicator.receive_json_from(timeout=2)
    assert pushed["type"] == "Quotes" and pushed["seq"] == update.sequence
    assert [quote["symbol"] for quote in pushed["data"]] == ["SPY", call]
    rest = (await chain(client, "AAPL", "2026-12-18"))[call]
    assert (pushed["data"][1]["bid"], pushed["data"][1]["ask"]) == (rest["bid"], rest["ask"])
    assert await communicator.receive_nothing(timeout=0.1)  # one message for the whole update
    await communicator.disconnect()


@pytest.mark.parametrize("symbol, code", [
    ("AAPL  261218C00200100", "unknown_option"),  # no such strike
    ("AAPL  261120C00200000", "expiry_not_listed"),  # expired last week
    ("ZZZZ  261218C00200000", "unknown_option"),  # no such underlying
])
async def test_unlisted_contracts_are_refused_in_the_error_shape(user_and_token, market_feed, clock, symbol, code):
    communicator = await connect(user_and_token[1])
    await communicator.send_json_to({"type": "SubscribeQuotes", "symbols": ["AAPL", symbol]})
    reply = await communicator.receive_json_from()
    assert reply["type"] == "Error" and reply["error"]["code"] == code and reply["error"]["field"] == "symbols"
    assert market_hub().symbols_of(communicator, "quotes") == set()  # nothing of the request is subscribed
    await communicator.disconnect()


async def test_an_expired_contract_is_refused_and_stops_being_quoted(user_and_token, market_feed, clock, client):
    weekly = near_the_money(await chain(client, "AAPL", "2026-11-27"), "call")  # expires Friday 16:00 New York
    communicator = await connect(user_and_token[1])
    await communicator.send_json_to({"type": "SubscribeQuotes", "symbols": [weekly]})
    await communicator.receive_json_from()
    assert (await communicator.receive_json_from())["data"]["symbol"] == weekly

    after_expiry = datetime(2026, 11, 27, 21, 0, 1, tzinfo=UTC)
    clock["now"] = after_expiry
    await market_feed.broadcast(await sync_to_async(market_feed.update)(after_expiry))
    assert await communicator.receive_nothing(timeout=0.3)

    other = await connect(user_and_token[1])
    await other.send_json_to({"type": "SubscribeQuotes", "symbols": [weekly]})
    reply = await other.receive_json_from()
    assert reply["type"] == "Error" and reply["error"]["code"] == "option_expired"
    assert reply["error"]["field"] == "symbols"
    await other.disconnect()
    await communicator.disconnect()
