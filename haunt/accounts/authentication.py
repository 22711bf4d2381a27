"""API token authentication (`Authorization: Token <key>`): DRF's TokenAuthentication, reading the
token and its user in one compiled query (haunt.model_select) instead of building the ORM query on
every request. Same answers, same errors."""
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from haunt.model_select import ModelSelect

_TOKEN_WITH_USER = ModelSelect(Token, where=("key",), related=("user",))


def token_with_user(key: str) -> Token | None:
    """The token `key` names, with its user loaded, or None."""
    return _TOKEN_WITH_USER.first(key)


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        token = token_with_user(key)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return token.user, token
