"""Short-lived, single-use tickets for opening a WebSocket (docs/websocket.md, "Connecting").

A browser cannot set headers on a WebSocket, so the socket's credential travels in the URL, where
proxies and servers log it. The API token there never expires; a ticket is worth one handshake in
the next WS_TICKET_SECONDS, so a logged one is spent or stale. Tickets live in the cache (Redis on
the production profile, shared by the process that issues one and the one that takes the socket).
"""
import hashlib
import secrets
import time

from django.core.cache import cache

WS_TICKET_SECONDS = 30


def _key(ticket: str) -> str:
    return f"ws-ticket:{hashlib.sha256(ticket.encode()).hexdigest()}"


def ws_ticket_issue(*, user_id: int) -> str:
    """A new ticket for `user_id`, valid for one handshake within WS_TICKET_SECONDS."""
    ticket = secrets.token_urlsafe(32)
    # The expiry is kept beside the user and checked on our clock: the cache's own time-to-live
    # only clears spent and stale entries away, and Redis counts it on the server's clock.
    cache.set(_key(ticket), (user_id, time.time() + WS_TICKET_SECONDS), WS_TICKET_SECONDS)
    return ticket


def ws_ticket_redeem(ticket: str) -> int | None:
    """The user id `ticket` was issued to, if it is unspent and unexpired; it is spent either way.
    Of two handshakes racing with one ticket, only the one whose delete removed it wins."""
    key = _key(ticket)
    issued = cache.get(key)
    if issued is None or not cache.delete(key):
        return None
    user_id, expires_at = issued
    return user_id if time.time() <= expires_at else None
