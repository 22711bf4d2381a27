"""The only way events reach WebSocket subscribers, and the groups they go to.

Domain events (orders, positions, portfolios) are sent on commit, from services only: a rolled-back
write never reaches a socket. Market data is sent by the feed directly, without a transaction.

Every domain event of a portfolio goes to one channel-layer group, `events.<portfolio id>`, tagged
with the stream it belongs to (portfolio, orders or positions); a socket joins the group once for
whichever of the portfolio's streams it subscribes to and forwards only those. One fill makes five
events (OrderUpdate twice, TradeExecution, PositionUpdate, PortfolioUpdate): the publisher sends
the events queued for a portfolio by the time its loop wakes as one group message, so a fill
usually costs one group send instead of five and each socket receives one message instead of five.
All of a portfolio's events a process commits reach a socket in commit order, whatever streams
they are on.

Alerts belong to a user rather than to one portfolio: they go to the user's group,
`alerts.<user id>`, which a socket joins with SubscribeAlerts, through the same publisher.
"""
import asyncio
import atexit
import logging
import os
import threading

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


class EventPublisher:
    """Sends committed events to the channel layer from one background event loop per process, in
    the order they were committed.

    With Redis a group send is two to four round trips. Made from the request's own thread (through
    async_to_sync) it held every write for ~3 ms per event — five events per fill — and the request
    waited for sockets it does not serve. Here the commit only queues the event; one loop that owns
    its own Redis connections takes everything queued, and sends each portfolio's events, in commit
    order, as one group message. A forked process (Celery's prefork pool) starts its own loop on
    first use.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue | None = None
        self._pending = 0
        self._idle = threading.Condition()

    def publish(self, portfolio_id: str, event: dict) -> None:
        self._enqueue((PORTFOLIO_ROOM, portfolio_id), event)

    def publish_alert(self, user_id: str, alert: dict) -> None:
        self._enqueue((USER_ROOM, user_id), alert)

    def _enqueue(self, room: tuple[str, str], event: dict) -> None:
        layer = get_channel_layer()
        if isinstance(layer, InMemoryChannelLayer):
            # The in-process layer's queues belong to the server's own loop: hand the event to it.
            async_to_sync(layer.group_send)(*room_message(room, [event]))
            return
        loop, queue = self._running()
        with self._idle:
            self._pending += 1
        loop.call_soon_threadsafe(queue.put_nowait, (layer, room, event))

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued event has been handed to the channel layer (process exit, tests)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    def _running(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Queue]:
        with self._lock:
            if self._pid != os.getpid():
                self._pid, self._pending = os.getpid(), 0
                self._loop = asyncio.new_event_loop()
                self._queue = asyncio.Queue()
                threading.Thread(target=self._run, args=(self._loop, self._queue), name="event-publisher",
                                 daemon=True).start()
            return self._loop, self._queue

    def _run(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue) -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(self._drain(queue))

    async def _drain(self, queue: asyncio.Queue) -> None:
        while True:
            queued = [await queue.get()]
            while not queue.empty():
                queued.append(queue.get_nowait())
            by_room: dict[tuple, list[dict]] = {}  # insertion order: the first event's
            for layer, room, event in queued:
                by_room.setdefault((layer, room), []).append(event)
            for (layer, room), events in by_room.items():
                try:
                    await layer.group_send(*room_message(room, events))
                except Exception:  # one failed send (Redis restarting) must not stop every later event
                    logger.exception("Could not send %d event(s) to %s %s", len(events), *room)
            with self._idle:
                self._pending -= len(queued)
                if self._pending == 0:
                    self._idle.notify_all()


publisher = EventPublisher()
atexit.register(publisher.flush)


# The streams of a portfolio a socket subscribes to (SubscribePortfolio, SubscribeOrders, SubscribePositions).
PORTFOLIO, ORDERS, POSITIONS = "portfolio", "orders", "positions"


def broadcast_on_commit(*, portfolio_id, stream: str, event: str, data: dict, change: str | None = None) -> None:
    """Send `data` to the sockets following the portfolio's `stream` once the current transaction
    commits; never on rollback.

    `change` names what happened to the object (created, filled, closed, ...) when the event
    type alone does not say.
    """
    message = {"stream": stream, "event": event, "data": data}
    if change is not None:
        message["change"] = change
    transaction.on_commit(lambda: publisher.publish(str(portfolio_id), message))


def alert_on_commit(*, user_id, data: dict) -> None:
    """Send an alert to the sockets of its owner that subscribed to alerts once the current
    transaction commits; never on rollback."""
    transaction.on_commit(lambda: publisher.publish_alert(str(user_id), data))


# What a queued event is addressed to: a portfolio's event streams or a user's alerts.
PORTFOLIO_ROOM, USER_ROOM = "portfolio", "user"


def room_message(room: tuple[str, str], events: list[dict]) -> tuple[str, dict]:
    """The group and the channel-layer message carrying a room's events, oldest first."""
    kind, key = room
    if kind == USER_ROOM:
        return user_alerts_group(key), {"type": "stream.alerts", "alerts": events}
    return portfolio_events_group(key), events_message(key, events)


def user_alerts_group(user_id) -> str:
    return f"alerts.{user_id}"


def portfolio_events_group(portfolio_id) -> str:
    return f"events.{portfolio_id}"


def events_message(portfolio_id: str, events: list[dict]) -> dict:
    """The channel-layer message carrying a portfolio's events, oldest first."""
    return {"type": "stream.events", "portfolio_id": portfolio_id, "events": events}
