"""`manage.py seed_demo`: the demo user for the API, and on request a superuser for /admin/."""
import re
from io import StringIO

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def seed(*args: str) -> str:
    output = StringIO()
    call_command("seed_demo", *args, stdout=output)
    return output.getvalue()


def test_the_demo_user_logs_in_to_the_api_not_the_admin(client, api_client):
    printed = seed()
    assert "demo / paper-trader-5m" in printed and "/api/docs/" in printed and "/admin/" not in printed
    token = api_client.post("/api/auth/token", {"username": "demo", "password": "paper-trader-5m"}, format="json")
    assert token.status_code == 200
    assert client.login(username="demo", password="paper-trader-5m")
    assert client.get("/admin/").status_code == 302  # to the admin's login: the demo user is not staff


def test_seed_demo_admin_prints_a_password_the_admin_accepts(client):
    printed = seed("--admin")
    username, password = re.search(r"Admin login \(/admin/\): (\S+) / (\S+)", printed).groups()
    assert username == "demo-admin"
    assert client.login(username=username, password=password)
    assert client.get("/admin/").status_code == 200

    again = re.search(r"Admin login \(/admin/\): \S+ / (\S+)", seed("--admin")).group(1)
    assert again != password and client.login(username=username, password=again)
