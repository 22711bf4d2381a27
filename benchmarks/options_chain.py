"""Option chain and quote speed (issue 5: chains "keep it fast").

Builds a fresh SQLite database in a temporary directory with the optionable underlyings quoted at
fixed books, then times, through Django's test client with a token:

- GET /api/options/chains/{underlying}?expiry=… the first time (the expiration's contracts are
  listed: instrument and contract rows written) and again (read, priced with Greeks, quoted);
- the quote refresh job (options.refresh_quotes) with N held contracts on each of three
  underlyings (AAPL, SPY, BTC-USD), the work it repeats every two seconds;
- one option market order through POST /api/orders (the on-demand quote included).

Run: .venv/bin/python benchmarks/options_chain.py [--repeat 20]
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.pop("DATABASE_URL", None)
os.environ.pop("REDIS_URL", None)
os.environ["HAUNT_VAR_DIR"] = tempfile.mkdtemp(prefix="haunt-options-bench-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "haunt.settings.test")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from haunt.accounts.services import user_register  # noqa: E402
from haunt.market import state  # noqa: E402
from haunt.market.services import instruments_sync  # noqa: E402
from haunt.market.universe import spec_by_symbol  # noqa: E402
from options_trading.services import listed_expirations, option_contracts_list, option_quotes_refresh  # noqa: E402
from haunt.market.models import Instrument  # noqa: E402
from portfolios.services import portfolio_create  # noqa: E402

BOOKS = {"AAPL": ("278.40", "278.42"), "SPY": ("681.40", "681.42"), "BTC-USD": ("91250.00", "91251.00")}


def publish_underlyings() -> None:
    stamp = timezone.now().isoformat()
    quotes = [{"symbol": symbol, "bid": bid, "ask": ask, "last": bid, "bid_size": "500", "ask_size": "500",
               "timestamp": stamp, "sources": ["bench"], "is_open": True} for symbol, (bid, ask) in BOOKS.items()]
    books = [{"symbol": symbol, "bids": [[bid, "500"]], "asks": [[ask, "500"]], "timestamp": stamp,
              "sources": ["bench"], "is_open": True} for symbol, (bid, ask) in BOOKS.items()]
    state.market_state_write(quotes=quotes, books=books, status={"timestamp": stamp})


def ok(response):
    assert response.status_code in (200, 201), response.content
    return response


def timed(function, repeat: int) -> list[float]:
    durations = []
    for _ in range(repeat):
        began = time.perf_counter()
        function()
        durations.append((time.perf_counter() - began) * 1000)
    return durations


def line(label: str, durations: list[float]) -> str:
    return f"{label:<58} median {statistics.median(durations):8.1f} ms   max {max(durations):8.1f} ms"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    instruments_sync(tuple(spec_by_symbol(symbol) for symbol in BOOKS))
    publish_underlyings()
    user, token = user_register(username="bench", password="correct-horse-battery", email="bench@example.com")
    portfolio = portfolio_create(user=user, name="Bench", simulate_latency=False)
    client = Client(HTTP_AUTHORIZATION=f"Token {token.key}")
    now = timezone.now()
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, SQLite, {args.repeat} repetitions")
    for symbol in BOOKS:
        publish_underlyings()  # market state lives a minute: keep it current between measurements
        underlying = Instrument.objects.get(symbol=symbol)
        expiry = listed_expirations(underlying=underlying, now=now)[8]  # the first monthly, ~3 months
        path = f"/api/options/chains/{symbol}"
        began = time.perf_counter()
        response = client.get(path, {"expiry": expiry.isoformat()})
        first = (time.perf_counter() - began) * 1000
        assert response.status_code == 200, response.content
        count = len(response.json()["contracts"])
        durations = timed(lambda: ok(client.get(path, {"expiry": expiry.isoformat()})), args.repeat)
        print(line(f"chain {symbol} {expiry} ({count} contracts), first {first:.0f} ms; then", durations))

    held = []
    publish_underlyings()
    for symbol in BOOKS:
        underlying = Instrument.objects.get(symbol=symbol)
        for expiry in listed_expirations(underlying=underlying, now=now)[:6]:
            held += option_contracts_list(underlying=underlying, expiry=expiry, now=now)[:20]
    for contract in held:
        response = client.post("/api/orders", {
            "portfolio": str(portfolio.pk), "symbol": contract.instrument.symbol, "side": "buy", "order_type": "limit",
            "limit_price": str(contract.instrument.tick_size), "quantity": str(contract.instrument.lot_size)},
            content_type="application/json")
        assert response.status_code == 201, response.content
    publish_underlyings()
    durations = timed(lambda: option_quotes_refresh(now=timezone.now()), args.repeat)
    print(line(f"quote refresh, {len(held)} contracts with open orders", durations))

    symbol = held[5].instrument.symbol
    publish_underlyings()
    durations = timed(lambda: ok(client.post("/api/orders", {
        "portfolio": str(portfolio.pk), "symbol": symbol, "side": "buy", "order_type": "market",
        "quantity": "1"}, content_type="application/json")), args.repeat)
    print(line(f"POST /api/orders market buy {symbol}", durations))


if __name__ == "__main__":
    main()
