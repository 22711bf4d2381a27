"""The README walkthrough, as code: what a new user does in their first five minutes."""
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from websockets.sync.client import connect

from tests.openapi_contract import check_httpx_response


def run_walkthrough(base_url: str, username: str, socket_base_url: str | None = None) -> None:
    """`base_url` serves REST; `socket_base_url` (the same server when None) serves /ws/."""
    http = httpx.Client(base_url=base_url, timeout=10, event_hooks={"response": [check_httpx_response]})
    registered = http.post("/api/auth/register", json={
        "username": username, "password": "correct-horse-battery", "email": f"{username}@example.com"})
    assert registered.status_code == 201, registered.text
    token = http.post("/api/auth/token", json={"username": username, "password": "correct-horse-battery"}).json()["token"]
    assert token == registered.json()["token"]
    headers = {"Authorization": f"Token {token}"}

    created = http.post("/api/portfolio", json={"name": "First"}, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["current_balance"] == "5000000.00000000"
    listed = http.get("/api/portfolio", headers=headers).json()["results"]
    assert [portfolio["id"] for portfolio in listed] == [created.json()["id"]]

    quote = http.get("/api/market/quotes/BTC-USD", headers=headers).json()
    assert Decimal(quote["bid"]) < Decimal(quote["ask"]) and quote["sources"] == ["simulator"]
    book = http.get("/api/market/orderbook/BTC-USD?depth=20", headers=headers).json()
    assert len(book["bids"]) == 20 and len(book["asks"]) == 20

    now = datetime.now(UTC)
    daily = http.get("/api/market/candles/BTC-USD", headers=headers, params={
        "interval": "1d", "start": (now - timedelta(days=90)).isoformat(), "end": now.isoformat()}).json()
    assert len(daily) >= 90, len(daily)
    minutes = http.get("/api/market/candles/ETH-USD", headers=headers, params={"interval": "1m"}).json()
    assert len(minutes) >= 400

    socket_base_url = socket_base_url or base_url
    with connect(f"{socket_base_url.replace('http', 'ws', 1)}/ws/?token={token}", open_timeout=10) as socket:
        socket.send(json.dumps({"type": "SubscribeQuotes", "symbols": ["BTC-USD"]}))
        assert json.loads(socket.recv(timeout=5))["type"] == "Subscribed"
        pushed = []
        while len(pushed) < 3:
            message = json.loads(socket.recv(timeout=5))
            if message["type"] == "Quote" and message["seq"] is not None:
                pushed.append(message)
        assert [message["data"]["symbol"] for message in pushed] == ["BTC-USD"] * 3
        sequences = [message["seq"] for message in pushed]
        assert sequences == sorted(sequences) and len(set(sequences)) == 3

        socket.send(json.dumps({"type": "SubscribePortfolio", "portfolio_id": created.json()["id"]}))
        topup = http.post(f"/api/portfolio/{created.json()['id']}/topup", json={"amount": "100"}, headers=headers)
        assert topup.status_code == 200
        deadline = datetime.now(UTC) + timedelta(seconds=5)
        balances = []
        while datetime.now(UTC) < deadline and "5000100.00000000" not in balances:
            message = json.loads(socket.recv(timeout=5))
            if message["type"] == "PortfolioUpdate":
                balances.append(message["data"]["current_balance"])
        assert "5000100.00000000" in balances

        # A market order with the realistic profile: acknowledged at once, filled by the engine after its
        # simulated latency, and the fill reaches the socket.
        portfolio_id = created.json()["id"]
        socket.send(json.dumps({"type": "SubscribeOrders", "portfolio_id": portfolio_id}))
        placed = http.post("/api/orders", headers=headers, json={
            "portfolio": portfolio_id, "symbol": "BTC-USD", "side": "buy", "order_type": "market", "quantity": "0.5"})
        assert placed.status_code == 201, placed.text
        assert placed.json()["status"] == "accepted" and 50 <= placed.json()["latency_ms"] <= 200
        changes = []
        deadline = datetime.now(UTC) + timedelta(seconds=10)
        while datetime.now(UTC) < deadline and "filled" not in changes:
            message = json.loads(socket.recv(timeout=10))
            if message["type"] == "OrderUpdate" and message["data"]["id"] == placed.json()["id"]:
                changes.append(message["change"])
        assert changes[-1] == "filled", changes
    order = http.get(f"/api/orders/{placed.json()['id']}", headers=headers).json()
    assert order["status"] == "filled" and order["filled_quantity"] == "0.5000000000"
    positions = http.get("/api/positions", headers=headers, params={"portfolio": portfolio_id}).json()["results"]
    assert [(position["symbol"], position["side"], position["quantity"]) for position in positions] == [
        ("BTC-USD", "long", "0.5000000000")]

    # Analytics: the 100 top-up is a cash flow, not profit; the fill's fee is a cost.
    query = {"portfolio": portfolio_id}
    performance = http.get("/api/analytics/performance", headers=headers, params=query).json()
    summary = performance["summary"]
    assert summary["net_cash_flow"] == "100.00000000", summary
    assert Decimal(summary["profit"]) == Decimal(summary["end_equity"]) - Decimal(summary["start_equity"]) - 100
    attribution = http.get("/api/analytics/attribution", headers=headers, params=query).json()
    assert attribution["total"]["fees"] == order["fees_paid"]
    for endpoint in ("metrics", "trades"):
        assert http.get(f"/api/analytics/{endpoint}", headers=headers, params=query).status_code == 200
