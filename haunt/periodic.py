"""The loop behind the long-running workers (market feed, order engine), and their heap."""
import asyncio
import gc
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


# Young collections between two full ones: 100 where Python's default is 10.
FULL_COLLECTION_EVERY = 100


def freeze_startup_heap() -> None:
    """Collect once, move every object alive now out of the collector's sight (gc.freeze), and
    make full collections ten times rarer.

    A long-running process keeps what it built at start-up (Django's apps, URL patterns and
    serializers, the feed's simulator, the engine's index) for good, yet each full collection walks
    all of it: on the benchmark machine a 180,000-object heap took 120 ms a collection, stalling the
    feed update or the socket writes it landed in. Frozen, those objects are never scanned again.
    What the process gathers later stays scanned: a socket server holding 250 connections still
    spent 90-100 ms per full collection, every 13 s or so under a quote fan-out, so full
    collections come ten times less often (reference cycles are freed later, not never)."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
