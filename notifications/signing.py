"""Webhook signatures (spec §14, Webhooks): HMAC-SHA256 over `timestamp.body`, Stripe's scheme.

The header reads `t=<unix seconds>,v1=<hex>[,v1=<hex>…]`: one `v1` per secret the endpoint
currently has, so during a rotation's grace period a receiver holding either the old or the new
secret finds a signature it can check. Plain functions: no Django, no clock (the caller passes now).
"""
import hashlib
import hmac

SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300  # receivers reject anything older: a captured request cannot be replayed later


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(*, secrets: list[str], timestamp: int, body: bytes) -> str:
    return ",".join([f"t={timestamp}"] + [f"{SCHEME}={signature(secret=secret, timestamp=timestamp, body=body)}"
                                          for secret in secrets])


def verify(*, header: str, body: bytes, secret: str, now: int,
           tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS) -> bool:
    """True when one of the header's signatures is `secret`'s over this body and its timestamp is
    within `tolerance_seconds` of `now`."""
    timestamp, candidates = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == SCHEME:
            candidates.append(value)
    if timestamp is None or abs(now - timestamp) > tolerance_seconds:
        return False
    expected = signature(secret=secret, timestamp=timestamp, body=body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
