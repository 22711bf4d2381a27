"""Test settings: base plus only what tests need (style guide §3.1)."""
import os
from urllib.parse import urlsplit

# Tests on PostgreSQL/Redis are a server profile, which requires a strong SECRET_KEY (50 characters,
# 5 distinct); any such value serves.
os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret-but-long-and-varied-enough-0123456789")

from .base import *  # noqa: E402,F403
from .base import CACHES, CHANNEL_LAYERS, HAUNT_MARKET_CHANNEL, HAUNT_ORDER_CHANGES_CHANNEL, REDIS_URL  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The test client speaks plain HTTP on both profiles; the server profile's redirect to HTTPS would
# answer every request with 301.
SECURE_SSL_REDIRECT = False
CELERY_TASK_ALWAYS_EAGER = True
HAUNT_RUN_FEED_IN_PROCESS = False
# Most tests run inside a transaction that never commits, so no change notice reaches the engine:
# it reconciles with the database on every tick. orders/tests/test_engine_changes.py turns this
# back up to test the notices themselves.
HAUNT_ENGINE_RECONCILE_SECONDS = 0

if REDIS_URL:
    # Parallel workers (pytest-xdist) share one Redis server: each gets its own database number, so
    # clearing the cache between tests never touches another worker's keys or channels.
    _worker_index = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    _worker_redis_url = urlsplit(REDIS_URL)._replace(path=f"/{1 + _worker_index % 15}").geturl()
    CACHES["default"]["LOCATION"] = _worker_redis_url
    CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"] = _worker_redis_url
    # Pub/sub ignores database numbers: each worker's feed gets its own market channel.
    HAUNT_MARKET_CHANNEL = f"{HAUNT_MARKET_CHANNEL}:{_worker_index}"
    HAUNT_ORDER_CHANGES_CHANNEL = f"{HAUNT_ORDER_CHANGES_CHANNEL}:{_worker_index}"
