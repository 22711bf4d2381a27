"""Schemathesis over the whole OpenAPI schema against the real server, as a logged-in user whose
portfolio, orders, positions, trades, journal entry and attachment are real: every operation gets
valid (positive) and invalid (negative) input, from the schema's examples, random data and chains
of calls (stateful links), and must answer without a server error, with a status the operation
documents, and with a body and headers its schema allows.

tests/e2e/test_schema_fuzzing.py runs it on the embedded tier, always; tests/e2e/test_production.py
on the production tier (granian, Daphne, market and engine processes on PostgreSQL and Redis) when
DATABASE_URL and REDIS_URL are set, as in CI. Each run is bounded (FUZZ_MAX_EXAMPLES per operation,
a fixed seed, no coverage phase, whose thousands of boundary cases take minutes) to fit CI's time
budget: about a minute and a half of requests on 2 cores.

Two checks are off, on purpose (docs/testing.md, "Schema fuzzing"):
- positive_data_acceptance: the schema cannot state the domain's rules (a journal entry is about
  one subject; a change must change something; an attachment must be an image; cash, market hours),
  so schema-valid input is often refused with a 400 or 409 that is right.
- negative_data_rejection: the API is lenient where clients are used to it: unknown query
  parameters are ignored, an empty filter (`?side=`, `?portfolio=`) is no filter, an unreadable
  `page_size` falls back to the default, and DRF reads JSON numbers for strings and decimals and
  0/1 for booleans. None of these stores anything the schema forbids.
"""
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

FUZZ_MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "10"))
FUZZ_SEED = int(os.environ.get("FUZZ_SEED", "20261208"))
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32
# The fuzzer logs in and registers far more often than a person: the auth throttle would answer
# most of those requests 429 before the input is even read.
FUZZ_ENVIRONMENT = {"THROTTLE_AUTH_RATE": "100000/min", "THROTTLE_ANON_RATE": "100000/min",
                    "THROTTLE_USER_RATE": "100000/min"}


def real_objects(base_url: str) -> dict:
    """Register a user and give them one of everything, through the API: the ids the fuzzer's
    path and id parameters get, so requests reach the code behind the ownership check."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        token = client.post("/api/auth/register", json={"username": "fuzzer", "password": "fuzzy-horse-battery",
                                                        "email": "fuzzer@example.com"}).json()["token"]
        client.headers["Authorization"] = f"Token {token}"

        def post(path, **request):
            response = client.post(path, **request)
            assert response.status_code in (200, 201, 202), response.text
            return response.json()

        portfolio = post("/api/portfolio", json={"name": "Fuzzed", "realism_profile": "frictionless"})["id"]
        market = {"portfolio": portfolio, "order_type": "market", "side": "buy"}
        post("/api/orders", json={**market, "symbol": "ETH-USD", "quantity": "1"})
        chain = client.get("/api/options/chains/BTC-USD", params={"strikes": 2}).json()
        option = chain["contracts"][0]["symbol"]
        post("/api/orders", json={**market, "symbol": option, "quantity": "1"})
        order = post("/api/orders", json={**market, "symbol": "ETH-USD", "quantity": "1", "order_type": "limit",
                                          "limit_price": "10"})["id"]
        positions = wait_for_positions(client, portfolio, count=2)  # the production engine fills a moment later
        trade = client.get("/api/trades", params={"portfolio": portfolio}).json()["results"][0]["id"]
        entry = post("/api/journal", json={"portfolio": portfolio, "title": "Fuzzing"})["id"]
        attachment = post(f"/api/journal/{entry}/attachments", files={"file": ("chart.png", PNG, "image/png")})["id"]
    return {"token": token, "portfolio": portfolio, "order": order, "trade": trade,
            "position": positions["ETH-USD"], "option_position": positions[option], "entry": entry,
            "attachment": attachment}


def wait_for_positions(client: httpx.Client, portfolio: str, *, count: int) -> dict:
    deadline = time.monotonic() + 60
    while True:
        rows = client.get("/api/positions", params={"portfolio": portfolio}).json()["results"]
        if len(rows) >= count or time.monotonic() > deadline:
            return {row["symbol"]: row["id"] for row in rows}
        time.sleep(0.2)


def fuzz_config(ids: dict, *, extra: str = "") -> str:
    """schemathesis.toml: the real ids for every id parameter, per operation, and listed symbols."""
    per_path = {
        "/api/portfolio/{id}": ids["portfolio"], "/api/options/portfolios/{id}": ids["portfolio"],
        "/api/orders/{id}": ids["order"], "/api/trades/{id}": ids["trade"], "/api/positions/{id}": ids["position"],
        "/api/options/positions/{id}": ids["option_position"], "/api/journal/{id}": ids["entry"],
    }
    lines = [
        f'headers = {{ Authorization = "Token {ids["token"]}" }}',
        # Every check but these two (see above). Set here, not on the command line: a command-line
        # selection would override the per-operation exceptions.
        "[checks]",
        "positive_data_acceptance.enabled = false",
        "negative_data_rejection.enabled = false",
        "[parameters]",
        f'"query.portfolio" = "{ids["portfolio"]}"',
        f'"query.order" = "{ids["order"]}"',
        f'"query.trade" = "{ids["trade"]}"',
        f'"query.position" = "{ids["position"]}"',
        f'"entry_id" = "{ids["entry"]}"',
        f'"attachment_id" = "{ids["attachment"]}"',
        '"path.symbol" = "BTC-USD"',
        '"path.underlying" = "BTC-USD"',
    ]
    for prefix, value in per_path.items():
        pattern = json.dumps("^" + re.escape(prefix))  # a TOML basic string escapes as JSON does
        lines += ["[[operations]]", f"include-path-regex = {pattern}", f'parameters = {{ "id" = "{value}" }}']
    lines += ["[[operations]]", 'include-path = "/api/derivatives/funding/{symbol}"',
              'parameters = { "path.symbol" = "BTC-PERP" }',
              "[[operations]]", 'include-path = "/api/derivatives/tiers/{symbol}"',
              'parameters = { "path.symbol" = "BTC-PERP" }']
    return "\n".join(lines) + "\n" + extra


def run_schemathesis(base_url: str, tmp_path: Path, *, extra_config: str = "") -> subprocess.CompletedProcess:
    ids = real_objects(base_url)
    config = tmp_path / "schemathesis.toml"
    config.write_text(fuzz_config(ids, extra=extra_config))
    # One worker: schemathesis's threads race in Hypothesis's lambda-source cache ("AST constructor
    # recursion depth mismatch"), and the platform has the other core.
    return subprocess.run(
        [str(Path(sys.executable).with_name("schemathesis")), "--config-file", str(config), "run",
         f"{base_url}/api/schema/?format=json", "--mode", "all",
         "--phases", "examples,fuzzing,stateful", "--max-examples", str(FUZZ_MAX_EXAMPLES),
         "--seed", str(FUZZ_SEED), "--workers", "1", "--no-shrink", "--continue-on-failure",
         "--request-timeout", "30", "--report", "junit", "--report-dir", str(tmp_path / "report")],
        cwd=tmp_path, capture_output=True, text=True, timeout=900)


def assert_clean(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, f"{result.stdout[-20000:]}\n{result.stderr[-3000:]}"
