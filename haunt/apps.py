from django.apps import AppConfig


class HauntConfig(AppConfig):
    name = "haunt"
    verbose_name = "Haunt platform"

    def ready(self):
        # Loading the Celery app here (not in haunt/__init__.py) binds @shared_task to the
        # configured app while keeping `import haunt.money` free of Django (style guide §3.10).
        from haunt.celery import app  # noqa: F401
