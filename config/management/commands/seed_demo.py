"""A demo account with one portfolio, so a fresh install has something to log in with; with --admin,
also a superuser for the Django admin."""
import secrets

from django.core.management.base import BaseCommand
from django.db import transaction

from haunt.accounts.models import User
from haunt.accounts.services import superuser_password_set, token_obtain, user_register
from portfolios.services import portfolio_create

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "paper-trader-5m"
DEMO_ADMIN_USERNAME = "demo-admin"


class Command(BaseCommand):
    help = ("Create the demo user (demo / paper-trader-5m) and a USD portfolio, once. The demo user logs in to "
            "the API; --admin also makes the superuser demo-admin, with a new random password printed each run.")

    def add_arguments(self, parser):
        parser.add_argument("--admin", action="store_true",
                            help="Also create (or reset) the superuser demo-admin for /admin/ and print its password.")

    @transaction.atomic
    def handle(self, *args, admin, **options):
        if not User.objects.filter(username=DEMO_USERNAME).exists():
            user, _ = user_register(username=DEMO_USERNAME, password=DEMO_PASSWORD, email="demo@example.com")
            portfolio_create(user=user, name="Demo portfolio", description="Created by seed_demo")
        token = token_obtain(username=DEMO_USERNAME, password=DEMO_PASSWORD)
        self.stdout.write(f"Demo login (the API, and Swagger UI's Authorize at /api/docs/): "
                          f"{DEMO_USERNAME} / {DEMO_PASSWORD}  token: {token.key}")
        if admin:
            # Random, not a published default: an admin login opens every account.
            password = secrets.token_urlsafe(12)
            superuser_password_set(username=DEMO_ADMIN_USERNAME, password=password, email="demo-admin@example.com")
            self.stdout.write(f"Admin login (/admin/): {DEMO_ADMIN_USERNAME} / {password}")
