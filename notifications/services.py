"""Alerts and webhooks: `notify`, which every layer above calls to raise an alert, the webhook
endpoints' settings, and the deliveries' attempts.

An alert is recorded in the caller's transaction. Once it commits, the alert goes to its owner's
sockets and one delivery per matching webhook endpoint is queued; a rolled-back write raises
nothing. Deliveries are sent outside any transaction: the HTTP exchange never holds a lock.
"""
import random
import secrets
import uuid
from datetime import datetime, timedelta

import orjson
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from haunt.errors import Conflict, DomainError
from notifications import events, outbound, signing, tasks
from notifications.models import (
    Alert,
    AlertChannelPreference,
    AlertType,
    DeliveryStatus,
    PING_EVENT,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from notifications.retries import retry_delay
from notifications.selectors import delivery_get_for_user, webhook_get_for_user

MAX_WEBHOOKS_PER_USER = 10
# How long the secret replaced by a rotation still signs deliveries, so receivers can switch over.
SECRET_GRACE_PERIOD = timedelta(hours=24)
# An attempt's claim on its delivery: longer than any exchange may last (outbound.TOTAL_SECONDS),
# so no second attempt starts while one runs; a worker that dies mid-attempt is retried after it.
ATTEMPT_CLAIM = timedelta(seconds=60)


def notify(*, user_id, alert_type: str, message: str, payload: dict, portfolio_id=None,
           now: datetime | None = None) -> Alert:
    """Raise an alert for `user_id`: record it, and on commit push it to their sockets and queue it
    for their webhook endpoints that take its type, as their channel preferences allow.

    Call inside the caller's transaction; `payload` must be JSON-ready (serializer output)."""
    assert transaction.get_connection().in_atomic_block, "notify needs the caller's transaction"
    alert = Alert.objects.create(owner_id=user_id, portfolio_id=portfolio_id, alert_type=alert_type,
                                 message=message[:300], payload=payload, created_at=now or timezone.now())
    preference = AlertChannelPreference.objects.filter(owner_id=user_id, alert_type=alert_type).first()
    if preference is None or preference.websocket:
        events.alert_raised(alert)
    if preference is None or preference.webhook:
        for endpoint in WebhookEndpoint.objects.select_for_update().filter(owner_id=user_id, is_active=True) \
                .order_by("pk"):
            if endpoint.wants(alert_type):
                _delivery_create(endpoint=endpoint, event_id=alert.pk, event_type=alert_type,
                                 event_created_at=alert.created_at, payload=_alert_event_data(alert))
    return alert


def _alert_event_data(alert: Alert) -> dict:
    return {"alert_id": str(alert.pk), "message": alert.message,
            "portfolio": None if alert.portfolio_id is None else str(alert.portfolio_id), **alert.payload}


def _delivery_create(*, endpoint: WebhookEndpoint, event_id, event_type: str, event_created_at: datetime,
                     payload: dict) -> WebhookDelivery:
    """A delivery numbered next in its endpoint's sequence; call with the endpoint row locked."""
    endpoint.last_sequence += 1
    endpoint.save(update_fields=["last_sequence"])
    now = timezone.now()
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event_id=event_id, event_type=event_type, event_created_at=event_created_at,
        payload=payload, sequence=endpoint.last_sequence, next_attempt_at=now, created_at=now)
    _first_attempt_on_commit(delivery)
    return delivery


def _first_attempt_on_commit(delivery: WebhookDelivery) -> None:
    # With tasks run eagerly (the embedded profile), a task queued on commit would run in the
    # committing thread, holding an order fill or an API request up for a receiver's answer; there
    # the periodic sweep (notifications.deliver_due, every few seconds) makes the first attempt.
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        tasks.deliver_webhook.delay_on_commit(str(delivery.pk))


# --- Endpoints -------------------------------------------------------------------------------------

def _new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _check_url(url: str) -> None:
    reason = outbound.url_refusal(url) or outbound.literal_address_refusal(
        url, allow_private=settings.HAUNT_WEBHOOKS_ALLOW_PRIVATE_TARGETS)
    if reason is not None:
        raise DomainError(reason, code="webhook_url_refused", field="url")


def _event_types(event_types) -> list[str]:
    return list(dict.fromkeys(event_types))


@transaction.atomic
def webhook_create(*, user, url: str, description: str = "", event_types=(), is_active: bool = True) -> WebhookEndpoint:
    """A new endpoint with a fresh secret (its creator's only chance to read it)."""
    _check_url(url)
    if WebhookEndpoint.objects.filter(owner=user).count() >= MAX_WEBHOOKS_PER_USER:
        raise Conflict(f"At most {MAX_WEBHOOKS_PER_USER} webhook endpoints per user.", code="too_many_webhooks")
    return WebhookEndpoint.objects.create(owner=user, url=url, description=description,
                                          event_types=_event_types(event_types), is_active=is_active,
                                          secret=_new_secret())


@transaction.atomic
def webhook_update(*, user, webhook_id, **changes) -> WebhookEndpoint:
    """Change what was sent; turning an endpoint back on clears its failure count."""
    endpoint = webhook_get_for_user(user=user, webhook_id=webhook_id, for_update=True)
    if "url" in changes:
        _check_url(changes["url"])
        endpoint.url = changes["url"]
    if "description" in changes:
        endpoint.description = changes["description"]
    if "event_types" in changes:
        endpoint.event_types = _event_types(changes["event_types"])
    if "is_active" in changes:
        if changes["is_active"] and not endpoint.is_active:
            endpoint.consecutive_dead_letters = 0
            endpoint.disabled_reason = ""
        endpoint.is_active = changes["is_active"]
    endpoint.save()
    return endpoint


@transaction.atomic
def webhook_delete(*, user, webhook_id) -> None:
    webhook_get_for_user(user=user, webhook_id=webhook_id, for_update=True).delete()


@transaction.atomic
def webhook_rotate_secret(*, user, webhook_id, now: datetime | None = None) -> WebhookEndpoint:
    """A new secret; the old one still signs deliveries for SECRET_GRACE_PERIOD beside it."""
    now = now or timezone.now()
    endpoint = webhook_get_for_user(user=user, webhook_id=webhook_id, for_update=True)
    endpoint.previous_secret, endpoint.secret = endpoint.secret, _new_secret()
    endpoint.previous_secret_expires_at = now + SECRET_GRACE_PERIOD
    endpoint.save(update_fields=["previous_secret", "secret", "previous_secret_expires_at", "updated_at"])
    return endpoint


@transaction.atomic
def webhook_ping(*, user, webhook_id, now: datetime | None = None) -> WebhookDelivery:
    """Queue a `ping` event to the endpoint (whatever its event filter) to check it is reachable."""
    now = now or timezone.now()
    endpoint = webhook_get_for_user(user=user, webhook_id=webhook_id, for_update=True)
    if not endpoint.is_active:
        raise Conflict("The endpoint is inactive: turn it on first.", code="webhook_inactive")
    return _delivery_create(endpoint=endpoint, event_id=uuid.uuid4(), event_type=PING_EVENT, event_created_at=now,
                            payload={"message": "A test event from Haunt Paper Trading."})


@transaction.atomic
def webhook_delivery_replay(*, user, webhook_id, delivery_id) -> WebhookDelivery:
    """Send a finished delivery's event again: the same event id (receivers that saw it can tell),
    type, time, payload and sequence number, with a fresh set of attempts."""
    original = delivery_get_for_user(user=user, webhook_id=webhook_id, delivery_id=delivery_id)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=original.endpoint_id)
    if not endpoint.is_active:
        raise Conflict("The endpoint is inactive: turn it on first.", code="webhook_inactive")
    if original.status == DeliveryStatus.PENDING:
        raise Conflict("The delivery is still being attempted.", code="delivery_pending")
    now = timezone.now()
    replay = WebhookDelivery.objects.create(
        endpoint=endpoint, event_id=original.event_id, event_type=original.event_type,
        event_created_at=original.event_created_at, payload=original.payload, sequence=original.sequence,
        next_attempt_at=now, created_at=now, replay_of=original)
    _first_attempt_on_commit(replay)
    return replay


# --- Alerts ----------------------------------------------------------------------------------------

@transaction.atomic
def alerts_mark_read(*, user, alert_ids=None, now: datetime | None = None) -> int:
    """Mark the user's unread alerts among `alert_ids` (all of them when None) read; how many were."""
    unread = Alert.objects.filter(owner=user, read_at__isnull=True)
    if alert_ids is not None:
        unread = unread.filter(pk__in=alert_ids)
    return unread.update(read_at=now or timezone.now())


@transaction.atomic
def alert_preferences_set(*, user, preferences: list[dict]) -> None:
    """Set the channels of each alert type given (a channel left out keeps its setting)."""
    for preference in preferences:
        channels = {channel: preference[channel] for channel in ("websocket", "webhook") if channel in preference}
        row, created = AlertChannelPreference.objects.select_for_update().get_or_create(
            owner=user, alert_type=preference["alert_type"], defaults=channels)
        if not created and channels:
            for channel, enabled in channels.items():
                setattr(row, channel, enabled)
            row.save(update_fields=list(channels))


# --- Delivery --------------------------------------------------------------------------------------

def event_body(delivery: WebhookDelivery) -> bytes:
    """The POST body: the event's id, type, time and data."""
    return orjson.dumps({"id": str(delivery.event_id), "type": delivery.event_type,
                         "created_at": delivery.event_created_at.isoformat().replace("+00:00", "Z"),
                         "data": delivery.payload})


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the previous one in its grace period."""
    if endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now:
        return [endpoint.secret, endpoint.previous_secret]
    return [endpoint.secret]


def delivery_headers(delivery: WebhookDelivery, endpoint: WebhookEndpoint, *, body: bytes, now: datetime) -> dict:
    timestamp = int(now.timestamp())
    return {
        "Content-Type": "application/json",
        "User-Agent": "Haunt-Webhooks/1",
        "Haunt-Signature": signing.signature_header(secrets=signing_secrets(endpoint, now), timestamp=timestamp,
                                                    body=body),
        "Haunt-Timestamp": str(timestamp),
        "Haunt-Event-Id": str(delivery.event_id),
        "Idempotency-Key": str(delivery.event_id),
        "Haunt-Sequence": str(delivery.sequence),
        "Haunt-Delivery-Attempt": str(delivery.attempt_count),
    }


def webhook_deliver(*, delivery_id, now: datetime | None = None) -> WebhookDelivery | None:
    """Make a delivery's next attempt if it is due, and record what came of it: success, a retry
    scheduled after a backoff, or (after the last attempt) a dead letter. Idempotent: a delivery
    that is not due, finished or being attempted elsewhere is left alone (None)."""
    now = now or timezone.now()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update(of=("self",)).select_related("endpoint") \
            .filter(pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now).first()
        if delivery is None:
            return None
        endpoint = delivery.endpoint
        if not endpoint.is_active:
            delivery.status, delivery.finished_at, delivery.next_attempt_at = DeliveryStatus.DEAD_LETTER, now, None
            delivery.save(update_fields=["status", "finished_at", "next_attempt_at"])
            return delivery
        delivery.attempt_count += 1
        delivery.next_attempt_at = now + ATTEMPT_CLAIM
        delivery.save(update_fields=["attempt_count", "next_attempt_at"])

    body = event_body(delivery)
    outcome = outbound.post(endpoint.url, body=body, headers=delivery_headers(delivery, endpoint, body=body, now=now),
                            allow_private=settings.HAUNT_WEBHOOKS_ALLOW_PRIVATE_TARGETS)
    return _attempt_record(delivery_id=delivery.pk, number=delivery.attempt_count, started_at=now, outcome=outcome)


@transaction.atomic
def _attempt_record(*, delivery_id, number: int, started_at: datetime,
                    outcome: outbound.Outcome) -> WebhookDelivery | None:
    delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery_id).first()
    if delivery is None:  # its endpoint was deleted while the attempt ran
        return None
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
    WebhookAttempt.objects.create(delivery=delivery, number=number, started_at=started_at,
                                  address=outcome.address or "", latency_ms=outcome.latency_ms,
                                  response_status=outcome.status_code, error=outcome.error,
                                  succeeded=outcome.succeeded)
    if outcome.succeeded:
        delivery.status, delivery.finished_at, delivery.next_attempt_at = DeliveryStatus.SUCCEEDED, timezone.now(), None
        if endpoint.consecutive_dead_letters:
            endpoint.consecutive_dead_letters = 0
            endpoint.save(update_fields=["consecutive_dead_letters"])
    elif number >= settings.HAUNT_WEBHOOK_MAX_ATTEMPTS:
        delivery.status, delivery.finished_at, delivery.next_attempt_at = DeliveryStatus.DEAD_LETTER, timezone.now(), None
        _dead_letter_count(endpoint, delivery)
    else:
        delivery.next_attempt_at = started_at + retry_delay(failed_attempts=number, draw=random.random())
    delivery.save(update_fields=["status", "finished_at", "next_attempt_at"])
    return delivery


def _dead_letter_count(endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> None:
    """One more dead letter in a row; enough of them turn the endpoint off and tell its owner."""
    endpoint.consecutive_dead_letters = F("consecutive_dead_letters") + 1
    endpoint.save(update_fields=["consecutive_dead_letters"])
    endpoint.refresh_from_db(fields=["consecutive_dead_letters"])
    if endpoint.is_active and endpoint.consecutive_dead_letters >= settings.HAUNT_WEBHOOK_DISABLE_AFTER_DEAD_LETTERS:
        endpoint.is_active = False
        endpoint.disabled_reason = (f"Turned off after {endpoint.consecutive_dead_letters} deliveries in a row "
                                    f"failed every attempt.")
        endpoint.save(update_fields=["is_active", "disabled_reason", "updated_at"])
        notify(user_id=endpoint.owner_id, alert_type=AlertType.WEBHOOK_DISABLED,
               message=f"Webhook {endpoint.url} was turned off: {endpoint.disabled_reason}",
               payload={"webhook": str(endpoint.pk), "url": endpoint.url,
                        "last_delivery": str(delivery.pk), "last_error": delivery.attempts.last().error})


def webhook_deliveries_due(*, now: datetime | None = None, limit: int = 50) -> int:
    """Attempt every delivery due by `now` (first attempts the task queue did not make, retries
    whose backoff has passed, attempts whose worker died), oldest first, at most `limit`; how many
    were attempted."""
    now = now or timezone.now()
    due = list(WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
               .order_by("next_attempt_at", "sequence").values_list("pk", flat=True)[:limit])
    return sum(webhook_deliver(delivery_id=delivery_id, now=now) is not None for delivery_id in due)
