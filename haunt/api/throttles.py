"""Per-user and per-client throttles whose rates are read from settings at request time,
so a deployment (or a test) changes them with HAUNT_THROTTLE_RATES alone.

Each throttle counts requests in fixed windows of the rate's period (a minute for "6000/min"): one
counter per client and window, one cache round trip per request on Redis. DRF's own throttles keep
a list of every request's time in the cache and read and rewrite all of it on each request (up to
6,000 entries each way at the default user rate).
"""
from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class WindowCountThrottle(SimpleRateThrottle):
    """At most `num_requests` per fixed window of `duration` seconds; Retry-After is the time to
    the next window."""

    def get_rate(self):
        return settings.HAUNT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_end = (window + 1) * self.duration
        return _count_in_window(self.cache, f"{self.key}:{window}", self.duration + 1) <= self.num_requests

    def wait(self):
        return self.window_end - self.now


def _count_in_window(cache, key: str, timeout: int) -> int:
    if hasattr(cache, "count_in_window"):  # haunt.cache.ReusedClientRedisCache: one round trip
        return cache.count_in_window(key, timeout)
    if cache.add(key, 1, timeout):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # the window's counter expired between add and incr
        cache.add(key, 1, timeout)
        return 1


class UserThrottle(WindowCountThrottle):
    scope = "user"

    def get_cache_key(self, request, view):
        ident = request.user.pk if request.user and request.user.is_authenticated else None
        return None if ident is None else self.cache_format % {"scope": self.scope, "ident": ident}


class AnonThrottle(WindowCountThrottle):
    scope = "anon"

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            return None  # counted by UserThrottle
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class AuthThrottle(AnonThrottle):
    """Register and token requests, limited per client address to slow password guessing."""

    scope = "auth"
