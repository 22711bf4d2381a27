"""Per-user and per-client throttles whose rates are read from settings at request time,
so a deployment (or a test) changes them with HAUNT_THROTTLE_RATES alone.

A client is known by its address (client_address): the connection's, or, behind reverse proxies the
deployment says it trusts, the one they forwarded in X-Forwarded-For.

Each throttle counts requests in fixed windows of the rate's period (a minute for "6000/min"): one
counter per client and window, one cache round trip per request on Redis. DRF's own throttles keep
a list of every request's time in the cache and read and rewrite all of it on each request (up to
6,000 entries each way at the default user rate).
"""
import ipaddress
from functools import lru_cache

from django.conf import settings
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


def client_address(request) -> str:
    """The address of the client that sent `request` (a Django or DRF request).

    X-Forwarded-For is written by the client first and appended to by each proxy, so only its
    entries added by proxies we trust are facts; a client can put anything before them. With
    HAUNT_TRUSTED_PROXIES (addresses or networks), the connection must come from one of them, and
    the client is the rightmost forwarded address that is not a trusted proxy. Otherwise, with
    NUM_PROXIES = n > 0, it is the n-th address from the right (DRF's rule). With neither, the header
    is ignored: the connection's own address.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    forwarded = [entry.strip() for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if entry.strip()]
    trusted = _trusted_networks(tuple(settings.HAUNT_TRUSTED_PROXIES))
    if trusted:
        if not forwarded or not _is_trusted(remote, trusted):
            return remote
        for address in reversed(forwarded):
            if not _is_trusted(address, trusted):
                return address
        return forwarded[0]
    proxies = api_settings.NUM_PROXIES or 0
    if proxies and forwarded:
        return forwarded[-min(proxies, len(forwarded))]
    return remote


@lru_cache(maxsize=8)
def _trusted_networks(entries: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _is_trusted(address: str, networks: tuple) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in networks)


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

    def get_ident(self, request):
        return client_address(request)


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
    """Register and token requests, limited per client address to slow password guessing (the
    per-account lockout, haunt.accounts.lockout, slows it across addresses)."""

    scope = "auth"


class AdminLoginThrottle(WindowCountThrottle):
    """Admin login form posts, per client address, signed in or not (haunt.admin_site)."""

    scope = "admin_login"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
