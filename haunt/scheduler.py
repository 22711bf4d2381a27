"""Runs CELERY_BEAT_SCHEDULE inside the platform process on the embedded profile.

Production runs the same dict with `celery beat`; here each due task runs in a worker thread, so
both profiles execute exactly the same jobs on the same schedule. Celery's own schedule objects
decide when an entry is due, so crontab semantics are Celery's.
"""
import asyncio
import logging
from datetime import timedelta

from celery import current_app
from celery.schedules import schedule as every
from channels.db import database_sync_to_async
from django.conf import settings

logger = logging.getLogger(__name__)

CHECK_SECONDS = 1.0


def _schedule_object(entry: dict):
    value = entry["schedule"]
    if isinstance(value, (int, float)):
        return every(timedelta(seconds=value), app=current_app)
    if isinstance(value, timedelta):
        return every(value, app=current_app)
    return value


async def run_beat_schedule(stop: asyncio.Event) -> None:
    app = current_app
    entries = {name: (entry["task"], _schedule_object(entry)) for name, entry in settings.CELERY_BEAT_SCHEDULE.items()}
    started = app.now()
    last_run = dict.fromkeys(entries, started)  # like beat: the first run is at the next due time
    while not stop.is_set():
        for name, (task_name, schedule) in entries.items():
            is_due, _ = schedule.is_due(last_run[name])
            if not is_due:
                continue
            last_run[name] = app.now()
            try:
                result = await database_sync_to_async(app.tasks[task_name].apply)()
                logger.info("Periodic job %s (%s) finished: %r", name, task_name, result.result)
            except Exception:  # one failing job must not stop the others
                logger.exception("Periodic job %s (%s) failed", name, task_name)
        try:
            await asyncio.wait_for(stop.wait(), timeout=CHECK_SECONDS)
        except TimeoutError:
            pass
