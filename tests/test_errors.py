"""One error shape everywhere, throttling, the health check and the published OpenAPI schema."""
import logging
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from django.test import override_settings

from haunt.market.models import Instrument

pytestmark = pytest.mark.django_db

TIGHT_RATES = {"user": "3/min", "anon": "100/min", "auth": "2/min"}


def error(response) -> dict:
    return response.json()["error"]


# The error shape


def test_unknown_url_is_a_json_404(api_client):
    response = api_client.get("/api/nope")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": {"code": "not_found", "message": "No such endpoint.", "field": None}}


def test_unknown_url_under_a_known_prefix_is_a_json_404(auth_client):
    response = auth_client.get("/api/market/instruments/AAPL/extra")

    assert response.status_code == 404
    assert error(response)["code"] == "not_found"


def test_wrong_method_is_405(auth_client):
    response = auth_client.delete("/api/auth/me")

    assert response.status_code == 405
    assert response.json() == {
        "error": {"code": "method_not_allowed", "message": 'Method "DELETE" not allowed.', "field": None},
    }
    assert response["Allow"] == "GET, HEAD, OPTIONS"


def test_wrong_method_on_an_open_endpoint_is_405(api_client):
    response = api_client.get("/api/auth/register")

    assert response.status_code == 405
    assert error(response)["code"] == "method_not_allowed"


def test_bad_token_is_401(api_client, user):
    api_client.credentials(HTTP_AUTHORIZATION="Token 0000000000000000000000000000000000000000")

    response = api_client.get("/api/auth/me")

    assert response.status_code == 401
    assert response.json() == {"error": {"code": "authentication_failed", "message": "Invalid token.", "field": None}}
    assert response["WWW-Authenticate"] == "Token"


def test_malformed_authorization_header_is_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token two words")

    response = api_client.get("/api/auth/me")

    assert response.status_code == 401
    assert error(response)["code"] == "authentication_failed"


def test_unsupported_media_type_is_415(api_client):
    response = api_client.post("/api/auth/register", "username=carol", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert response.json() == {"error": {
        "code": "unsupported_media_type",
        "message": 'Unsupported media type "application/x-www-form-urlencoded" in request.',
        "field": None,
    }}


def test_malformed_json_is_400(api_client):
    response = api_client.post("/api/auth/register", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert error(response)["code"] == "parse_error"
    assert error(response)["field"] is None


def nested_json(levels: int) -> str:
    """An object whose "username" holds arrays nested `levels` deep (the object itself is a level)."""
    return '{"username": ' + "[" * (levels - 1) + "]" * (levels - 1) + "}"


@pytest.mark.parametrize("levels", [33, 979, 5000])
@pytest.mark.parametrize("path", ["/api/auth/token", "/api/auth/register"])
def test_json_nested_too_deep_is_400_not_a_server_error(api_client, path, levels):
    response = api_client.post(path, nested_json(levels), content_type="application/json")

    assert response.status_code == 400
    assert error(response)["code"] == "parse_error"
    assert error(response)["field"] is None


def test_json_nested_too_deep_is_400_for_an_authenticated_write(auth_client):
    response = auth_client.post("/api/orders", nested_json(2000), content_type="application/json")

    assert response.status_code == 400
    assert error(response)["code"] == "parse_error"


@pytest.mark.parametrize("body", ['{"username": "\\ud800", "password": "x"}', '{"\\udfff": 1}'])
def test_json_with_an_unpaired_surrogate_is_400(api_client, body):
    """PostgreSQL cannot store it and the JSON renderer cannot echo it: both would be a 500."""
    response = api_client.post("/api/auth/token", body, content_type="application/json")

    assert response.status_code == 400
    assert error(response)["code"] == "parse_error"


def test_json_nested_to_the_limit_is_parsed(api_client):
    response = api_client.post("/api/auth/token", nested_json(32), content_type="application/json")

    assert response.status_code == 400
    assert error(response)["field"] == "username"  # read, and refused by the field, not the parser


def test_validation_error_names_the_field(auth_client, instruments):
    response = auth_client.get("/api/market/orderbook/BTC-USD", {"depth": "0"})

    assert response.status_code == 400
    assert response.json() == {"error": {
        "code": "min_value", "message": "Ensure this value is greater than or equal to 1.", "field": "depth",
    }}


@pytest.mark.parametrize("path, query", [
    ("/api/positions", {"symbol": "\x00"}),
    ("/api/history/positions", {"symbol": "\x00"}),
    ("/api/orders", {"symbol": "BTC\x00USD"}),
    ("/api/trades", {"symbol": "\x00"}),
    ("/api/market/instruments", {"search": "\x00"}),
    ("/api/portfolios", {"archived": "\x00"}),
    ("/api/positions", {"\x00": "1"}),
])
def test_a_null_character_in_a_query_parameter_is_400_on_every_database(auth_client, portfolio, path, query):
    """PostgreSQL refuses NUL in a string (a 500 if it reaches a query); SQLite takes it. Both answer 400."""
    response = auth_client.get(path, query)

    assert response.status_code == 400
    assert response.json() == {"error": {
        "code": "null_characters_not_allowed", "message": "Null characters are not allowed.",
        "field": next(iter(query)),
    }}


@pytest.mark.parametrize("query", [
    {"end": "0001-01-01"},
    {"end": "0001-01-01T00:00:00Z", "interval": "1d"},
    {"start": "0001-01-01", "end": "0001-01-02"},
    {"start": "0001-01-01"},
])
def test_candles_at_the_edge_of_the_calendar_are_400(auth_client, instruments, query):
    response = auth_client.get("/api/market/candles/BTC-USD", query)

    assert response.status_code == 400
    assert error(response)["field"] in query


# Throttling


@override_settings(HAUNT_THROTTLE_RATES=TIGHT_RATES)
def test_fourth_authenticated_request_in_a_minute_is_429(auth_client):
    statuses = [auth_client.get("/api/auth/me").status_code for _ in range(3)]

    response = auth_client.get("/api/auth/me")

    assert statuses == [200, 200, 200]
    assert response.status_code == 429
    assert error(response)["code"] == "throttled"
    assert error(response)["field"] is None
    assert 0 < int(response["Retry-After"]) <= 60


@override_settings(HAUNT_THROTTLE_RATES=TIGHT_RATES)
def test_user_throttle_counts_each_user_apart(auth_client, other_client):
    for _ in range(3):
        auth_client.get("/api/auth/me")

    assert auth_client.get("/api/auth/me").status_code == 429
    assert other_client.get("/api/auth/me").status_code == 200


@override_settings(HAUNT_THROTTLE_RATES=TIGHT_RATES)
def test_third_token_attempt_in_a_minute_is_429(api_client, user):
    credentials = {"username": "alice", "password": "correct-horse-battery"}
    statuses = [api_client.post("/api/auth/token", credentials, format="json").status_code for _ in range(2)]

    response = api_client.post("/api/auth/token", credentials, format="json")

    assert statuses == [200, 200]
    assert response.status_code == 429
    assert error(response)["code"] == "throttled"
    assert "Retry-After" in response


@override_settings(HAUNT_THROTTLE_RATES=TIGHT_RATES)
def test_failed_token_attempts_count_towards_the_limit(api_client, user):
    wrong = {"username": "alice", "password": "guess-number-one"}
    statuses = [api_client.post("/api/auth/token", wrong, format="json").status_code for _ in range(2)]

    response = api_client.post("/api/auth/token", {"username": "alice", "password": "correct-horse-battery"},
                               format="json")

    assert statuses == [401, 401]
    assert response.status_code == 429


# Health


def test_health_is_starting_before_the_feed_ran_and_logs_no_error(api_client, caplog):
    response = api_client.get("/api/health")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "starting"
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    checks = body["checks"]
    assert set(checks) == {"database", "cache", "channel_layer", "feed"}
    assert checks["database"]["ok"] is True
    assert checks["cache"]["ok"] is True
    assert checks["channel_layer"]["ok"] is True
    assert checks["feed"]["ok"] is False
    assert "has not published" in checks["feed"]["error"]


@pytest.fixture
def live_feed(instruments):
    """The simulator feed stepped once at the real current time, as the running platform would."""
    from haunt.market.feed import MarketFeed, SimulatorSource
    from haunt.market.simulator import MarketSimulator
    from haunt.market.universe import UNIVERSE

    now = datetime.now(UTC)
    feed = MarketFeed(
        sources=[SimulatorSource(MarketSimulator(UNIVERSE, seed=7, start=now - timedelta(seconds=1)), UNIVERSE)],
        instrument_ids=dict(Instrument.objects.values_list("symbol", "pk")),
        stale_after=timedelta(seconds=5),
    )
    feed.update(now)
    return feed


def test_health_is_ok_once_the_feed_published(api_client, live_feed):
    response = api_client.get("/api/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert all(check["ok"] for check in body["checks"].values())
    feed = body["checks"]["feed"]
    assert feed["sequence"] == 1
    assert feed["instruments"] == Instrument.objects.count() == 46
    assert feed["sources"] == ["simulator"]
    assert 0 <= feed["age_seconds"] < 5


# OpenAPI


def test_schema_is_public_and_lists_every_path(api_client):
    response = api_client.get("/api/schema/")

    assert response.status_code == 200
    paths = yaml.safe_load(response.content)["paths"]
    for path in ["/api/portfolio", "/api/portfolio/{id}/topup", "/api/market/candles/{symbol}",
                 "/api/auth/register", "/api/health"]:
        assert path in paths, path
    assert "post" in paths["/api/auth/register"]
    assert "get" in paths["/api/market/candles/{symbol}"]


def test_docs_page_is_html(api_client):
    response = api_client.get("/api/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"swagger" in response.content.lower()


@pytest.mark.django_db
def test_a_disallowed_host_gets_the_json_error_shape(client):
    response = client.get("/api/health", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response.json() == {"error": {"code": "bad_request", "message": "Bad request.", "field": None}}


@pytest.mark.django_db
def test_forwarded_for_headers_do_not_reset_the_login_throttle(api_client, user):
    from django.test import override_settings

    with override_settings(HAUNT_THROTTLE_RATES={"user": "100/min", "anon": "100/min", "auth": "2/min"}):
        statuses = [
            api_client.post("/api/auth/token", {"username": "alice", "password": "wrong"}, format="json",
                            HTTP_X_FORWARDED_FOR=f"10.0.0.{attempt}").status_code
            for attempt in range(3)
        ]

    assert statuses == [401, 401, 429]
