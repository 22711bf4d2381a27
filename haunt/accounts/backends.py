"""Django's username and password backend with the per-account lockout (haunt.accounts.lockout),
so every login form (the API token, the admin) counts failures and honours locks the same way."""
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from haunt.accounts.lockout import login_failure_record, login_failures_forget, login_lock_remaining


class LockoutModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        if login_lock_remaining(username):
            raise PermissionDenied  # django.contrib.auth.authenticate: refused, no other backend asked
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            login_failure_record(username)
        else:
            login_failures_forget(username)
        return user
