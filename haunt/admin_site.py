"""The admin site: Django's, with its login form throttled per client address (it had no limit at
all; the per-account lockout of haunt.accounts.backends applies to it too)."""
import math

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpResponse

from haunt.api.throttles import AdminLoginThrottle


class HauntAdminSite(admin.AdminSite):
    def login(self, request, extra_context=None):
        if request.method == "POST":
            throttle = AdminLoginThrottle()
            if not throttle.allow_request(request, None):
                wait = math.ceil(throttle.wait())
                response = HttpResponse(f"Too many login attempts. Try again in {wait} seconds.\n", status=429,
                                        content_type="text/plain; charset=utf-8")
                response["Retry-After"] = str(wait)
                return response
        return super().login(request, extra_context)


class HauntAdminConfig(AdminConfig):
    default_site = "haunt.admin_site.HauntAdminSite"
