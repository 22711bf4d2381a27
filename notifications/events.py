"""Realtime payloads for alerts; called only from notifications.services, always on commit."""
from haunt.realtime import alert_on_commit
from notifications.serializers import AlertOut


def alert_raised(alert) -> None:
    """An `Alert` message to its owner's sockets that subscribed to alerts: the same body as the
    alert's entry in GET /api/alerts/history."""
    alert_on_commit(user_id=alert.owner_id, data=dict(AlertOut(alert).data))
