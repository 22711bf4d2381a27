"""The production cache keeps one redis.Redis per connection pool (haunt/cache.py)."""
import pytest
from django.conf import settings
from django.core.cache import cache

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="the Redis cache runs on the production profile")


def test_the_redis_cache_reuses_its_client_and_still_round_trips():
    client = cache._cache.get_client(write=True)
    assert cache._cache.get_client(write=True) is client
    assert cache._cache.get_client() is client  # one server: reads use the same pool

    cache.set("cache-test", {"bid": "1.5"}, 10)
    assert cache.get("cache-test") == {"bid": "1.5"}
    assert cache.get_many(["cache-test", "absent"]) == {"cache-test": {"bid": "1.5"}}
