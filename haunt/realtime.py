"""The only way events reach WebSocket subscribers, and the names of the groups they go to.

Domain events (orders, positions, portfolios) are sent on commit, from services only: a rolled-back
write never reaches a socket. Market data is sent by the feed directly, without a transaction.
"""
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def broadcast_on_commit(*, group: str, event: str, data: dict, change: str | None = None) -> None:
    """Send `data` to every socket in `group` once the current transaction commits; never on rollback.

    `change` names what happened to the object (created, filled, closed, ...) when the event
    type alone does not say.
    """
    message = {"type": "stream.event", "event": event, "data": data}
    if change is not None:
        message["change"] = change
    transaction.on_commit(lambda: async_to_sync(get_channel_layer().group_send)(group, message))


def portfolio_group(portfolio_id) -> str:
    return f"portfolio.{portfolio_id}"


def orders_group(portfolio_id) -> str:
    return f"orders.{portfolio_id}"


def positions_group(portfolio_id) -> str:
    return f"positions.{portfolio_id}"


def quotes_group(symbol: str) -> str:
    # Channel group names allow only ASCII letters, digits, hyphens, underscores and periods.
    return "quotes." + symbol.replace("/", "-").replace(" ", "_")


def orderbook_group(symbol: str) -> str:
    return "book." + symbol.replace("/", "-").replace(" ", "_")
