import uuid

from haunt.errors import NotFound
from notifications.models import Alert, AlertChannelPreference, AlertType, WebhookDelivery, WebhookEndpoint


def webhook_list_for_user(*, user):
    return WebhookEndpoint.objects.filter(owner=user)


def _uuid_or_none(value) -> uuid.UUID | None:
    """`value` as a UUID; None for anything else (the URL pattern lets through some malformed ids)."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def webhook_get_for_user(*, user, webhook_id, for_update: bool = False) -> WebhookEndpoint:
    """The user's endpoint `webhook_id`; NotFound for someone else's, exactly as for none."""
    endpoints = WebhookEndpoint.objects.filter(owner=user, pk=_uuid_or_none(webhook_id))
    endpoint = (endpoints.select_for_update() if for_update else endpoints).first()
    if endpoint is None:
        raise NotFound("Webhook not found.", field="webhook_id")
    return endpoint


def delivery_list_for_webhook(*, user, webhook_id):
    endpoint = webhook_get_for_user(user=user, webhook_id=webhook_id)
    return WebhookDelivery.objects.filter(endpoint=endpoint).prefetch_related("attempts")


def delivery_get_for_user(*, user, webhook_id, delivery_id) -> WebhookDelivery:
    delivery = WebhookDelivery.objects.filter(endpoint__owner=user, endpoint_id=_uuid_or_none(webhook_id),
                                              pk=_uuid_or_none(delivery_id)).first()
    if delivery is None:
        raise NotFound("Delivery not found.", field="delivery_id")
    return delivery


def alert_list_for_user(*, user, alert_type: str | None = None, read: bool | None = None):
    alerts = Alert.objects.filter(owner=user)
    if alert_type is not None:
        alerts = alerts.filter(alert_type=alert_type)
    if read is not None:
        alerts = alerts.filter(read_at__isnull=not read)
    return alerts


def alert_preferences_for_user(*, user) -> list[dict]:
    """Every alert type's channels for the user (every channel where they chose nothing)."""
    chosen = {row.alert_type: row for row in AlertChannelPreference.objects.filter(owner=user)}
    return [{"alert_type": alert_type,
             "websocket": chosen[alert_type].websocket if alert_type in chosen else True,
             "webhook": chosen[alert_type].webhook if alert_type in chosen else True}
            for alert_type in AlertType.values]
