"""WebSocket delivery on the production profile (issue 3; reference targets: quotes p99 <= 50 ms with no
gaps, fills p99 <= 10 ms).

Boots the real platform (PostgreSQL + Redis, REST on granian, Daphne x --servers, run_market, run_engine; see
benchmarks/platform_harness.py) and makes --users users with one portfolio each (realistic profile,
simulate_latency false, so a market order fills inside its HTTP response). Then:

(a) quote fan-out: --sockets WebSocket clients (the websockets library, asyncio; spread over the
    users' tokens and the Daphne processes) each send SubscribeQuotes for --symbols and listen for
    --seconds (with --batch, in batched mode: one Quotes message per update). For every live quote
    (seq not null) the delivery latency is the receive time minus the quote's own `timestamp` (the
    instant the feed stepped the market); a gap is a jump of more
    than one in a socket's `seq` for a symbol (the feed stamps every update of every symbol with the
    same increasing seq, so any jump is a lost message). Beside it, the same latency taken when the
    message's bytes reached the client process, before the one client works through its sockets'
    messages: if the two are close, the delay is the platform's, not the load generator's.
(b) fill-to-owner: each user connects one socket and sends SubscribeOrders for its portfolio; an
    open-loop HTTP generator places --fill-rate market orders a second in total (round robin over
    the portfolios, each alternating buy and sell of a small crypto quantity) for --seconds. For each
    order the time from its HTTP response to the OrderUpdate with change "filled" on its owner's
    socket is measured (the push is sent when the transaction commits, before the response is
    written, so it may arrive first: that shows as a negative time and is counted).

Ends with the ledger check (cash == sum of ledger amounts for every portfolio, in SQL) and the
flagged lines of every process log.

    .venv/bin/python benchmarks/websocket_fanout.py [--part a|b|both] [--sockets 500] [--batch] [--seconds 30] \
        [--fill-rate 200] [--servers 2] [--pin split|none]
"""
from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import json
import os
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import DATA_OPCODES, Frame

sys.path.insert(0, str(Path(__file__).resolve().parent))

from platform_harness import (  # noqa: E402  (the path is set up above)
    add_platform_arguments,
    create_accounts,
    finish_run,
    percentile,
    pin_self_to,
    production_platform,
    platform_options,
    summary_ms,
)

QUANTITIES = {"BTC-USD": "0.001", "ETH-USD": "0.01", "SOL-USD": "0.1", "XRP-USD": "10", "BNB-USD": "0.01",
              "LTC-USD": "0.1"}
CONNECT_AT_ONCE = 50


class ArrivalStampedConnection(ClientConnection):
    """A client connection that notes when each message's last bytes reached this process
    (`arrivals`, one time.time() per message, oldest first), before the client's own work on it:
    500 sockets' messages land together, and the client handles them one after another."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.arrivals: deque[float] = deque()
        self._chunk_arrived = 0.0

    def data_received(self, data: bytes) -> None:
        self._chunk_arrived = time.time()
        super().data_received(data)

    def process_event(self, event) -> None:
        if isinstance(event, Frame) and event.opcode in DATA_OPCODES and event.fin:
            self.arrivals.append(self._chunk_arrived)
        super().process_event(event)


async def receive(socket) -> tuple[str, float]:
    """The next message and when its bytes arrived."""
    raw = await socket.recv()
    return raw, socket.arrivals.popleft()


async def open_sockets(urls: list[str], count: int, *, compression: bool) -> list:
    """`count` connected sockets, at most CONNECT_AT_ONCE handshakes in flight."""
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)

    async def one(url):
        async with gate:
            return await connect(url, open_timeout=60, max_queue=4096, ping_interval=None,
                                 compression="deflate" if compression else None,
                                 create_connection=ArrivalStampedConnection)

    return await asyncio.gather(*(one(urls[index % len(urls)]) for index in range(count)))


async def expect(socket, message_type: str, *, within: float = 30) -> dict:
    deadline = time.monotonic() + within
    while True:
        raw, _ = await asyncio.wait_for(receive(socket), timeout=max(0.1, deadline - time.monotonic()))
        message = json.loads(raw)
        if message["type"] == message_type:
            return message
        if message["type"] == "Error":
            raise RuntimeError(f"server refused: {message}")


# --- (a) quote fan-out ---------------------------------------------------------------------------


@dataclass
class QuoteTally:
    latencies: list[float] = field(default_factory=list)
    arrival_latencies: list[float] = field(default_factory=list)  # bytes at the client process - timestamp
    received: int = 0
    gaps: int = 0
    sockets_with_gaps: set = field(default_factory=set)
    repeats: int = 0  # a seq seen again or going backwards
    seqs: set = field(default_factory=set)
    first_by_seq: dict = field(default_factory=dict)  # seq -> the earliest socket's latency for that update
    closed: Counter = field(default_factory=Counter)  # sockets the server closed, by close code and reason


def close_reason(error: ConnectionClosed) -> str:
    received = error.rcvd
    return f"{received.code} {received.reason!r}" if received else "closed without a close frame"


async def quote_fanout(platform, accounts, arguments) -> None:
    symbols = arguments.symbols.split(",")
    urls = [f"{platform.ws_urls[index % len(platform.ws_urls)]}?token={accounts[index % len(accounts)].token}"
            for index in range(arguments.sockets)]
    started = time.perf_counter()
    sockets = await open_sockets(urls, arguments.sockets, compression=arguments.compression)
    connected = time.perf_counter() - started
    extensions = Counter(",".join(ext.name for ext in socket.protocol.extensions) or "none" for socket in sockets)
    for socket in sockets:
        await socket.send(json.dumps({"type": "SubscribeQuotes", "symbols": symbols, "batch": arguments.batch}))
    await asyncio.gather(*(expect(socket, "Subscribed") for socket in sockets))
    print(f"(a) {len(sockets)} sockets connected in {connected:.1f} s and subscribed to {symbols} "
          f"over {len(platform.base_urls)} server(s); negotiated extensions {dict(extensions)}")
    tally = QuoteTally()
    # The 500 connections live to the end: keep the client's full collections from rescanning them
    # (a 100 ms pause here would show as the platform's delay on every socket at once).
    gc.collect()
    gc.freeze()
    settle_until = time.time() + arguments.warmup
    stop_at = settle_until + arguments.seconds
    # Every socket gets the same timestamps: each is parsed once, so 500 sockets cost the client
    # little more than one in this step, and the figure is the platform's delay, not the client's.
    published_at = functools.lru_cache(maxsize=1024)(lambda stamp: datetime.fromisoformat(stamp).timestamp())

    async def listen(number: int, socket):
        last_seq: dict[str, int] = {}
        while True:
            remaining = stop_at - time.time()
            if remaining <= 0:
                return
            try:
                raw, bytes_arrived = await asyncio.wait_for(receive(socket), timeout=remaining)
            except TimeoutError:
                return
            except ConnectionClosed as error:
                tally.closed[close_reason(error)] += 1
                return
            arrived = time.time()
            message = orjson.loads(raw)
            if message["type"] not in ("Quote", "Quotes") or message["seq"] is None:
                continue
            seq = message["seq"]
            for data in message["data"] if message["type"] == "Quotes" else [message["data"]]:
                previous = last_seq.get(data["symbol"])
                last_seq[data["symbol"]] = seq
                if arrived < settle_until:
                    continue
                tally.received += 1
                tally.seqs.add(seq)
                latency = arrived - published_at(data["timestamp"])
                tally.latencies.append(latency)
                tally.arrival_latencies.append(bytes_arrived - published_at(data["timestamp"]))
                if latency < tally.first_by_seq.get(seq, float("inf")):
                    tally.first_by_seq[seq] = latency
                if previous is not None:
                    if seq > previous + 1:
                        tally.gaps += seq - previous - 1
                        tally.sockets_with_gaps.add(number)
                    elif seq <= previous:
                        tally.repeats += 1

    meter = platform.cpu_meter(extra={"websocket clients": [os.getpid()]})
    meter.start()
    await asyncio.gather(*(listen(number, socket) for number, socket in enumerate(sockets)))
    meter.stop()
    await asyncio.gather(*(socket.close() for socket in sockets), return_exceptions=True)
    updates = len(tally.seqs)
    expected = updates * len(symbols) * len(sockets)
    print(f"\n== (a) quote fan-out: {arguments.sockets} sockets x {len(symbols)} symbols, {arguments.seconds:.0f} s "
          f"measured after {arguments.warmup:.0f} s warm-up; "
          f"{'one Quotes message per update per socket (batch)' if arguments.batch else 'one Quote message per symbol'}")
    print(f"feed updates seen: {updates} ({updates / arguments.seconds:.2f}/s; the feed is set to "
          f"{1 / float(platform.env.get('MARKET_INTERVAL', '0.25')):.0f}/s)")
    print(f"Quote messages received: {tally.received} ({tally.received / arguments.seconds:.0f}/s); "
          f"expected for the updates seen: {expected}")
    print(f"delivery latency (receive time - Quote timestamp): {summary_ms(tally.latencies)}")
    print(f"  of which the first socket of each update (feed step, Redis, hub; no fan-out): "
          f"{summary_ms(list(tally.first_by_seq.values()))}")
    print(f"  bytes at the client process (before this one client works through its 500 sockets' "
          f"messages): {summary_ms(tally.arrival_latencies)}")
    print(f"gaps: {tally.gaps} missing seq on {len(tally.sockets_with_gaps)} socket(s); repeated or backwards seq: "
          f"{tally.repeats}")
    print(f"sockets closed by the server during the run: {sum(tally.closed.values())} {dict(tally.closed)}")
    print(meter.report())


# --- (b) fill-to-owner ---------------------------------------------------------------------------


async def fill_latency(platform, accounts, arguments) -> None:
    symbols = list(QUANTITIES)
    sockets = await open_sockets([f"{platform.ws_urls[index % len(platform.ws_urls)]}?token={account.token}"
                                  for index, account in enumerate(accounts)], len(accounts),
                                 compression=arguments.compression)
    for socket, account in zip(sockets, accounts, strict=True):
        await socket.send(json.dumps({"type": "SubscribeOrders", "portfolio_id": account.portfolio_id}))
    await asyncio.gather(*(expect(socket, "Subscribed") for socket in sockets))
    print(f"\n(b) {len(sockets)} owners connected and subscribed to their orders rooms")

    filled_at: dict[str, float] = {}
    responded: dict[str, tuple[float, float]] = {}  # order id -> (request sent, response received)
    statuses, errors = Counter(), Counter()
    listening = True
    closed = Counter()

    async def listen(socket):
        while listening:
            try:
                raw, _ = await asyncio.wait_for(receive(socket), timeout=0.5)
            except TimeoutError:
                continue
            except ConnectionClosed as error:
                closed[close_reason(error)] += 1
                return
            arrived = time.perf_counter()
            message = json.loads(raw)
            if message["type"] == "OrderUpdate" and message.get("change") == "filled":
                filled_at.setdefault(message["data"]["id"], arrived)

    listeners = [asyncio.create_task(listen(socket)) for socket in sockets]
    sides = {account.portfolio_id: "buy" for account in accounts}
    clients = [httpx.AsyncClient(base_url=url, timeout=30, limits=httpx.Limits(
        max_connections=arguments.max_in_flight, max_keepalive_connections=arguments.max_in_flight))
        for url in platform.base_urls]
    gate = asyncio.Semaphore(arguments.max_in_flight)
    total = int(arguments.fill_rate * arguments.seconds)
    lags = []

    async def place(number: int, due: float):
        account = accounts[number % len(accounts)]
        symbol = symbols[(number % len(accounts)) % len(symbols)]
        side = sides[account.portfolio_id]
        sides[account.portfolio_id] = "sell" if side == "buy" else "buy"
        async with gate:
            sent = time.perf_counter()
            lags.append(sent - due)
            try:
                response = await clients[number % len(clients)].post("/api/orders", headers=account.headers, json={
                    "portfolio": account.portfolio_id, "symbol": symbol, "side": side, "order_type": "market",
                    "quantity": QUANTITIES[symbol]})
            except httpx.HTTPError as error:
                statuses["failed"] += 1
                errors[f"{type(error).__name__}: {error}"] += 1
                return
            received = time.perf_counter()
        statuses[response.status_code] += 1
        if response.status_code != 201:
            errors[f"{response.status_code}: {response.text[:300]}"] += 1
            return
        body = response.json()
        if body["status"] == "filled":
            responded[body["id"]] = (sent, received)
        else:
            statuses[f"201 {body['status']}"] += 1

    meter = platform.cpu_meter(extra={"client (HTTP + sockets)": [os.getpid()]})
    meter.start()
    began = time.perf_counter()
    tasks = []
    for number in range(total):
        due = began + number / arguments.fill_rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(place(number, due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - began
    meter.stop()
    grace_until = time.perf_counter() + arguments.grace
    while time.perf_counter() < grace_until and not set(responded) <= set(filled_at):
        await asyncio.sleep(0.1)
    listening = False
    await asyncio.gather(*listeners)
    await asyncio.gather(*(client.aclose() for client in clients))
    await asyncio.gather(*(socket.close() for socket in sockets), return_exceptions=True)

    after_response = [filled_at[order] - received for order, (_, received) in responded.items() if order in filled_at]
    after_request = [filled_at[order] - sent for order, (sent, _) in responded.items() if order in filled_at]
    missing = [order for order in responded if order not in filled_at]
    print(f"\n== (b) fill-to-owner: {total} market orders offered at {arguments.fill_rate:.0f}/s over "
          f"{arguments.seconds:.0f} s, at most {arguments.max_in_flight} in flight")
    print(f"achieved: {len(responded)} filled in the response over {elapsed:.1f} s = {len(responded) / elapsed:.1f} fills/s; "
          f"send lag behind the open-loop schedule p50 {percentile(lags, 0.5) * 1000:.0f} ms, "
          f"max {max(lags) * 1000:.0f} ms")
    print(f"HTTP statuses: {dict(statuses)}")
    for error, count in errors.most_common(5):
        print(f"  x{count}: {error}")
    print(f"OrderUpdate(filled) after the HTTP response: {summary_ms(after_response)}")
    print(f"  arrived before the HTTP response (negative times): {sum(1 for value in after_response if value < 0)} of "
          f"{len(after_response)}; clipped at 0: p99 {percentile([max(0, v) for v in after_response], 0.99) * 1000:.2f} ms")
    print(f"OrderUpdate(filled) after the HTTP request was sent (end to end): {summary_ms(after_request)}")
    print(f"fills never pushed to the owner within {arguments.grace:.0f} s: {len(missing)}; owner sockets closed by "
          f"the server: {sum(closed.values())} {dict(closed)}")
    print(meter.report())
    print(meter.per_request(max(1, len(responded))))


async def run(platform, accounts, arguments) -> None:
    if arguments.part in ("a", "both"):
        await quote_fanout(platform, accounts, arguments)
    if arguments.part in ("b", "both"):
        await fill_latency(platform, accounts, arguments)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("a", "b", "both"), default="both")
    parser.add_argument("--sockets", type=int, default=500, help="(a) quote sockets")
    parser.add_argument("--symbols", default="BTC-USD,ETH-USD,SOL-USD", help="(a) symbols every socket subscribes to")
    parser.add_argument("--batch", action="store_true",
                        help="(a) subscribe with batch: one Quotes message per update per socket")
    parser.add_argument("--users", type=int, default=100, help="users (one portfolio and, in (b), one socket each)")
    parser.add_argument("--seconds", type=float, default=30, help="measured seconds of each part")
    parser.add_argument("--warmup", type=float, default=3, help="(a) seconds of quotes received but not counted")
    parser.add_argument("--fill-rate", type=float, default=200, help="(b) market orders a second, in total")
    parser.add_argument("--max-in-flight", type=int, default=64, help="(b) most HTTP requests outstanding at once")
    parser.add_argument("--grace", type=float, default=5, help="(b) seconds to wait for the last pushes")
    parser.add_argument("--no-compression", dest="compression", action="store_false",
                        help="do not offer permessage-deflate (browsers offer it; the default does too)")
    add_platform_arguments(parser)
    arguments = parser.parse_args()
    pinning = pin_self_to({1}) if arguments.pin == "split" else "clients not pinned (share both cores)"
    print(f"websocket_fanout: {os.cpu_count()} cores; {pinning}")
    print("execution profile: realistic, simulate_latency false (market orders fill in the response)")

    with production_platform(**platform_options(arguments)) as platform:
        accounts = create_accounts(platform, arguments.users)
        platform.mark_logs()
        asyncio.run(run(platform, accounts, arguments))
        finish_run(platform)


if __name__ == "__main__":
    main()
