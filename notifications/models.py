import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class AlertType(models.TextChoices):
    """What an alert is about (spec §13). Each goes to the WebSocket and to webhooks unless its
    owner's channel preferences say otherwise."""

    ORDER_FILLED = "order_filled", "Order filled"
    ORDER_CANCELLED = "order_cancelled", "Order cancelled or expired"
    STOP_LOSS_HIT = "stop_loss_hit", "Stop loss hit"
    TAKE_PROFIT_HIT = "take_profit_hit", "Take profit hit"
    WEBHOOK_DISABLED = "webhook_disabled", "Webhook endpoint disabled after repeated failures"


# The event a webhook test sends: delivered like an alert, never recorded as one.
PING_EVENT = "ping"


class Alert(models.Model):
    """One alert raised for a user: what they see in their alert history, read or unread."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alerts")
    portfolio = models.ForeignKey("portfolios.Portfolio", null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="alerts")
    alert_type = models.CharField(max_length=32, choices=AlertType.choices)
    message = models.CharField(max_length=300)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="alert_owner_created"),
            models.Index(fields=["owner", "read_at"], name="alert_owner_read", condition=Q(read_at__isnull=True)),
        ]

    def __str__(self):
        return f"{self.alert_type} for {self.owner_id} at {self.created_at:%Y-%m-%d %H:%M:%S}"


class AlertChannelPreference(models.Model):
    """Which channels one alert type goes to for one user; without a row, every channel."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_preferences")
    alert_type = models.CharField(max_length=32, choices=AlertType.choices)
    websocket = models.BooleanField(default=True)
    webhook = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "alert_type"], name="alert_preference_unique")]


class WebhookEndpoint(models.Model):
    """A URL a user's alerts are POSTed to, signed with the endpoint's secret."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    # The alert types delivered here; empty means every type.
    event_types = models.JSONField(default=list)
    is_active = models.BooleanField(default=True)
    secret = models.CharField(max_length=80)
    # The secret before the last rotation, still signed with until `previous_secret_expires_at`.
    previous_secret = models.CharField(max_length=80, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # The sequence number of the last delivery created for this endpoint (receivers order by it).
    last_sequence = models.PositiveBigIntegerField(default=0)
    # Deliveries dead-lettered in a row; a success resets it, and enough of them disable the endpoint.
    consecutive_dead_letters = models.PositiveIntegerField(default=0)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "-created_at"], name="webhook_owner_created")]

    def __str__(self):
        return f"{self.url} ({self.owner_id})"

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Waiting for its next attempt"
    SUCCEEDED = "succeeded", "Delivered"
    DEAD_LETTER = "dead_letter", "Given up after the last attempt"


class WebhookDelivery(models.Model):
    """One event to send to one endpoint, tried until it succeeds or its attempts run out."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    # The event's id: the receiver's idempotency key, the same on every attempt and on a replay.
    event_id = models.UUIDField()
    event_type = models.CharField(max_length=32)
    event_created_at = models.DateTimeField()
    payload = models.JSONField(default=dict)
    sequence = models.PositiveBigIntegerField()
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempt_count = models.PositiveSmallIntegerField(default=0)
    # When a pending delivery is next due; while an attempt runs, the end of that attempt's claim.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    replay_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replays")
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-sequence"]
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="delivery_endpoint_created"),
            models.Index(fields=["next_attempt_at"], name="delivery_due",
                         condition=Q(status="pending")),
        ]

    def __str__(self):
        return f"{self.event_type} #{self.sequence} to {self.endpoint_id}: {self.status}"


class WebhookAttempt(models.Model):
    """One POST of a delivery: when, to which address, how long it took, and what came back."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    address = models.CharField(max_length=64, blank=True)
    latency_ms = models.PositiveIntegerField()
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    succeeded = models.BooleanField()

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="attempt_number_unique")]
