from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """The project root: it composes the apps (URLs, the ASGI/WSGI entry points, the WebSocket
    consumer, the commands that start processes) and may import any of them; no app imports it."""

    name = "config"
    verbose_name = "Haunt project root"
