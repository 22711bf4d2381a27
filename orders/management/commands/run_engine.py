"""The production order engine process: one per deployment (PostgreSQL + Redis)."""
import asyncio
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Run the order engine: fires stops, take-profits, trailing stops and resting limits, executes orders " \
           "whose latency has passed, expires GTD/DAY orders."

    def handle(self, *args, **options):
        if settings.EMBEDDED:
            raise CommandError("REDIS_URL is not set: on the embedded profile the engine runs inside run_platform.")
        from orders.engine import OrderEngine, run_engine

        self.stdout.write(f"Order engine running every {settings.HAUNT_ENGINE_INTERVAL} s")

        async def main():
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            await run_engine(engine=OrderEngine(), interval=settings.HAUNT_ENGINE_INTERVAL, stop=stop)

        asyncio.run(main())
