"""The Celery app (Celery's Django guide). Production: `celery -A haunt.celery worker` and
`celery -A haunt.celery beat`; the embedded profile runs the same schedule in-process."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "haunt.settings.base")

app = Celery("haunt")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Every installed app's tasks module (INSTALLED_APPS): the platform names none of the apps above it.
app.autodiscover_tasks()
