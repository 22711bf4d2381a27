"""Single-order latency at one client on the production profile (issue 3; reference target: p50 <= 2.5 ms,
p99 <= 10 ms for POST /api/orders).

Boots the real platform (PostgreSQL + Redis, REST on granian, Daphne, run_market, run_engine; see
benchmarks/platform_harness.py), makes one user with one portfolio (realistic profile,
simulate_latency false, so a market order fills inside its HTTP response), and sends --orders
sequential market orders from one keep-alive HTTP connection, alternating buy and sell of a small
BTC-USD quantity. For scale it also times, the same way, the cheapest authenticated read
(GET /api/portfolio/{id}) and the smallest authenticated write (POST /api/portfolio/{id}/topup).
The first --warmup requests of each kind are left out. Ends with the ledger check (cash == sum of
ledger amounts for every portfolio, in SQL) and the flagged lines of every process log.

    .venv/bin/python benchmarks/order_latency.py [--orders 500] [--servers 1] [--pin split|none]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from platform_harness import (  # noqa: E402  (the path is set up above)
    add_platform_arguments,
    create_accounts,
    finish_run,
    pin_self_to,
    production_platform,
    platform_options,
    summary_ms,
)


def timed_requests(http: httpx.Client, count: int, request) -> tuple[list[float], Counter, list[str]]:
    """Send `count` requests one after another; returns durations of 2xx answers, status counts, errors."""
    durations, statuses, errors = [], Counter(), []
    for index in range(count):
        method, path, body = request(index)
        started = time.perf_counter()
        try:
            response = http.request(method, path, json=body)
        except httpx.HTTPError as error:
            statuses["failed"] += 1
            errors.append(f"{type(error).__name__}: {error}")
            continue
        elapsed = time.perf_counter() - started
        statuses[response.status_code] += 1
        if response.is_success:
            durations.append(elapsed)
        else:
            errors.append(f"{response.status_code}: {response.text[:300]}")
    return durations, statuses, errors


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=500, help="sequential market orders (and as many reads and top-ups)")
    parser.add_argument("--warmup", type=int, default=20, help="requests of each kind sent first and not counted")
    parser.add_argument("--symbol", default="BTC-USD")
    parser.add_argument("--quantity", default="0.001")
    add_platform_arguments(parser)
    parser.set_defaults(servers=1)
    arguments = parser.parse_args()
    pinning = pin_self_to({1}) if arguments.pin == "split" else "client not pinned (shares both cores)"
    print(f"order_latency: {os.cpu_count()} cores; {pinning}")
    print("execution profile: realistic, simulate_latency false (market orders fill in the response)")

    with production_platform(**platform_options(arguments)) as platform:
        account = create_accounts(platform, 1)[0]
        portfolio = account.portfolio_id
        sides = ("buy", "sell")
        kinds = {
            "POST /api/orders (market, fills in the response)": lambda i: (
                "POST", "/api/orders", {"portfolio": portfolio, "symbol": arguments.symbol, "side": sides[i % 2],
                                        "order_type": "market", "quantity": arguments.quantity}),
            "GET /api/portfolio/{id} (cheapest authenticated read)": lambda i: (
                "GET", f"/api/portfolio/{portfolio}", None),
            "POST /api/portfolio/{id}/topup (smallest authenticated write)": lambda i: (
                "POST", f"/api/portfolio/{portfolio}/topup", {"amount": "1"}),
        }
        platform.mark_logs()
        with httpx.Client(base_url=platform.base_urls[0], headers=account.headers, timeout=30) as http:
            for kind, request in kinds.items():
                meter = platform.cpu_meter(extra={"client": [os.getpid()]})
                timed_requests(http, arguments.warmup, request)
                meter.start()
                started = time.perf_counter()
                durations, statuses, errors = timed_requests(http, arguments.orders, request)
                wall = time.perf_counter() - started
                meter.stop()
                print(f"\n== {kind}: {arguments.orders} sequential requests after {arguments.warmup} warm-up")
                print(f"latency: {summary_ms(durations)}")
                print(f"rate at one client: {len(durations) / wall:.1f} requests/s; statuses {dict(statuses)}; "
                      f"non-2xx or failed: {sum(n for code, n in statuses.items() if code == 'failed' or code >= 300)}")
                for error, count in Counter(errors).most_common(3):
                    print(f"  x{count}: {error}")
                print(meter.report())
                print(meter.per_request(arguments.orders))
        finish_run(platform)


if __name__ == "__main__":
    main()
