"""WSGI entry point: the production profile's REST tier (granian). WebSockets stay on ASGI
(config.asgi under Daphne); both serve the same URLs and the same Django project."""
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "haunt.settings.base")

from django.contrib.staticfiles.handlers import StaticFilesHandler  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.urls import get_resolver  # noqa: E402

from haunt.periodic import freeze_startup_heap  # noqa: E402

# Static files (admin, Swagger UI, this guide's assets) are served by the app itself, as on ASGI.
application = StaticFilesHandler(get_wsgi_application())

# Everything loaded so far lives as long as the process: keep full collections from rescanning it.
get_resolver().url_patterns  # the views, serializers and consumers the first request would load
freeze_startup_heap()
