"""WebSocket authentication by API token: ws://host/ws/?token=<token> (browsers cannot set headers)."""
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser

from haunt.accounts.authentication import token_with_user


@database_sync_to_async
def user_for_token(key: str):
    token = token_with_user(key)
    return token.user if token is not None and token.user.is_active else AnonymousUser()


class TokenAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        query = parse_qs(scope.get("query_string", b"").decode())
        key = (query.get("token") or [""])[0]
        scope = dict(scope, user=await user_for_token(key) if key else AnonymousUser())
        return await super().__call__(scope, receive, send)
