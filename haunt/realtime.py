"""The only way events reach WebSocket subscribers, and the names of the groups they go to.

Domain events (orders, positions, portfolios) are sent on commit, from services only: a rolled-back
write never reaches a socket. Market data is sent by the feed directly, without a transaction.
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
    waited for sockets it does not serve. Here the commit only queues the message; one loop that
    owns its own Redis connections sends them one after another, so subscribers still see events in
    commit order. A forked process (Celery's prefork pool) starts its own loop on first use.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue | None = None
        self._pending = 0
        self._idle = threading.Condition()

    def publish(self, group: str, message: dict) -> None:
        layer = get_channel_layer()
        if isinstance(layer, InMemoryChannelLayer):
            # The in-process layer's queues belong to the server's own loop: hand the message to it.
            async_to_sync(layer.group_send)(group, message)
            return
        loop, queue = self._running()
        with self._idle:
            self._pending += 1
        loop.call_soon_threadsafe(queue.put_nowait, (layer, group, message))

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
            layer, group, message = await queue.get()
            try:
                await layer.group_send(group, message)
            except Exception:  # one failed send (Redis restarting) must not stop every later event
                logger.exception("Could not send %s to %s", message.get("event"), group)
            with self._idle:
                self._pending -= 1
                if self._pending == 0:
                    self._idle.notify_all()


publisher = EventPublisher()
atexit.register(publisher.flush)


def broadcast_on_commit(*, group: str, event: str, data: dict, change: str | None = None) -> None:
    """Send `data` to every socket in `group` once the current transaction commits; never on rollback.

    `change` names what happened to the object (created, filled, closed, ...) when the event
    type alone does not say.
    """
    message = {"type": "stream.event", "event": event, "data": data}
    if change is not None:
        message["change"] = change
    transaction.on_commit(lambda: publisher.publish(group, message))


def portfolio_group(portfolio_id) -> str:
    return f"portfolio.{portfolio_id}"


def orders_group(portfolio_id) -> str:
    return f"orders.{portfolio_id}"


def positions_group(portfolio_id) -> str:
    return f"positions.{portfolio_id}"
