"""Account writes: registration and API tokens."""
import math

from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework.authtoken.models import Token

from haunt.accounts.lockout import login_lock_remaining
from haunt.accounts.models import User
from haunt.errors import Conflict, DomainError, TooManyAttempts


class InvalidCredentials(DomainError):
    status, code = 401, "invalid_credentials"


@transaction.atomic
def user_register(*, username: str, password: str, email: str) -> tuple[User, Token]:
    """Create a user and its API token. The password must pass Django's validators."""
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict("That username is taken.", code="username_taken", field="username")
    candidate = User(username=username, email=email)
    try:
        password_validation.validate_password(password, user=candidate)
    except DjangoValidationError as error:
        raise DomainError(" ".join(error.messages), code="weak_password", field="password") from error
    candidate.set_password(password)
    try:
        with transaction.atomic():
            candidate.save()
    except IntegrityError as error:  # a concurrent registration won the race for the name
        raise Conflict("That username is taken.", code="username_taken", field="username") from error
    token = Token.objects.create(user=candidate)
    return candidate, token


@transaction.atomic
def superuser_password_set(*, username: str, password: str, email: str) -> User:
    """Make `username` a superuser with this password, creating it if needed (the admin's demo login)."""
    user = User.objects.select_for_update().filter(username=username).first() or User(username=username, email=email)
    user.is_staff = user.is_superuser = user.is_active = True
    user.set_password(password)
    user.save()
    return user


def token_obtain(*, username: str, password: str) -> Token:
    """The user's API token (created on first use); refuses wrong credentials with 401, and any
    attempt while the username is locked after failed logins (haunt.accounts.lockout) with 429."""
    locked_for = login_lock_remaining(username)
    if locked_for:
        raise TooManyAttempts(f"Too many failed logins for this account. Try again in {math.ceil(locked_for)} seconds.",
                              code="login_locked", retry_after=math.ceil(locked_for))
    user = authenticate(username=username, password=password)
    if user is None or not user.is_active:
        raise InvalidCredentials("Wrong username or password.")
    token, _ = Token.objects.get_or_create(user=user)
    return token
