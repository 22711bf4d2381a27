"""Option quotes and books on the market stream: a real WebSocket client subscribed to option
contracts gets their quotes and five-level books on every update of the underlying, priced as the
REST chain prices them at that underlying price and moment, under the update's sequence number."""
from datetime import UTC, datetime, timedelta
from urllib.parse import quote as percent_encoded

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import application
from haunt.market.stream import market_hub
from tests.openapi_contract import ContractCheckedAPIClient

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
    api = ContractCheckedAPIClient()
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


SUBSCRIBE = [("SubscribeQuotes", "quotes"), ("SubscribeOrderBook", "orderbook")]


@pytest.mark.parametrize("command, channel", SUBSCRIBE)
@pytest.mark.parametrize("symbol, code", [
    ("AAPL  261218C00200100", "unknown_option"),  # no such strike
    ("AAPL  261120C00200000", "expiry_not_listed"),  # expired last week
    ("ZZZZ  261218C00200000", "unknown_option"),  # no such underlying
])
async def test_unlisted_contracts_are_refused_in_the_error_shape(user_and_token, market_feed, clock, symbol, code,
                                                                 command, channel):
    communicator = await connect(user_and_token[1])
    await communicator.send_json_to({"type": command, "symbols": ["AAPL", symbol]})
    reply = await communicator.receive_json_from(timeout=5)
    assert reply["type"] == "Error" and reply["error"]["code"] == code and reply["error"]["field"] == "symbols"
    assert market_hub().symbols_of(communicator, channel) == set()  # nothing of the request is subscribed
    assert market_hub().derived == {}
    await communicator.disconnect()


@pytest.mark.parametrize("command, channel", SUBSCRIBE)
async def test_an_expired_contract_is_refused_and_stops_streaming(user_and_token, market_feed, clock, client,
                                                                  command, channel):
    weekly = near_the_money(await chain(client, "AAPL", "2026-11-27"), "call")  # expires Friday 16:00 New York
    communicator = await connect(user_and_token[1])
    await communicator.send_json_to({"type": command, "symbols": [weekly]})
    await communicator.receive_json_from()
    assert (await communicator.receive_json_from())["data"]["symbol"] == weekly

    after_expiry = datetime(2026, 11, 27, 21, 0, 1, tzinfo=UTC)
    clock["now"] = after_expiry
    await market_feed.broadcast(await sync_to_async(market_feed.update)(after_expiry))
    assert await communicator.receive_nothing(timeout=0.3)

    other = await connect(user_and_token[1])
    await other.send_json_to({"type": command, "symbols": [weekly]})
    reply = await other.receive_json_from()
    assert reply["type"] == "Error" and reply["error"]["code"] == "option_expired"
    assert reply["error"]["field"] == "symbols"
    assert market_hub().symbols_of(other, channel) == set()
    await other.disconnect()
    await communicator.disconnect()


async def rest_book(client, symbol: str, depth: int) -> dict:
    response = await sync_to_async(client.get)(f"/api/market/orderbook/{percent_encoded(symbol)}", {"depth": depth})
    assert response.status_code == 200, response.content
    return response.json()


async def receive_books(communicator, count: int) -> dict[str, dict]:
    """The next `count` messages, all OrderBooks, by symbol; nothing else follows them."""
    messages = [await communicator.receive_json_from(timeout=2) for _ in range(count)]
    assert {message["type"] for message in messages} == {"OrderBook"}
    assert await communicator.receive_nothing(timeout=0.1)
    return {message["data"]["symbol"]: message for message in messages}


async def test_option_books_follow_every_update_of_their_underlying(user_and_token, market_feed, clock, client):
    aapl = await chain(client, "AAPL", "2026-12-18")
    btc = await chain(client, "BTC-USD", "2026-12-25")
    call, btc_put = near_the_money(aapl, "call"), near_the_money(btc, "put")
    shallow = await connect(user_and_token[1])
    deep = await connect(user_and_token[1])  # the default depth, 20: every one of the five levels
    await shallow.send_json_to({"type": "SubscribeOrderBook", "symbols": [call, btc_put, "AAPL"], "depth": 3})
    await deep.send_json_to({"type": "SubscribeOrderBook", "symbols": [call]})
    assert (await shallow.receive_json_from())["data"] == {
        "channel": "orderbook", "symbols": [call, btc_put, "AAPL"], "depth": 3}
    assert (await deep.receive_json_from())["data"]["depth"] == 20
    snapshots = await receive_books(shallow, 3)
    assert set(snapshots) == {call, btc_put, "AAPL"}
    assert {message["seq"] for message in snapshots.values()} == {None}
    assert all(len(message["data"]["asks"]) == 3 for message in snapshots.values())
    assert (await deep.receive_json_from())["seq"] is None

    sequences = []
    for seconds in (1, 2, 3):
        update = await step(market_feed, clock, seconds)
        pushed, pushed_deep = await receive_books(shallow, 3), await receive_books(deep, 1)
        assert set(pushed) == {call, btc_put, "AAPL"}
        assert {message["seq"] for message in [*pushed.values(), *pushed_deep.values()]} == {update.sequence}
        sequences.append(update.sequence)
        # The REST chain publishes the contracts' market at this underlying price and moment: the
        # REST order book then shows exactly the books the stream sent, at either depth.
        await chain(client, "AAPL", "2026-12-18")
        await chain(client, "BTC-USD", "2026-12-25")
        for symbol in (call, btc_put):
            book = pushed[symbol]["data"]
            assert book == await rest_book(client, symbol, depth=3)
            assert len(book["bids"]) == len(book["asks"]) == 3
            assert book["timestamp"] == update.quotes[0]["timestamp"]
        assert pushed_deep[call]["data"] == await rest_book(client, call, depth=20)
        assert len(pushed_deep[call]["data"]["asks"]) == 5
        aapl_book = next(book for book in update.books if book["symbol"] == "AAPL")
        assert pushed["AAPL"]["data"] == {**aapl_book, "bids": aapl_book["bids"][:3], "asks": aapl_book["asks"][:3]}
    assert sequences == [sequences[0], sequences[0] + 1, sequences[0] + 2]

    await deep.send_json_to({"type": "UnsubscribeOrderBook", "symbols": [call]})
    assert (await deep.receive_json_from())["type"] == "Unsubscribed"
    await shallow.send_json_to({"type": "UnsubscribeOrderBook", "symbols": [call, btc_put]})
    assert (await shallow.receive_json_from())["type"] == "Unsubscribed"
    assert market_hub().derived == {}  # nobody follows an option: no pricing on later updates
    await step(market_feed, clock, 4)
    assert set(await receive_books(shallow, 1)) == {"AAPL"}
    assert await deep.receive_nothing(timeout=0.1)
    await shallow.disconnect()
    await deep.disconnect()


async def test_a_contract_followed_for_quote_and_book_is_priced_once_per_update(user_and_token, market_feed, clock,
                                                                                client, monkeypatch):
    from options_trading import market, services

    priced: list[list[str]] = []  # the contracts of each pricing call, in order

    def counted(quote, contracts):
        priced.append([contract.instrument.symbol for contract in contracts])
        return market.option_market_at(quote, contracts)

    monkeypatch.setattr(services, "option_market_at", counted)  # the pricing function resolvers hand the hub
    call = near_the_money(await chain(client, "AAPL", "2026-12-18"), "call")
    communicator = await connect(user_and_token[1])
    await communicator.send_json_to({"type": "SubscribeQuotes", "symbols": [call]})
    await communicator.receive_json_from()
    await communicator.receive_json_from()
    await communicator.send_json_to({"type": "SubscribeOrderBook", "symbols": [call], "depth": 2})
    await communicator.receive_json_from()
    await communicator.receive_json_from()

    update = await step(market_feed, clock, 1)
    quote, book = await communicator.receive_json_from(timeout=2), await communicator.receive_json_from(timeout=2)
    assert (quote["type"], book["type"]) == ("Quote", "OrderBook")
    assert quote["seq"] == book["seq"] == update.sequence
    assert priced == [[call]]  # one pricing made both
    assert [quote["data"]["bid"], quote["data"]["bid_size"]] == book["data"]["bids"][0]
    assert [quote["data"]["ask"], quote["data"]["ask_size"]] == book["data"]["asks"][0]

    # Leaving the book keeps the quote streaming (still priced once); leaving both stops the pricing.
    await communicator.send_json_to({"type": "UnsubscribeOrderBook", "symbols": [call]})
    await communicator.receive_json_from()
    update = await step(market_feed, clock, 2)
    assert (await communicator.receive_json_from(timeout=2))["type"] == "Quote"
    assert await communicator.receive_nothing(timeout=0.1)
    assert priced == [[call], [call]]
    await communicator.send_json_to({"type": "UnsubscribeQuotes", "symbols": [call]})
    await communicator.receive_json_from()
    await step(market_feed, clock, 3)
    assert await communicator.receive_nothing(timeout=0.3)
    assert priced == [[call], [call]] and market_hub().derived == {}
    await communicator.disconnect()
