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
FREQUENT = timedelta(minutes=1)


def _schedule_object(entry: dict):
    value = entry["schedule"]
    if isinstance(value, (int, float)):
        return every(timedelta(seconds=value), app=current_app)
    if isinstance(value, timedelta):
        return every(value, app=current_app)
    return value


def beat_entries() -> dict:
    """Each CELERY_BEAT_SCHEDULE entry as (task, schedule), its task resolved at start.

    Autodiscovered task modules are imported first, as `celery beat` and the worker do: nothing
    else in this process imports them. An entry naming no registered task is logged and left
    out, so that it cannot stop the other jobs."""
    app = current_app
    app.loader.import_default_modules()
    entries = {}
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        if entry["task"] not in app.tasks:
            logger.error("Periodic job %s names no registered task %r: not scheduled", name, entry["task"])
            continue
        entries[name] = (app.tasks[entry["task"]], _schedule_object(entry))
    return entries


async def run_beat_schedule(stop: asyncio.Event) -> None:
    app = current_app
    entries = beat_entries()
    started = app.now()
    last_run = dict.fromkeys(entries, started)  # like beat: the first run is at the next due time
    while not stop.is_set():
        for name, (task, schedule) in entries.items():
            is_due, _ = schedule.is_due(last_run[name])
            if not is_due:
                continue
            last_run[name] = app.now()
            task_name = task.name
            try:
                result = await database_sync_to_async(task.apply)()
                # Jobs that run every few seconds (option quotes) would flood the log at INFO.
                level = logging.DEBUG if isinstance(schedule, every) and schedule.run_every < FREQUENT else logging.INFO
                logger.log(level, "Periodic job %s (%s) finished: %r", name, task_name, result.result)
            except Exception:  # one failing job must not stop the others
                logger.exception("Periodic job %s (%s) failed", name, task_name)
        try:
            await asyncio.wait_for(stop.wait(), timeout=CHECK_SECONDS)
        except TimeoutError:
            pass
