"""The market hub's fan-out: one socket's failure is that socket's alone."""
import logging

import pytest

from haunt.market.stream import BOOKS, QUOTES, MarketHub

pytestmark = pytest.mark.asyncio

SOCKETS = 500


class Socket:
    """A MarketSubscriber that keeps what it is sent; one that has vanished raises, as a send on a
    socket closed mid-update does."""

    book_depth = 5
    batch_quotes = False

    def __init__(self):
        self.received: list[str] = []
        self.vanished = False

    async def send_market_text(self, text: str) -> None:
        if self.vanished:
            raise RuntimeError("socket is closed")
        self.received.append(text)


def update(sequence: int) -> dict:
    return {"seq": sequence,
            "quotes": [{"symbol": "BTC-USD", "bid": "1", "ask": "2"}],
            "books": [{"symbol": "BTC-USD", "bids": [["1", "1"]], "asks": [["2", "1"]]}]}


class VanishingMidway(Socket):
    """Vanishes while the hub is sending it an update (after its first message of the update)."""

    async def send_market_text(self, text: str) -> None:
        await super().send_market_text(text)
        self.vanished = True


async def test_a_socket_that_vanishes_mid_fan_out_costs_no_other_socket_an_update(caplog):
    hub = MarketHub()
    sockets = [Socket() for _ in range(SOCKETS)]
    vanishing = VanishingMidway()
    sockets.insert(SOCKETS // 2, vanishing)
    for socket in sockets:
        hub.subscribe(socket, QUOTES, ["BTC-USD"])
        hub.subscribe(socket, BOOKS, ["BTC-USD"])

    with caplog.at_level(logging.WARNING, logger="haunt.market.stream"):
        for sequence in (1, 2, 3):
            await hub.deliver(update(sequence))

    survivors = [socket for socket in sockets if socket is not vanishing]
    assert all(len(socket.received) == 6 for socket in survivors)  # a quote and a book per update, no gap
    assert all(f'"seq":{sequence}' in socket.received[2 * sequence - 1] for socket in survivors for sequence in (1, 2, 3))
    assert len(vanishing.received) == 1
    assert hub.symbols_of(vanishing, QUOTES) == set() and hub.symbols_of(vanishing, BOOKS) == set()
    assert [record.levelname for record in caplog.records] == ["WARNING"]  # dropped once, without a traceback
    assert caplog.records[0].exc_info is None


async def test_a_vanished_batched_socket_is_dropped_too():
    hub = MarketHub()
    batched, other = Socket(), Socket()
    batched.batch_quotes = True
    batched.vanished = True
    for socket in (batched, other):
        hub.subscribe(socket, QUOTES, ["BTC-USD"])

    await hub.deliver(update(1))

    assert len(other.received) == 1
    assert hub.symbols_of(batched, QUOTES) == set()
