"""The embedded profile in one process: HTTP API, WebSocket, market feed and periodic jobs."""
import asyncio
import logging
import os

from django.conf import settings
from django.core.management.base import BaseCommand

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Serve the platform (Daphne); when embedded, also the market feed, order engine and beat schedule."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))

    def handle(self, *args, host, port, **options):
        # daphne.server installs Twisted's asyncio reactor on import: import it before anything else uses Twisted.
        from daphne.server import Server
        from twisted.internet import defer, reactor

        from config.asgi import application
        from haunt.market.feed import build_feed
        from haunt.periodic import freeze_startup_heap
        from haunt.scheduler import run_beat_schedule
        from orders.engine import OrderEngine, run_engine

        background = []
        stop = asyncio.Event()
        if settings.HAUNT_RUN_FEED_IN_PROCESS:
            self.stdout.write("Preparing market data (instrument registry, candle backfill)...")
            feed = build_feed()
            engine = OrderEngine()
            freeze_startup_heap()  # the feed's simulator and history, with the app loaded by config.asgi

            def start_background():
                loop = asyncio.get_event_loop()
                background.append(loop.create_task(feed.run(interval=settings.HAUNT_MARKET_INTERVAL, stop=stop)))
                background.append(loop.create_task(run_engine(engine=engine, interval=settings.HAUNT_ENGINE_INTERVAL,
                                                              stop=stop)))
                background.append(loop.create_task(run_beat_schedule(stop)))

            def stop_background():
                stop.set()
                return asyncio.ensure_future(asyncio.gather(*background, return_exceptions=True))

            reactor.callWhenRunning(start_background)
            reactor.addSystemEventTrigger("before", "shutdown", lambda: defer.Deferred.fromFuture(stop_background()))
        else:
            self.stdout.write("Market feed, order engine and periodic jobs are not started here (RUN_FEED_IN_PROCESS is off): "
                              "run manage.py run_market, run_engine and celery beat beside it.")

        self.stdout.write(f"Haunt Paper Trading on http://{host}:{port}/ (API docs: /api/docs/, guide: /docs/)")
        Server(
            application=application,
            endpoints=[f"tcp:port={port}:interface={host}"],
            signal_handlers=True,
            action_logger=None,
        ).run()
