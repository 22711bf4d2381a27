"""ASGI entry point: HTTP through Django, /ws/ through the one stream consumer."""
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "haunt.settings.base")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()  # sets Django up before anything imports models

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402
from django.urls import get_resolver, path  # noqa: E402

from config.consumers import PlatformStreamConsumer  # noqa: E402
from haunt.accounts.websocket_auth import TokenAuthMiddleware  # noqa: E402
from haunt.periodic import freeze_startup_heap  # noqa: E402

websocket_urls = URLRouter([path("ws/", PlatformStreamConsumer.as_asgi())])

application = ProtocolTypeRouter({
    # Static files (admin, Swagger UI) are served by the app itself: no web server to install.
    "http": ASGIStaticFilesHandler(django_asgi_app),
    # No Origin check: sockets authenticate with an explicit token, not a cookie, so a foreign page
    # cannot ride a user's session (the attack origin checks exist for), and API clients such as
    # bots send no Origin header at all.
    "websocket": TokenAuthMiddleware(websocket_urls),
})

# Everything loaded so far lives as long as the process: keep full collections from rescanning it.
get_resolver().url_patterns  # the views, serializers and consumers the first request would load
freeze_startup_heap()
