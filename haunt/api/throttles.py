"""Per-user and per-client throttles whose rates are read from settings at request time,
so a deployment (or a test) changes them with HAUNT_THROTTLE_RATES alone."""
from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class SettingsRateMixin:
    def get_rate(self):
        return settings.HAUNT_THROTTLE_RATES.get(self.scope)


class UserThrottle(SettingsRateMixin, UserRateThrottle):
    scope = "user"


class AnonThrottle(SettingsRateMixin, AnonRateThrottle):
    scope = "anon"


class AuthThrottle(SettingsRateMixin, AnonRateThrottle):
    """Register and token requests, limited per client address to slow password guessing."""

    scope = "auth"
