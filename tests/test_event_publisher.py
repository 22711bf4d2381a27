"""haunt.realtime.EventPublisher: everything queued when its loop wakes leaves as one group message
per portfolio, each portfolio's events in the order they were committed."""
import asyncio

from haunt.realtime import (
    PORTFOLIO_ROOM,
    USER_ROOM,
    EventPublisher,
    events_message,
    portfolio_events_group,
    user_alerts_group,
)


class RecordingLayer:
    """A channel layer that keeps what it is asked to send."""

    def __init__(self):
        self.sent: list[tuple[str, dict]] = []

    async def group_send(self, group, message):
        self.sent.append((group, message))


def event(name: str) -> dict:
    return {"stream": "orders", "event": name, "data": {}}


def test_queued_events_leave_as_one_message_per_portfolio_in_commit_order():
    layer = RecordingLayer()
    publisher = EventPublisher()
    publisher._pending = 5

    async def run():
        queue = asyncio.Queue()
        for portfolio_id, name in [("a", "a1"), ("b", "b1"), ("a", "a2"), ("a", "a3"), ("b", "b2")]:
            queue.put_nowait((layer, (PORTFOLIO_ROOM, portfolio_id), event(name)))
        draining = asyncio.create_task(publisher._drain(queue))
        while publisher._pending:
            await asyncio.sleep(0.01)
        draining.cancel()

    asyncio.run(run())

    assert layer.sent == [
        (portfolio_events_group("a"), events_message("a", [event("a1"), event("a2"), event("a3")])),
        (portfolio_events_group("b"), events_message("b", [event("b1"), event("b2")])),
    ]
    assert publisher.flush(timeout=0)


def test_a_failed_send_loses_only_its_portfolio_batch():
    class FailingForA(RecordingLayer):
        async def group_send(self, group, message):
            if group == portfolio_events_group("a"):
                raise ConnectionError("Redis restarting")
            await super().group_send(group, message)

    layer = FailingForA()
    publisher = EventPublisher()
    publisher._pending = 2

    async def run():
        queue = asyncio.Queue()
        queue.put_nowait((layer, (PORTFOLIO_ROOM, "a"), event("a1")))
        queue.put_nowait((layer, (PORTFOLIO_ROOM, "b"), event("b1")))
        draining = asyncio.create_task(publisher._drain(queue))
        while publisher._pending:
            await asyncio.sleep(0.01)
        draining.cancel()

    asyncio.run(run())

    assert layer.sent == [(portfolio_events_group("b"), events_message("b", [event("b1")]))]


def test_a_users_alerts_leave_as_one_message_to_their_alerts_group_beside_portfolio_events():
    layer = RecordingLayer()
    publisher = EventPublisher()
    publisher._pending = 3
    alerts = [{"id": "1", "alert_type": "order_filled"}, {"id": "2", "alert_type": "stop_loss_hit"}]

    async def run():
        queue = asyncio.Queue()
        queue.put_nowait((layer, (USER_ROOM, "7"), alerts[0]))
        queue.put_nowait((layer, (PORTFOLIO_ROOM, "7"), event("a1")))
        queue.put_nowait((layer, (USER_ROOM, "7"), alerts[1]))
        draining = asyncio.create_task(publisher._drain(queue))
        while publisher._pending:
            await asyncio.sleep(0.01)
        draining.cancel()

    asyncio.run(run())

    assert layer.sent == [
        (user_alerts_group("7"), {"type": "stream.alerts", "alerts": alerts}),
        (portfolio_events_group("7"), events_message("7", [event("a1")])),
    ]
