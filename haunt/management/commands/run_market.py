"""The production market process: the simulator feed publishing to Redis (cache and channel layer)."""
import asyncio
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Run the market feed (production profile: one process per deployment)."

    def handle(self, *args, **options):
        if settings.EMBEDDED:
            raise CommandError("REDIS_URL is not set: on the embedded profile the feed runs inside run_platform.")
        from haunt.market.feed import build_feed
        from haunt.periodic import freeze_startup_heap

        feed = build_feed()
        freeze_startup_heap()
        self.stdout.write(f"Market feed running: {len(feed.instrument_ids)} instruments every "
                          f"{settings.HAUNT_MARKET_INTERVAL} s")

        async def main():
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            await feed.run(interval=settings.HAUNT_MARKET_INTERVAL, stop=stop)

        asyncio.run(main())
