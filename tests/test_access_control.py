"""Access control over the whole API, generated from /api/schema/ (tests/access_matrix.py): every
id-taking operation answers 404 to another user's id and changes nothing, and no write applies a
field a client must not set. Two users each get one of every kind of object, made through the real
API; every request runs in a savepoint that is rolled back, so each starts from the same data."""
from urllib.parse import urlencode

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from haunt.accounts.services import user_register
from haunt.market.services import instruments_sync
from haunt.market.universe import spec_by_symbol
from notifications.models import DeliveryStatus, WebhookDelivery
from orders.models import Order, Trade
from orders.tests.books import NOW, make_portfolio, publish, publish_eth
from portfolios.models import Position
from tests.access_matrix import (
    Answer,
    IdSlot,
    MissingIds,
    Request,
    id_slots,
    mass_assignment_findings,
    request_for,
    run_matrix,
    write_operations,
)
from tests.openapi_contract import ContractCheckedAPIClient, api_schema

pytestmark = pytest.mark.django_db

AMERICAN_CALL = "AAPL  270115C00190000"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32
# Every app whose rows belong to users: none may change when a request is refused.
USER_DATA_APPS = ("authtoken", "accounts", "portfolios", "notifications", "orders", "derivatives", "options_trading", "reporting")


def _screenshot():
    return SimpleUploadedFile("chart.png", PNG, content_type="image/png")


# The rest of a valid request for each operation with a body or a required query, as a function
# of the caller's ids ("kind" -> id, the keys id_slots gives).
BODIES = {
    ("post", "/api/auth/register"): lambda ids: {"username": "carol", "password": "a-third-horse-battery",
                                                 "email": "carol@example.com"},
    ("post", "/api/auth/token"): lambda ids: {"username": ids["username"], "password": ids["password"]},
    ("post", "/api/alerts/history/read"): lambda ids: {},
    ("put", "/api/alerts/preferences"): lambda ids: {"preferences": [{"alert_type": "order_filled", "webhook": False}]},
    ("post", "/api/webhooks"): lambda ids: {"url": "https://hooks.example.com/another"},
    ("put", "/api/webhooks/{id}"): lambda ids: {"description": "Renamed"},
    ("patch", "/api/webhooks/{id}"): lambda ids: {"is_active": False},
    ("post", "/api/journal"): lambda ids: {"portfolio": str(ids["portfolio"]), "title": "Why"},
    ("post", "/api/journal/{entry_id}/attachments"): lambda ids: {"file": _screenshot()},
    ("put", "/api/journal/{id}"): lambda ids: {"title": "Why, again"},
    ("patch", "/api/journal/{id}"): lambda ids: {"note": "More."},
    ("put", "/api/options/portfolios/{id}/settings"): lambda ids: {"early_assignment": False},
    ("post", "/api/options/positions/{id}/exercise"): lambda ids: {"quantity": "1"},
    ("post", "/api/options/strategies"): lambda ids: {
        "portfolio": str(ids["portfolio"]), "strategy": "bull_call_spread", "quantity": "1",
        "legs": [{"symbol": "AAPL  261218C00195000", "side": "buy"}, {"symbol": "AAPL  261218C00205000", "side": "sell"}]},
    ("post", "/api/options/strategies/preview"): lambda ids: {
        "strategy": "bull_call_spread", "quantity": "1",
        "legs": [{"symbol": "AAPL  261218C00195000", "side": "buy"}, {"symbol": "AAPL  261218C00205000", "side": "sell"}]},
    ("post", "/api/orders"): lambda ids: {"portfolio": str(ids["portfolio"]), "symbol": "ETH-USD", "side": "buy",
                                          "order_type": "market", "quantity": "0.1"},
    ("put", "/api/orders/{id}"): lambda ids: {"quantity": "2", "limit_price": "1500"},
    ("patch", "/api/orders/{id}"): lambda ids: {"limit_price": "1400"},
    ("post", "/api/portfolio"): lambda ids: {"name": "Another"},
    ("put", "/api/portfolio/{id}"): lambda ids: {"name": "Renamed", "description": "New."},
    ("patch", "/api/portfolio/{id}"): lambda ids: {"description": "New."},
    ("post", "/api/portfolio/{id}/clone"): lambda ids: {"name": "Clone"},
    ("put", "/api/portfolio/{id}/liquidation-warnings"): lambda ids: {"thresholds": ["50", "80"]},
    ("post", "/api/portfolio/{id}/topup"): lambda ids: {"amount": "1000"},
    ("put", "/api/positions/{id}"): lambda ids: {"stop_loss": "1500"},
    ("post", "/api/positions/{id}/close-partial"): lambda ids: {"quantity": "0.5"},
    ("post", "/api/positions/{id}/margin"): lambda ids: {"amount": "10"},
    ("post", "/api/positions/size"): lambda ids: {"portfolio": str(ids["portfolio"]), "symbol": "ETH-USD",
                                                  "entry_price": "2000", "stop_price": "1900"},
}
QUERIES = {
    ("get", "/api/history/export"): lambda ids: {"format": "csv", "kind": "trades"},
}


def _world(username: str, client: ContractCheckedAPIClient, user) -> dict:
    """One of every kind of object the matrix addresses, made through the API as `user`."""
    portfolio = make_portfolio(user)
    ids = {"username": username, "password": f"{username}-horse-battery", "portfolio": portfolio.pk}

    def post(path, body, **options):
        response = client.post(path, body, **({"format": "json"} | options))
        assert response.status_code in (200, 201, 202), response.content
        return response.json()

    order = {"portfolio": str(portfolio.pk), "order_type": "market", "quantity": "1"}
    post("/api/orders", {**order, "symbol": "ETH-USD", "side": "buy"})
    post("/api/orders", {**order, "symbol": AMERICAN_CALL, "side": "buy", "quantity": "2"})
    ids["orders"] = post("/api/orders", {**order, "symbol": "ETH-USD", "side": "buy", "order_type": "limit",
                                         "limit_price": "1500"})["id"]  # resting: it can be changed
    ids["positions"] = Position.objects.get(portfolio=portfolio, instrument__symbol="ETH-USD").pk
    ids["options/positions"] = Position.objects.get(portfolio=portfolio, instrument__symbol=AMERICAN_CALL).pk
    ids["trades"] = Trade.objects.filter(portfolio=portfolio).first().pk
    ids["journal"] = post("/api/journal", {"portfolio": str(portfolio.pk), "title": "Plan"})["id"]
    ids["journal/{}/attachments"] = post(f"/api/journal/{ids['journal']}/attachments", {"file": _screenshot()},
                                         format="multipart")["id"]
    ids["webhooks"] = post("/api/webhooks", {"url": f"https://hooks.example.com/{username}"})["id"]
    ids["webhooks/{}/deliveries"] = client.post(f"/api/webhooks/{ids['webhooks']}/test").json()["id"]
    # A finished delivery, so that its owner may replay it.
    WebhookDelivery.objects.filter(pk=ids["webhooks/{}/deliveries"]).update(status=DeliveryStatus.DEAD_LETTER)
    ids |= {"options/portfolios": portfolio.pk, "order": Order.objects.filter(portfolio=portfolio).first().pk,
            "trade": ids["trades"], "position": ids["positions"]}
    return ids


@pytest.fixture
def worlds(monkeypatch, settings, tmp_path):
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)  # NYSE open: AAPL options trade
    settings.MEDIA_ROOT = tmp_path / "media"
    # The sweep logs in and registers some forty times a minute: more than one address may.
    settings.HAUNT_THROTTLE_RATES = {**settings.HAUNT_THROTTLE_RATES, "auth": None}
    instruments_sync(tuple(spec_by_symbol(symbol) for symbol in ("ETH-USD", "AAPL")))
    publish_eth()
    publish("AAPL", bids=[("200.00", "500")], asks=[("200.02", "500")])
    clients, world_of = {}, {}
    for role, username in (("victim", "alice"), ("intruder", "mallory")):
        user, token = user_register(username=username, password=f"{username}-horse-battery",
                                    email=f"{username}@example.com")
        clients[role] = ContractCheckedAPIClient()
        clients[role].credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        world_of[role] = _world(username, clients[role], user)
    return clients, world_of


def _answer(response) -> Answer:
    is_json = response.get("Content-Type", "").startswith("application/json") and not response.streaming
    return Answer(response.status_code, response.json() if is_json else None)


def sender(clients):
    def send(role: str, request: Request) -> Answer:
        client = clients[role]
        path = f"{request.path}?{urlencode(request.query)}" if request.query else request.path
        with transaction.atomic():
            if request.body is None:
                response = getattr(client, request.method)(path)
            else:
                multipart = any(isinstance(value, SimpleUploadedFile) for value in request.body.values())
                response = getattr(client, request.method)(path, request.body,
                                                           format="multipart" if multipart else "json")
            answer = _answer(response)
            transaction.set_rollback(True)
        return answer
    return send


def stored_user_data():
    return {model._meta.label: list(model.objects.order_by("pk").values())
            for app in USER_DATA_APPS for model in apps.get_app_config(app).get_models()}


def test_every_id_taking_operation_answers_404_to_another_users_id(worlds):
    clients, world_of = worlds
    slots = id_slots(api_schema(), known_kinds=world_of["victim"])

    findings = run_matrix(slots, send=sender(clients), world_of=world_of, bodies=BODIES, queries=QUERIES,
                          state=stored_user_data)

    assert not findings, "\n".join(map(str, findings))
    assert len({(slot.method, slot.template) for slot in slots}) >= 50


def test_no_write_applies_a_field_clients_must_not_set(worlds):
    clients, world_of = worlds
    operations = write_operations(api_schema())
    assert not [operation for operation in operations if operation not in BODIES], "give each write a valid body"

    findings = mass_assignment_findings(schema=api_schema(), send=sender(clients), operations=operations,
                                        world_of=world_of, bodies=BODIES)

    assert not findings, "\n".join(findings)


# --- the matrix builder itself, on a schema of its own ----------------------------------------

WIDGETS = {"paths": {
    "/api/widgets": {"get": {"parameters": [{"name": "portfolio", "in": "query", "schema": {"format": "uuid"}}]}},
    "/api/widgets/{id}": {"get": {"parameters": [{"name": "id", "in": "path"}]}},
    "/api/quotes/{symbol}": {"get": {"parameters": [{"name": "symbol", "in": "path"}]}},
}, "components": {"schemas": {}}}
IDS = {"victim": {"widgets": "w-victim", "portfolio": "p-victim"},
       "intruder": {"widgets": "w-intruder", "portfolio": "p-intruder"}}


def widget_server(*, leaks: str | None):
    """A fake API that owns the ids of IDS; `leaks` names the path that forgets to check the owner."""
    def send(role: str, request: Request) -> Answer:
        asked = request.path.rsplit("/", 1)[-1] if request.path != "/api/widgets" else request.query["portfolio"]
        if asked.endswith(role) or request.path.startswith(leaks or "-"):
            return Answer(200, {"results": ["secret"]})
        return Answer(404, {"error": {"code": "not_found", "message": "Not found.", "field": None}})
    return send


def test_builder_finds_every_id_slot_and_passes_a_server_that_checks_owners():
    slots = id_slots(WIDGETS, known_kinds=IDS["victim"])

    assert [str(slot) for slot in slots] == ["GET /api/widgets (query portfolio: portfolio)",
                                             "GET /api/widgets/{id} (path id: widgets)"]
    assert run_matrix(slots, send=widget_server(leaks=None), world_of=IDS, bodies={}, queries={},
                      state=lambda: None) == []


def test_builder_reports_a_planted_leak():
    slots = id_slots(WIDGETS, known_kinds=IDS["victim"])

    findings = run_matrix(slots, send=widget_server(leaks="/api/widgets/"), world_of=IDS, bodies={}, queries={},
                          state=lambda: None)

    assert [(str(finding.slot), finding.problem[:33]) for finding in findings] == [
        ("GET /api/widgets/{id} (path id: widgets)", "another user's id answered 200: {")]


def test_builder_reports_a_write_that_a_refused_request_still_made():
    writes = iter(range(100))
    findings = run_matrix(id_slots(WIDGETS, known_kinds=IDS["victim"])[:1], send=widget_server(leaks=None),
                          world_of=IDS, bodies={}, queries={}, state=lambda: next(writes))

    assert [finding.problem for finding in findings] == ["another user's id changed stored data"]


def test_builder_refuses_an_id_taking_operation_it_has_no_id_for():
    schema = {**WIDGETS, "paths": {**WIDGETS["paths"], "/api/gadgets/{id}/spin": {"post": {
        "parameters": [{"name": "id", "in": "path"}]}}}}

    with pytest.raises(MissingIds, match=r"POST /api/gadgets/\{id\}/spin \(path id: gadgets\)"):
        id_slots(schema, known_kinds=IDS["victim"])


def test_a_path_slot_takes_the_whole_path_from_the_other_user():
    slot = IdSlot("get", "/api/journal/{entry_id}/attachments/{attachment_id}", "path", "attachment_id",
                  "journal/{}/attachments")
    own, foreign = {"journal": "e1", "journal/{}/attachments": "a1"}, {"journal": "e2", "journal/{}/attachments": "a2"}

    assert request_for(slot, own=own, foreign=foreign, bodies={}, queries={}).path == "/api/journal/e2/attachments/a2"


def test_mass_assignment_sweep_reports_an_applied_field():
    schema = {"paths": {"/api/things": {"post": {"requestBody": {"content": {"application/json": {"schema": {
        "properties": {"name": {"type": "string"}}}}}}}}}, "components": {"schemas": {}}}

    def careless(role, request):  # takes every field it is given
        return Answer(201, dict(request.body))

    findings = mass_assignment_findings(schema=schema, send=careless, operations=[("post", "/api/things")],
                                        world_of=IDS, bodies={("post", "/api/things"): lambda ids: {"name": "x"}})

    assert any(finding.startswith("POST /api/things with cash='999999999': accepted and applied") for finding in findings)
    assert any("portfolio='p-intruder'" in finding for finding in findings)
