"""A demo account with one portfolio, so a fresh install has something to log in with."""
from django.core.management.base import BaseCommand
from django.db import transaction

from haunt.accounts.models import User
from haunt.accounts.services import token_obtain, user_register
from portfolios.services import portfolio_create

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "paper-trader-5m"


class Command(BaseCommand):
    help = "Create the demo user (demo / paper-trader-5m) and a USD portfolio, once."

    @transaction.atomic
    def handle(self, *args, **options):
        if not User.objects.filter(username=DEMO_USERNAME).exists():
            user, _ = user_register(username=DEMO_USERNAME, password=DEMO_PASSWORD, email="demo@example.com")
            portfolio_create(user=user, name="Demo portfolio", description="Created by seed_demo")
        token = token_obtain(username=DEMO_USERNAME, password=DEMO_PASSWORD)
        self.stdout.write(f"Demo login: {DEMO_USERNAME} / {DEMO_PASSWORD}  token: {token.key}")
