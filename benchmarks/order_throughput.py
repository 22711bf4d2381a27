"""Sustained market orders a second through POST /api/orders on the production profile (issue 3;
reference target: >= 1,000 orders/s with p95 <= 50 ms and p99 <= 100 ms).

Boots the real platform (PostgreSQL + Redis, REST on granian's WSGI tier, Daphne x --servers,
run_market, run_engine; see benchmarks/platform_harness.py), makes 100 users with one portfolio each (realistic profile with
simulate_latency switched off, so a market order fills inside its HTTP response), then:

1. orders: C concurrent asyncio aiohttp clients (default 64) place small crypto market orders for
   --seconds, each portfolio alternating buy and sell so buying power never runs out. A client owns
   its portfolios, so no two requests wait on the same portfolio lock (unless C > portfolios).
2. ceiling: the same clients write journal notes on their portfolios (POST /api/journal) for
   --ceiling-seconds: the API's bare one-row insert (token auth, validation, lock the portfolio,
   insert one row), the ceiling of the stack (HTTP server + Django + DRF + PostgreSQL) that an order
   is measured against.
3. top-up: POST /api/portfolio/{id}/topup for --ceiling-seconds, the smallest write that moves money
   (lock, one ledger row, update the portfolio, an equity snapshot, a PortfolioUpdate on commit).

Then checks, for every portfolio, cash == sum(ledger amounts) in SQL (a run with a broken ledger does
not count) and prints the flagged lines of every process log.

    .venv/bin/python benchmarks/order_throughput.py [--seconds 60] [--concurrency 64] [--servers 2] \
        [--pin split|none] [--keep-logs DIR]

--pin split (default) puts the load generator on core 1 and every platform process on core 0
(PostgreSQL and Redis are system services and float over both); --pin none lets all share both cores.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from platform_harness import (  # noqa: E402  (the path is set up above)
    Account,
    add_platform_arguments,
    create_accounts,
    finish_run,
    pin_self_to,
    production_platform,
    platform_options,
    summary_ms,
)

# Small quantities: a round trip costs a few dollars of fees against $5,000,000 of cash.
QUANTITIES = {"BTC-USD": "0.001", "ETH-USD": "0.01", "SOL-USD": "0.1", "XRP-USD": "10", "BNB-USD": "0.01",
              "LTC-USD": "0.1"}


@dataclass
class Book:
    """One portfolio's trading state: its symbol and the side of its next order."""

    account: Account
    symbol: str
    next_side: str = "buy"


@dataclass
class Sample:
    started: float
    finished: float
    status_code: int  # 0 when the request failed without a response
    order_status: str = ""
    error: str = ""


async def run_phase(*, kind: str, books: list[Book], base_urls: list[str], concurrency: int, seconds: float) -> list[Sample]:
    # aiohttp rather than httpx: about 0.5 ms of client CPU per request against 2.5 ms, so the load
    # generator's one core is not what caps the figures.
    clients = [aiohttp.ClientSession(base_url=url, timeout=aiohttp.ClientTimeout(total=30),
                                     connector=aiohttp.TCPConnector(limit=concurrency))
               for url in base_urls]
    samples: list[Sample] = []
    deadline = time.perf_counter() + seconds

    async def one_client(index: int):
        client = clients[index % len(clients)]
        mine = books[index::concurrency] if concurrency <= len(books) else [books[index % len(books)]]
        for book in itertools.cycle(mine):
            if time.perf_counter() >= deadline:
                return
            if kind == "orders":
                path = "/api/orders"
                payload = {"portfolio": book.account.portfolio_id, "symbol": book.symbol, "side": book.next_side,
                           "order_type": "market", "quantity": QUANTITIES[book.symbol]}
            elif kind == "note":
                path, payload = "/api/journal", {"portfolio": book.account.portfolio_id, "title": "bench",
                                                 "note": "ceiling"}
            else:
                path, payload = f"/api/portfolio/{book.account.portfolio_id}/topup", {"amount": "1"}
            started = time.perf_counter()
            try:
                async with client.post(path, data=orjson.dumps(payload), headers=book.account.json_headers) as response:
                    body = await response.read()
            except (aiohttp.ClientError, TimeoutError) as error:
                samples.append(Sample(started, time.perf_counter(), 0, error=f"{type(error).__name__}: {error}"))
                continue
            finished = time.perf_counter()
            if kind == "orders" and response.status == 201:
                order_status = orjson.loads(body)["status"]
                if order_status == "filled":
                    book.next_side = "sell" if book.next_side == "buy" else "buy"
                samples.append(Sample(started, finished, 201, order_status))
            else:
                samples.append(Sample(started, finished, response.status,
                                      error="" if response.ok else body[:300].decode(errors="replace")))

    try:
        await asyncio.gather(*(one_client(index) for index in range(concurrency)))
    finally:
        await asyncio.gather(*(client.close() for client in clients))
    return samples


def report(kind: str, samples: list[Sample], *, phase_start: float, seconds: float, warmup: float) -> dict:
    window_start, window_end = phase_start + warmup, phase_start + seconds
    measured = [s for s in samples if window_start <= s.started and s.finished <= window_end]
    ok = [s for s in measured if 200 <= s.status_code < 300]
    codes = Counter(s.status_code for s in samples)
    non_2xx = sum(count for code, count in codes.items() if not 200 <= code < 300)
    rate = len(ok) / (window_end - window_start)
    print(f"\n== {kind}: {len(samples)} requests in {seconds:.0f} s (first {warmup:.0f} s are warm-up, not measured)")
    print(f"throughput: {rate:.1f} successful requests/s over {window_end - window_start:.1f} s")
    print(f"latency (2xx, measured window): {summary_ms([s.finished - s.started for s in ok])}")
    print(f"responses by status: {dict(sorted(codes.items()))}; non-2xx or failed: {non_2xx}")
    if kind == "orders":
        print(f"order status in 201 bodies: {dict(Counter(s.order_status for s in samples if s.status_code == 201))}")
    errors = Counter(s.error for s in samples if s.error)
    for error, count in errors.most_common(5):
        print(f"  x{count}: {error}")
    return {"rate": rate, "non_2xx": non_2xx}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60, help="length of the order phase")
    parser.add_argument("--ceiling-seconds", type=float, default=None, help="length of the one-row insert and top-up phases (default: --seconds)")
    parser.add_argument("--warmup", type=float, default=3, help="seconds at the start of each phase left out of the figures")
    parser.add_argument("--concurrency", type=int, default=64, help="concurrent clients")
    parser.add_argument("--portfolios", type=int, default=100, help="users, one portfolio each")
    parser.add_argument("--symbols", default=",".join(QUANTITIES), help="crypto symbols, spread over the portfolios")
    add_platform_arguments(parser)
    arguments = parser.parse_args()
    symbols = arguments.symbols.split(",")
    pinning = pin_self_to({1}) if arguments.pin == "split" else "load generator not pinned (shares both cores)"
    print(f"order_throughput: {os.cpu_count()} cores; {pinning}")
    print("execution profile: realistic, simulate_latency false (market orders fill in the response)")

    with production_platform(**platform_options(arguments)) as platform:
        accounts = create_accounts(platform, arguments.portfolios)
        books = [Book(account, symbols[index % len(symbols)]) for index, account in enumerate(accounts)]
        print(f"[setup] {len(accounts)} users and portfolios; {arguments.concurrency} concurrent clients over "
              f"{len(platform.base_urls)} server(s); symbols {symbols}")
        platform.mark_logs()
        results = {}
        ceiling_seconds = arguments.ceiling_seconds or arguments.seconds
        phases = {"orders": ("orders", arguments.seconds),
                  "ceiling: POST /api/journal (one-row insert)": ("note", ceiling_seconds),
                  "top-up: POST /api/portfolio/{id}/topup": ("topup", ceiling_seconds)}
        for kind, (request_kind, seconds) in phases.items():
            meter = platform.cpu_meter(extra={"load generator": [os.getpid()]})
            meter.start()
            phase_start = time.perf_counter()
            samples = asyncio.run(run_phase(kind=request_kind, books=books,
                                            base_urls=platform.base_urls, concurrency=arguments.concurrency,
                                            seconds=seconds))
            meter.stop()
            results[kind] = report(kind, samples, phase_start=phase_start, seconds=seconds, warmup=arguments.warmup)
            print(meter.report())
            print(meter.per_request(sum(1 for sample in samples if 200 <= sample.status_code < 300)))
        ok = finish_run(platform, phases=" over all phases")
        orders_rate = results["orders"]["rate"]
        ceiling_rate = results["ceiling: POST /api/journal (one-row insert)"]["rate"]
        topup_rate = results["top-up: POST /api/portfolio/{id}/topup"]["rate"]
        print(f"\nsummary: {orders_rate:.1f} orders/s ({orders_rate / ceiling_rate * 100:.0f}% of the one-row insert "
              f"ceiling {ceiling_rate:.1f}/s; top-ups {topup_rate:.1f}/s); "
              f"ledger {'PASS' if ok else 'FAIL — the figures above do not count'}")


if __name__ == "__main__":
    main()
