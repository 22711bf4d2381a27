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


def test_count_in_window_counts_in_one_counter_that_expires_with_its_window():
    counts = [cache.count_in_window("window-test", 61) for _ in range(3)]

    client = cache._cache.get_client(write=True)
    full_key = cache.make_and_validate_key("window-test")
    assert counts == [1, 2, 3]
    assert 0 < client.ttl(full_key) <= 61  # set by the first count, not pushed back by the later ones
    client.expire(full_key, 5)
    cache.count_in_window("window-test", 61)
    assert client.ttl(full_key) <= 5
