"""The webhook and alert endpoints: owner-scoped, errors in the house shape, held to the schema."""
import pytest
from django.db import transaction

from notifications.models import AlertType, WebhookEndpoint
from notifications.services import MAX_WEBHOOKS_PER_USER, notify, webhook_create, webhook_deliveries_due
from tests.openapi_contract import api_schema

pytestmark = pytest.mark.django_db


def test_creating_a_webhook_shows_its_secret_once(auth_client):
    response = auth_client.post("/api/webhooks", {"url": "https://hooks.example.com/haunt",
                                                  "event_types": ["order_filled"]}, format="json")

    assert response.status_code == 201
    created = response.json()
    assert created["secret"].startswith("whsec_") and created["event_types"] == ["order_filled"]
    assert created["is_active"] is True and created["last_sequence"] == 0
    again = auth_client.get(f"/api/webhooks/{created['id']}").json()
    assert "secret" not in again
    assert [webhook["id"] for webhook in auth_client.get("/api/webhooks").json()["results"]] == [created["id"]]


@pytest.mark.parametrize("url, code", [
    ("ftp://hooks.example.com/", "webhook_url_refused"),
    ("http://127.0.0.1/hook", "webhook_url_refused"),
    ("http://169.254.169.254/latest/meta-data", "webhook_url_refused"),
    ("http://[::ffff:10.0.0.1]/hook", "webhook_url_refused"),
    ("https://user:secret@hooks.example.com/", "webhook_url_refused"),
])
def test_a_refused_url_is_a_400_naming_the_field(auth_client, url, code):
    response = auth_client.post("/api/webhooks", {"url": url}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code and response.json()["error"]["field"] == "url"


def test_an_unknown_event_type_is_refused(auth_client):
    response = auth_client.post("/api/webhooks", {"url": "https://hooks.example.com/", "event_types": ["nope"]},
                                format="json")

    assert response.status_code == 400 and response.json()["error"]["field"].startswith("event_types")


@pytest.mark.parametrize("method, path", [
    ("delete", "/api/webhooks/{bad}"), ("get", "/api/webhooks/{bad}/deliveries"),
    ("post", "/api/webhooks/{bad}/rotate-secret"), ("post", "/api/webhooks/{bad}/test"),
    ("post", "/api/webhooks/{good}/deliveries/{bad}/replay"),
])
def test_a_malformed_id_the_url_pattern_lets_through_is_a_404(auth_client, user, method, path):
    endpoint = webhook_create(user=user, url="https://hooks.example.com/a")

    response = getattr(auth_client, method)(path.format(bad="AbCA3CdA147CDcd51ba742ABF62bbc5d9b7", good=endpoint.pk))

    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_updating_rotating_and_deleting(auth_client, user):
    endpoint = webhook_create(user=user, url="https://hooks.example.com/a")

    updated = auth_client.put(f"/api/webhooks/{endpoint.pk}", {"is_active": False, "event_types": []},
                              format="json")
    rotated = auth_client.post(f"/api/webhooks/{endpoint.pk}/rotate-secret")

    assert updated.status_code == 200 and updated.json()["is_active"] is False
    assert updated.json()["url"] == "https://hooks.example.com/a"
    assert rotated.status_code == 200 and rotated.json()["secret"] != endpoint.secret
    assert rotated.json()["previous_secret_expires_at"]
    assert auth_client.delete(f"/api/webhooks/{endpoint.pk}").status_code == 204
    assert not WebhookEndpoint.objects.exists()


def test_too_many_webhooks_is_a_conflict(auth_client, user):
    for number in range(MAX_WEBHOOKS_PER_USER):
        webhook_create(user=user, url=f"https://hooks.example.com/{number}")

    response = auth_client.post("/api/webhooks", {"url": "https://hooks.example.com/more"}, format="json")

    assert response.status_code == 409 and response.json()["error"]["code"] == "too_many_webhooks"


def test_someone_elses_webhook_is_a_404_everywhere(auth_client, other_user):
    endpoint = webhook_create(user=other_user, url="https://hooks.example.com/theirs")
    base = f"/api/webhooks/{endpoint.pk}"

    answers = [
        auth_client.get(base), auth_client.put(base, {"is_active": False}, format="json"), auth_client.delete(base),
        auth_client.post(f"{base}/rotate-secret"), auth_client.post(f"{base}/test"),
        auth_client.get(f"{base}/deliveries"),
        auth_client.post(f"{base}/deliveries/00000000-0000-0000-0000-000000000001/replay"),
    ]

    assert [answer.status_code for answer in answers] == [404] * len(answers)
    assert all(answer.json()["error"]["code"] == "not_found" for answer in answers)
    assert auth_client.get("/api/webhooks").json()["results"] == []
    WebhookEndpoint.objects.get(pk=endpoint.pk)  # untouched


def test_test_ping_replay_and_the_delivery_log(auth_client, user, receiver, private_targets_allowed):
    endpoint = webhook_create(user=user, url=receiver.url)
    receiver.script = [500]

    queued = auth_client.post(f"/api/webhooks/{endpoint.pk}/test")
    still_pending = auth_client.post(f"/api/webhooks/{endpoint.pk}/deliveries/{queued.json()['id']}/replay")
    webhook_deliveries_due()
    log = auth_client.get(f"/api/webhooks/{endpoint.pk}/deliveries").json()["results"]

    assert queued.status_code == 202 and queued.json()["event_type"] == "ping"
    assert still_pending.status_code == 409 and still_pending.json()["error"]["code"] == "delivery_pending"
    [delivery] = log
    assert delivery["status"] == "pending" and delivery["attempt_count"] == 1
    [attempt] = delivery["attempts"]
    assert attempt["response_status"] == 500 and attempt["succeeded"] is False and attempt["latency_ms"] >= 0
    assert attempt["error"] == "The receiver answered 500."


def test_alert_history_filters_and_marks_read(auth_client, user, other_user):
    with transaction.atomic():
        filled = notify(user_id=user.pk, alert_type=AlertType.ORDER_FILLED, message="filled", payload={})
        cancelled = notify(user_id=user.pk, alert_type=AlertType.ORDER_CANCELLED, message="cancelled", payload={})
        notify(user_id=other_user.pk, alert_type=AlertType.ORDER_FILLED, message="theirs", payload={})

    everything = auth_client.get("/api/alerts/history").json()["results"]
    only_filled = auth_client.get("/api/alerts/history?type=order_filled").json()["results"]
    marked = auth_client.post("/api/alerts/history/read", {"ids": [str(filled.pk)]}, format="json")
    unread = auth_client.get("/api/alerts/history?read=false").json()["results"]
    read = auth_client.get("/api/alerts/history?read=true").json()["results"]
    all_marked = auth_client.post("/api/alerts/history/read", {}, format="json")

    assert [alert["id"] for alert in everything] == [str(cancelled.pk), str(filled.pk)]
    assert everything[0]["read"] is False and everything[0]["message"] == "cancelled"
    assert [alert["id"] for alert in only_filled] == [str(filled.pk)]
    assert marked.json() == {"marked": 1}
    assert [alert["id"] for alert in unread] == [str(cancelled.pk)]
    assert [alert["id"] for alert in read] == [str(filled.pk)] and read[0]["read_at"]
    assert all_marked.json() == {"marked": 1}
    assert auth_client.get("/api/alerts/history?type=bogus").status_code == 400


def test_channel_preferences(auth_client):
    before = auth_client.get("/api/alerts/preferences").json()
    changed = auth_client.put("/api/alerts/preferences", {"preferences": [
        {"alert_type": "order_cancelled", "webhook": False}]}, format="json")

    assert {entry["alert_type"] for entry in before} == set(AlertType.values)
    assert all(entry["websocket"] and entry["webhook"] for entry in before)
    preference = next(entry for entry in changed.json() if entry["alert_type"] == "order_cancelled")
    assert preference == {"alert_type": "order_cancelled", "websocket": True, "webhook": False}
    refused = auth_client.put("/api/alerts/preferences", {"preferences": [{"alert_type": "nope"}]}, format="json")
    assert refused.status_code == 400


def test_every_new_operation_is_in_the_schema_with_its_errors():
    paths = api_schema()["paths"]
    expected = {
        "/api/webhooks": {"get", "post"},
        "/api/webhooks/{id}": {"get", "put", "patch", "delete"},
        "/api/webhooks/{id}/rotate-secret": {"post"},
        "/api/webhooks/{id}/test": {"post"},
        "/api/webhooks/{id}/deliveries": {"get"},
        "/api/webhooks/{id}/deliveries/{delivery}/replay": {"post"},
        "/api/alerts/history": {"get"},
        "/api/alerts/history/read": {"post"},
        "/api/alerts/preferences": {"get", "put"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
        for method in methods:
            assert "401" in paths[path][method]["responses"], (method, path)
    assert "404" in paths["/api/webhooks/{id}"]["get"]["responses"]
    assert "409" in paths["/api/webhooks/{id}/deliveries/{delivery}/replay"]["post"]["responses"]
    assert "400" in paths["/api/webhooks"]["post"]["responses"]
