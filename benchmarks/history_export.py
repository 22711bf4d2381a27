"""History export throughput and memory (spec §12 "Export Formats"; issue 6: large exports stream).

Builds a fresh SQLite database in a temporary directory with one portfolio holding N filled market
orders (one trade each, inserted in bulk), then downloads GET /api/history/export as CSV and JSON
for trades and orders through Django's test client, reading the stream chunk by chunk without
keeping it. Reports rows per second, the bytes sent, and the peak Python heap growth during the
download (tracemalloc): a streamed export stays far below the size of the file it sends.

Run: .venv/bin/python benchmarks/history_export.py [--rows 50000]
"""
import argparse
import os
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.pop("DATABASE_URL", None)
os.environ.pop("REDIS_URL", None)
os.environ["HAUNT_VAR_DIR"] = tempfile.mkdtemp(prefix="haunt-export-bench-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "haunt.settings.test")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from haunt.accounts.services import user_register  # noqa: E402
from haunt.market.models import Instrument  # noqa: E402
from haunt.market.services import instruments_sync  # noqa: E402
from haunt.market.universe import spec_by_symbol  # noqa: E402
from orders.models import Order, Trade  # noqa: E402
from portfolios.services import portfolio_create  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=UTC)


def build(rows: int):
    call_command("migrate", verbosity=0)
    instruments_sync((spec_by_symbol("ETH-USD"),))
    user, token = user_register(username="bench", password="correct-horse-battery", email="bench@example.com")
    portfolio = portfolio_create(user=user, name="Bench")
    instrument = Instrument.objects.get(symbol="ETH-USD")
    for first in range(0, rows, 5000):
        orders, trades = [], []
        for number in range(first, min(rows, first + 5000)):
            moment = START + timedelta(seconds=number)
            price = Decimal("2000.25") + Decimal(number % 1000) / 100
            order = Order(id=uuid.uuid4(), portfolio=portfolio, instrument=instrument, side="buy", order_type="market",
                          status="filled", quantity=Decimal("0.5"), filled_quantity=Decimal("0.5"),
                          average_fill_price=price, realism_profile="frictionless", fees_paid=Decimal("0.5"),
                          filled_at=moment, tags=["bench"])
            orders.append(order)
            trades.append(Trade(order=order, portfolio=portfolio, instrument=instrument, side="buy",
                                quantity=Decimal("0.5"), price=price, fee=Decimal("0.5"), liquidity="taker",
                                explanation={"profile": "frictionless"}, executed_at=moment))
        Order.objects.bulk_create(orders)
        Trade.objects.bulk_create(trades)
    return token, portfolio


def download(client: Client, **params) -> int:
    response = client.get("/api/history/export", params)
    assert response.status_code == 200, response.content
    return sum(len(chunk) for chunk in response.streaming_content)


def timed_and_traced(client: Client, **params) -> tuple[float, int, int]:
    """Seconds and bytes of one download, then the peak heap growth of a second one (tracemalloc
    slows Python down, so it is not running while the time is taken)."""
    began = time.perf_counter()
    sent = download(client, **params)
    elapsed = time.perf_counter() - began
    tracemalloc.start()
    download(client, **params)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, sent, peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    rows = parser.parse_args().rows
    token, portfolio = build(rows)
    client = Client(HTTP_AUTHORIZATION=f"Token {token.key}")
    print(f"{rows} orders with one trade each (SQLite, test client, one process)")
    for kind in ("trades", "orders"):
        for file_format in ("csv", "json"):  # warm up: imports and first queries are not the export's cost
            download(client, format=file_format, kind=kind, end=START.isoformat())
    for kind in ("trades", "orders"):
        for file_format in ("csv", "json"):
            elapsed, sent, peak = timed_and_traced(client, format=file_format, kind=kind, portfolio=str(portfolio.pk))
            print(f"{kind:6} {file_format:4}  {elapsed:6.2f} s  {rows / elapsed:8.0f} rows/s  "
                  f"{sent / 1e6:7.1f} MB sent  peak heap +{peak / 1e6:5.1f} MB")


if __name__ == "__main__":
    main()
