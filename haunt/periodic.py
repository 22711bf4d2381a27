"""The loop behind the long-running workers (market feed, order engine)."""
import asyncio
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


async def run_every(*, interval: float, stop: asyncio.Event, step: Callable[[], Awaitable[None]], name: str) -> None:
    """Await `step` every `interval` seconds of wall-clock time until `stop` is set.

    A failing step is logged and the next one runs: the worker must outlive one bad step (a cache
    or database hiccup). A slow step is not caught up with a burst: the schedule restarts from now.
    """
    loop = asyncio.get_running_loop()
    next_run = loop.time()
    while not stop.is_set():
        try:
            await step()
        except Exception:
            logger.exception("%s step failed", name)
        next_run += interval
        delay = next_run - loop.time()
        if delay < 0:
            next_run, delay = loop.time(), 0
        try:
            await asyncio.wait_for(stop.wait(), timeout=delay)
        except TimeoutError:
            pass
