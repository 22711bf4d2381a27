"""Webhook deliveries end to end against a real receiver on loopback: signing, retries with
backoff, dead letters, disabling, replay, rotation. Time is passed in, so backoff costs no sleep."""
import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from notifications import signing
from notifications.models import Alert, AlertType, DeliveryStatus, WebhookDelivery
from notifications.services import (
    alert_preferences_set,
    notify,
    webhook_create,
    webhook_deliveries_due,
    webhook_delivery_replay,
    webhook_ping,
    webhook_rotate_secret,
    webhook_update,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_targets_allowed")]


def raise_alert(user, alert_type=AlertType.ORDER_FILLED):
    with transaction.atomic():
        return notify(user_id=user.pk, alert_type=alert_type, message="Order filled: buy 1 BTC-USD @ 50000.",
                      payload={"order": {"id": "o1"}})


def run_until_finished(delivery, start):
    """Sweep at each moment the delivery is next due until it finishes; the sweep times used."""
    moments, now = [], start
    while True:
        assert webhook_deliveries_due(now=now) == 1
        moments.append(now)
        delivery.refresh_from_db()
        if delivery.status != DeliveryStatus.PENDING:
            return moments
        assert webhook_deliveries_due(now=delivery.next_attempt_at - timedelta(milliseconds=1)) == 0
        now = delivery.next_attempt_at


def test_a_delivery_is_a_signed_json_event_with_its_id_time_and_sequence(user, receiver):
    endpoint = webhook_create(user=user, url=receiver.url)
    alert = raise_alert(user)
    now = timezone.now()

    assert webhook_deliveries_due(now=now) == 1

    [request] = receiver.received
    event = json.loads(request.body)
    assert event["id"] == str(alert.pk) and event["type"] == "order_filled"
    assert event["data"]["order"] == {"id": "o1"} and event["data"]["alert_id"] == str(alert.pk)
    assert event["created_at"].endswith("Z")
    assert request.headers["Haunt-Event-Id"] == request.headers["Idempotency-Key"] == str(alert.pk)
    assert request.headers["Haunt-Sequence"] == "1"
    assert request.headers["Haunt-Timestamp"] == str(int(now.timestamp()))
    assert signing.verify(header=request.headers["Haunt-Signature"], body=request.body, secret=endpoint.secret,
                          now=int(now.timestamp()))
    assert not signing.verify(header=request.headers["Haunt-Signature"], body=request.body + b" ",
                              secret=endpoint.secret, now=int(now.timestamp()))
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    [attempt] = delivery.attempts.all()
    assert attempt.succeeded and attempt.response_status == 200 and attempt.address == "127.0.0.1"


def test_each_endpoint_numbers_its_deliveries_in_order(user, receiver):
    webhook_create(user=user, url=receiver.url)
    for _ in range(3):
        raise_alert(user)

    assert webhook_deliveries_due(now=timezone.now()) == 3

    assert [request.headers["Haunt-Sequence"] for request in receiver.received] == ["1", "2", "3"]


def test_a_receiver_failing_twice_gets_exactly_one_successful_delivery_after_backoff(user, receiver):
    webhook_create(user=user, url=receiver.url)
    raise_alert(user)
    receiver.script = [500, 503]
    start = timezone.now()
    delivery = WebhookDelivery.objects.get()

    moments = run_until_finished(delivery, start)

    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempt_count == 3
    # Backoff: between half and all of 10 s, then of 20 s.
    assert timedelta(seconds=5) <= moments[1] - moments[0] <= timedelta(seconds=10)
    assert timedelta(seconds=10) <= moments[2] - moments[1] <= timedelta(seconds=20)
    assert [attempt.response_status for attempt in delivery.attempts.all()] == [500, 503, 200]
    assert [attempt.succeeded for attempt in delivery.attempts.all()] == [False, False, True]
    assert len(receiver.received) == 3
    assert len({request.headers["Haunt-Event-Id"] for request in receiver.received}) == 1
    assert webhook_deliveries_due(now=start + timedelta(days=1)) == 0
    assert len(receiver.received) == 3


def test_after_the_last_attempt_a_delivery_is_a_dead_letter(user, receiver, settings):
    settings.HAUNT_WEBHOOK_MAX_ATTEMPTS = 4
    endpoint = webhook_create(user=user, url=receiver.url)
    raise_alert(user)
    receiver.script = [500] * 10
    delivery = WebhookDelivery.objects.get()

    moments = run_until_finished(delivery, timezone.now())

    assert len(moments) == 4 and delivery.status == DeliveryStatus.DEAD_LETTER and delivery.finished_at
    assert delivery.next_attempt_at is None and len(receiver.received) == 4
    assert webhook_deliveries_due(now=moments[-1] + timedelta(days=1)) == 0
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.consecutive_dead_letters == 1


def test_an_unreachable_endpoint_records_the_error_of_every_attempt(user, settings):
    settings.HAUNT_WEBHOOK_MAX_ATTEMPTS = 2
    webhook_create(user=user, url="http://127.0.0.1:9/closed")  # the discard port: nothing listens
    raise_alert(user)

    run_until_finished(WebhookDelivery.objects.get(), timezone.now())

    attempts = list(WebhookDelivery.objects.get().attempts.all())
    assert [attempt.response_status for attempt in attempts] == [None, None]
    assert all("ConnectError" in attempt.error for attempt in attempts)


def test_an_endpoint_that_keeps_failing_is_turned_off_and_its_owner_told(user, receiver, settings):
    settings.HAUNT_WEBHOOK_MAX_ATTEMPTS = 1
    settings.HAUNT_WEBHOOK_DISABLE_AFTER_DEAD_LETTERS = 2
    endpoint = webhook_create(user=user, url=receiver.url)
    receiver.script = [500] * 10
    raise_alert(user)
    raise_alert(user)
    raise_alert(user)

    webhook_deliveries_due(now=timezone.now())

    endpoint.refresh_from_db()
    assert not endpoint.is_active and "2 deliveries in a row" in endpoint.disabled_reason
    disabled = Alert.objects.get(alert_type=AlertType.WEBHOOK_DISABLED)
    assert disabled.owner == user and disabled.payload["webhook"] == str(endpoint.pk)
    # The third delivery is not attempted against a turned-off endpoint.
    assert len(receiver.received) == 2
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.DEAD_LETTER).count() == 3

    receiver.script = []
    webhook_update(user=user, webhook_id=endpoint.pk, is_active=True)
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.consecutive_dead_letters == 0 and endpoint.disabled_reason == ""


def test_a_replay_sends_the_same_event_again(user, receiver, settings):
    settings.HAUNT_WEBHOOK_MAX_ATTEMPTS = 1
    endpoint = webhook_create(user=user, url=receiver.url)
    raise_alert(user)
    receiver.script = [500]
    webhook_deliveries_due(now=timezone.now())
    original = WebhookDelivery.objects.get()
    assert original.status == DeliveryStatus.DEAD_LETTER

    replay = webhook_delivery_replay(user=user, webhook_id=endpoint.pk, delivery_id=original.pk)
    assert webhook_deliveries_due(now=timezone.now()) == 1

    replay.refresh_from_db()
    assert replay.status == DeliveryStatus.SUCCEEDED and replay.replay_of == original
    assert replay.event_id == original.event_id and replay.sequence == original.sequence
    first, second = receiver.received
    assert first.body == second.body
    assert first.headers["Haunt-Event-Id"] == second.headers["Haunt-Event-Id"]


def test_after_a_rotation_deliveries_carry_both_signatures_until_the_grace_period_ends(user, receiver):
    endpoint = webhook_create(user=user, url=receiver.url)
    old_secret = endpoint.secret
    rotated = webhook_rotate_secret(user=user, webhook_id=endpoint.pk)
    assert rotated.secret != old_secret
    raise_alert(user)
    now = timezone.now()

    webhook_deliveries_due(now=now)

    request = receiver.received[0]
    for secret in (old_secret, rotated.secret):
        assert signing.verify(header=request.headers["Haunt-Signature"], body=request.body, secret=secret,
                              now=int(now.timestamp()))

    raise_alert(user)
    later = rotated.previous_secret_expires_at + timedelta(seconds=1)
    webhook_deliveries_due(now=later)

    request = receiver.received[1]
    assert request.headers["Haunt-Signature"].count("v1=") == 1
    assert signing.verify(header=request.headers["Haunt-Signature"], body=request.body, secret=rotated.secret,
                          now=int(later.timestamp()))
    assert not signing.verify(header=request.headers["Haunt-Signature"], body=request.body, secret=old_secret,
                              now=int(later.timestamp()))


def test_an_endpoint_gets_only_the_alert_types_it_asked_for(user, receiver):
    webhook_create(user=user, url=receiver.url, event_types=[AlertType.STOP_LOSS_HIT])
    raise_alert(user, AlertType.ORDER_FILLED)
    raise_alert(user, AlertType.STOP_LOSS_HIT)

    webhook_deliveries_due(now=timezone.now())

    assert [json.loads(request.body)["type"] for request in receiver.received] == ["stop_loss_hit"]


def test_an_alert_type_turned_off_for_webhooks_is_recorded_but_not_delivered(user, receiver):
    webhook_create(user=user, url=receiver.url)
    alert_preferences_set(user=user, preferences=[{"alert_type": AlertType.ORDER_FILLED, "webhook": False}])

    alert = raise_alert(user)

    assert Alert.objects.filter(pk=alert.pk).exists() and not WebhookDelivery.objects.exists()


def test_a_ping_reaches_the_endpoint_whatever_its_filter(user, receiver):
    endpoint = webhook_create(user=user, url=receiver.url, event_types=[AlertType.STOP_LOSS_HIT])

    delivery = webhook_ping(user=user, webhook_id=endpoint.pk)
    webhook_deliveries_due(now=timezone.now())

    assert json.loads(receiver.received[0].body)["type"] == "ping"
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and not Alert.objects.exists()


def test_private_targets_are_refused_at_delivery_unless_allowed(user, receiver, settings):
    settings.HAUNT_WEBHOOK_MAX_ATTEMPTS = 1
    webhook_create(user=user, url=receiver.url.replace("127.0.0.1", "localhost"))
    settings.HAUNT_WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    raise_alert(user)

    webhook_deliveries_due(now=timezone.now())

    attempt = WebhookDelivery.objects.get().attempts.get()
    assert "localhost resolves to" in attempt.error and not attempt.succeeded
    assert receiver.received == []
