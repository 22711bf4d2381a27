"""When a failed webhook delivery is tried again (spec §14: retry logic with exponential backoff).

Exponential backoff with "equal jitter": the n-th retry waits between half and all of
base × 2^(n−1), capped, so receivers coming back after an outage are not hit by every sender's
retries in the same second. Plain functions: no Django; the caller passes the random draw.
"""
from datetime import timedelta

BASE_DELAY = timedelta(seconds=10)
MAX_DELAY = timedelta(hours=1)


def retry_delay(*, failed_attempts: int, draw: float, base: timedelta = BASE_DELAY,
                cap: timedelta = MAX_DELAY) -> timedelta:
    """The wait after the `failed_attempts`-th failure; `draw` is uniform in [0, 1)."""
    ceiling = min(cap, base * 2 ** (failed_attempts - 1))
    return ceiling / 2 + ceiling / 2 * draw
