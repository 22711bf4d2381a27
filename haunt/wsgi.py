"""WSGI entry point: the production profile's REST tier (granian). WebSockets stay on ASGI
(haunt.asgi under Daphne); both serve the same URLs and the same Django project."""
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "haunt.settings.base")

from django.contrib.staticfiles.handlers import StaticFilesHandler  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

# Static files (admin, Swagger UI, this guide's assets) are served by the app itself, as on ASGI.
application = StaticFilesHandler(get_wsgi_application())
