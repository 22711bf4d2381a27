"""GET /api/health: is every part the platform depends on answering?"""
import logging
import time
import uuid
from datetime import UTC, datetime

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from haunt.market.state import feed_status_read

logger = logging.getLogger(__name__)

# The feed counts as down when it has not published for this many update intervals (and at least 5 s).
FEED_STALE_INTERVALS = 20


class HealthCheckOut(serializers.Serializer):
    """One dependency's check; the fields after `latency_ms` vary by check (engine, backend, the
    feed's last update)."""

    ok = serializers.BooleanField()
    latency_ms = serializers.FloatField(help_text="How long the check took.")
    error = serializers.CharField(required=False, help_text="Why the check failed (only when ok is false).")


class HealthChecksOut(serializers.Serializer):
    database = HealthCheckOut(help_text="A SELECT 1; `engine` is sqlite or postgresql.")
    cache = HealthCheckOut(help_text="A write read back; `backend` names the cache.")
    channel_layer = HealthCheckOut(help_text="A message sent to and received from a fresh channel; `backend` names the layer.")
    feed = HealthCheckOut(help_text="The market feed's last update: `timestamp`, `sequence`, `instruments`, `sources`, "
                                    "`age_seconds`; down when older than 20 update intervals (at least 5 s).")


class HealthOut(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["ok", "starting", "degraded"],
        help_text="starting (with 503) while the market feed has yet to publish and every other check passes; "
                  "degraded (with 503) when any check fails.")
    profile = serializers.ChoiceField(choices=["embedded", "production"])
    checks = HealthChecksOut()


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        detail = check() or {}
        ok = True
    except Exception as error:  # a health check reports any failure instead of raising it
        detail, ok = {"error": f"{type(error).__name__}: {error}"}, False
    return {"ok": ok, "latency_ms": round((time.perf_counter() - started) * 1000, 2), **detail}


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"engine": connection.vendor}


def _cache():
    key, value = f"health:{uuid.uuid4().hex}", uuid.uuid4().hex
    cache.set(key, value, timeout=10)
    if cache.get(key) != value:
        raise RuntimeError("value written was not read back")
    cache.delete(key)
    return {"backend": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]}


async def _channel_round_trip():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "health.ping"})
    message = await layer.receive(channel)
    if message.get("type") != "health.ping":
        raise RuntimeError("unexpected message")


def _channel_layer():
    async_to_sync(_channel_round_trip)()
    return {"backend": settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]}


class FeedNotPublishedYet(RuntimeError):
    pass


def _feed():
    status = feed_status_read()
    if status is None:
        raise FeedNotPublishedYet("the market feed has not published (is the feed process running?)")
    age = (datetime.now(UTC) - datetime.fromisoformat(status["timestamp"])).total_seconds()
    allowed = max(5.0, FEED_STALE_INTERVALS * settings.HAUNT_MARKET_INTERVAL)
    if age > allowed:
        raise RuntimeError(f"last update {age:.1f} s ago (allowed {allowed:.1f} s)")
    return {**status, "age_seconds": round(age, 3)}


class HealthView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(tags=["platform"], auth=[], summary="Database, cache, channel layer and market feed status",
                   responses={200: HealthOut, 503: HealthOut})
    def get(self, request):
        checks = {
            "database": _timed(_database),
            "cache": _timed(_cache),
            "channel_layer": _timed(_channel_layer),
            "feed": _timed(_feed),
        }
        failed = [name for name, check in checks.items() if not check["ok"]]
        # Only the feed failing, for want of a first update: the platform is coming up, not broken.
        starting = failed == ["feed"] and checks["feed"]["error"].startswith(FeedNotPublishedYet.__name__)
        body = {
            "status": "ok" if not failed else "starting" if starting else "degraded",
            "profile": "embedded" if settings.EMBEDDED else "production",
            "checks": checks,
        }
        response = Response(body, status=503 if failed else 200)
        if starting:
            logger.info("Health probe before the market feed's first update: starting")
            # Django logs every 5xx as an ERROR; coming up is not one, and it is logged just above.
            response._has_been_logged = True
        return response
