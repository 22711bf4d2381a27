"""Per-account lockout after failed logins, by username, so guessing one account's password from
many addresses is slowed as much as from one (the per-address throttle cannot see that).

The first HAUNT_LOGIN_LOCKOUT["free_failures"] failures in a row cost nothing. Each further failure
locks the username for base_seconds, doubling with every failure up to max_seconds: a lock always
ends by itself, so an attacker can delay a user by at most max_seconds at a time, never lock them
out for good. While locked, attempts are refused without checking the password and without
counting (they cannot extend the lock). A success forgets the failures, and so does
`window_seconds` without one. State lives in the cache, shared by every process on Redis.
"""
import hashlib
import time

from django.conf import settings
from django.core.cache import cache


def _keys(username: str) -> tuple[str, str]:
    digest = hashlib.sha256(username.casefold().encode()).hexdigest()
    return f"login-failures:{digest}", f"login-locked-until:{digest}"


def login_lock_remaining(username: str) -> float:
    """Seconds until `username` may try to log in again (0 when it may now)."""
    locked_until = cache.get(_keys(username)[1])
    return max(0.0, locked_until - time.time()) if locked_until else 0.0


def login_failure_record(username: str) -> None:
    """Count a failed login for `username`, locking it once the free failures are used up."""
    policy = settings.HAUNT_LOGIN_LOCKOUT
    failures_key, locked_key = _keys(username)
    cache.add(failures_key, 0, policy["window_seconds"])
    try:
        failures = cache.incr(failures_key)
    except ValueError:  # expired between add and incr
        cache.add(failures_key, 1, policy["window_seconds"])
        failures = 1
    cache.touch(failures_key, policy["window_seconds"])
    beyond = failures - policy["free_failures"]
    if beyond > 0:
        seconds = min(policy["base_seconds"] * 2 ** min(beyond - 1, 32), policy["max_seconds"])
        cache.set(locked_key, time.time() + seconds, seconds)


def login_failures_forget(username: str) -> None:
    cache.delete_many(_keys(username))
