"""WebSocket authentication (browsers cannot set headers on a WebSocket, so the credential is in the
query string): ws://host/ws/?ticket=<ticket> with a single-use ticket from POST /api/auth/ws-ticket
(preferred: it expires in seconds), or ws://host/ws/?token=<API token> (kept for existing clients)."""
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser

from haunt.accounts.authentication import token_with_user
from haunt.accounts.models import User
from haunt.accounts.websocket_tickets import ws_ticket_redeem


@database_sync_to_async
def user_for_token(key: str):
    token = token_with_user(key)
    return token.user if token is not None and token.user.is_active else AnonymousUser()


@database_sync_to_async
def user_for_ticket(ticket: str):
    user_id = ws_ticket_redeem(ticket)
    user = None if user_id is None else User.objects.filter(pk=user_id, is_active=True).first()
    return user or AnonymousUser()


class TokenAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        query = parse_qs(scope.get("query_string", b"").decode())
        ticket = (query.get("ticket") or [""])[0]
        key = (query.get("token") or [""])[0]
        if ticket:
            user = await user_for_ticket(ticket)
        elif key:
            user = await user_for_token(key)
        else:
            user = AnonymousUser()
        return await super().__call__(dict(scope, user=user), receive, send)
