from rest_framework import serializers

from haunt.api.serializers import StrictInput
from notifications.models import Alert, AlertType, WebhookAttempt, WebhookDelivery, WebhookEndpoint


class AlertOut(serializers.ModelSerializer):
    portfolio = serializers.UUIDField(source="portfolio_id", allow_null=True)
    read = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = ["id", "alert_type", "message", "portfolio", "payload", "created_at", "read", "read_at"]
        read_only_fields = fields

    def get_read(self, alert) -> bool:
        return alert.read_at is not None


class AlertsMarkReadIn(StrictInput):
    ids = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=1000,
                                help_text="The alerts to mark read; leave out to mark every unread alert read.")


class AlertsMarkedOut(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many alerts were unread and are read now.")


class AlertPreferenceOut(serializers.Serializer):
    alert_type = serializers.ChoiceField(choices=AlertType.choices)
    websocket = serializers.BooleanField()
    webhook = serializers.BooleanField()


class AlertPreferenceIn(StrictInput):
    alert_type = serializers.ChoiceField(choices=AlertType.choices)
    websocket = serializers.BooleanField(required=False)
    webhook = serializers.BooleanField(required=False)


class AlertPreferencesIn(StrictInput):
    preferences = AlertPreferenceIn(many=True, allow_empty=False)


class WebhookOut(serializers.ModelSerializer):
    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "event_types", "is_active", "disabled_reason",
                  "previous_secret_expires_at", "last_sequence", "created_at", "updated_at"]
        read_only_fields = fields


class WebhookCreatedOut(WebhookOut):
    """A new endpoint, with its signing secret: the only answer that shows it."""

    class Meta(WebhookOut.Meta):
        fields = [*WebhookOut.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookSecretOut(serializers.Serializer):
    secret = serializers.CharField(help_text="The new signing secret, shown only in this answer.")
    previous_secret_expires_at = serializers.DateTimeField(
        help_text="Until then deliveries carry a signature with the old secret as well.")


class WebhookCreateIn(StrictInput):
    url = serializers.URLField(max_length=2000)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=AlertType.choices), required=False,
                                        help_text="The alert types to deliver; empty or left out: every type.")
    is_active = serializers.BooleanField(required=False)


class WebhookUpdateIn(WebhookCreateIn):
    url = serializers.URLField(max_length=2000, required=False)


class WebhookAttemptOut(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["number", "started_at", "address", "latency_ms", "response_status", "error", "succeeded"]
        read_only_fields = fields


class WebhookDeliveryOut(serializers.ModelSerializer):
    attempts = WebhookAttemptOut(many=True, read_only=True)
    replay_of = serializers.UUIDField(source="replay_of_id", allow_null=True)

    class Meta:
        model = WebhookDelivery
        fields = ["id", "event_id", "event_type", "event_created_at", "sequence", "status", "attempt_count",
                  "next_attempt_at", "replay_of", "created_at", "finished_at", "attempts"]
        read_only_fields = fields
