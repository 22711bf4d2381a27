"""Login throttling: client addresses behind trusted proxies, the per-account lockout with capped
backoff, and the admin login's limit."""
import time

import pytest
from django.test import RequestFactory, override_settings

from haunt.accounts.lockout import login_lock_remaining
from haunt.api.throttles import client_address

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
LOOSE_RATES = {"user": "1000/min", "anon": "1000/min", "auth": "1000/min", "admin_login": "1000/min"}


@pytest.fixture
def clock(monkeypatch):
    """time.time under the test's control (the local-memory cache expires keys by it too)."""

    class Clock:
        now = time.time()

        def advance(self, seconds: float) -> None:
            self.now += seconds

    fake = Clock()
    monkeypatch.setattr(time, "time", lambda: fake.now)
    return fake


def login(client, password: str, address: str = "203.0.113.1", username: str = "alice"):
    return client.post("/api/auth/token", {"username": username, "password": password}, format="json",
                       REMOTE_ADDR=address)


# Client addresses


def request_from(remote: str, forwarded: str | None = None):
    headers = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **headers)


def test_without_trusted_proxies_the_forwarded_header_is_ignored():
    assert client_address(request_from("198.51.100.7", "1.2.3.4")) == "198.51.100.7"


@override_settings(HAUNT_TRUSTED_PROXIES=["10.0.0.0/8"])
def test_behind_a_trusted_proxy_the_client_is_the_rightmost_untrusted_forwarded_address():
    assert client_address(request_from("10.0.0.2", "1.2.3.4")) == "1.2.3.4"
    # What the client wrote itself comes first; the proxies' entries are the facts.
    assert client_address(request_from("10.0.0.2", "6.6.6.6, 1.2.3.4, 10.1.1.1")) == "1.2.3.4"
    # A connection that is not from a trusted proxy says nothing about anyone else.
    assert client_address(request_from("198.51.100.7", "1.2.3.4")) == "198.51.100.7"
    assert client_address(request_from("10.0.0.2")) == "10.0.0.2"


def test_with_a_number_of_proxies_the_client_is_that_far_from_the_right(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}  # DRF reloads its settings

    assert client_address(request_from("10.0.0.2", "6.6.6.6, 1.2.3.4")) == "1.2.3.4"


@override_settings(HAUNT_TRUSTED_PROXIES=["10.0.0.0/8"],
                   HAUNT_THROTTLE_RATES={"user": "100/min", "anon": "100/min", "auth": "2/min"})
def test_clients_behind_the_load_balancer_have_a_login_budget_each(api_client, user):
    def attempt(client_ip):
        return api_client.post("/api/auth/token", {"username": "nobody", "password": "x"}, format="json",
                               REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=client_ip).status_code

    first = [attempt("1.1.1.1") for _ in range(3)]
    second = [attempt("2.2.2.2") for _ in range(2)]

    assert first == [401, 401, 429]
    assert second == [401, 401]


# Per-account lockout


@override_settings(HAUNT_THROTTLE_RATES=LOOSE_RATES)
def test_failed_logins_lock_the_account_across_addresses(api_client, user, clock):
    statuses = [login(api_client, "wrong", address=f"203.0.113.{attempt}").status_code for attempt in range(6)]
    locked = login(api_client, PASSWORD, address="198.51.100.99")

    assert statuses == [401] * 6  # five free failures, the sixth locks
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "login_locked"
    assert locked["Retry-After"] == "30"

    clock.advance(30)
    assert login(api_client, PASSWORD).status_code == 200


@override_settings(HAUNT_THROTTLE_RATES=LOOSE_RATES)
def test_each_further_failure_doubles_the_lock_up_to_the_cap(api_client, user, clock):
    for _ in range(5):
        login(api_client, "wrong")
    locks = []
    for _ in range(8):
        login(api_client, "wrong")
        locks.append(round(login_lock_remaining("alice")))
        clock.advance(locks[-1])

    assert locks == [30, 60, 120, 240, 480, 900, 900, 900]


@override_settings(HAUNT_THROTTLE_RATES=LOOSE_RATES)
def test_attempts_while_locked_neither_check_the_password_nor_extend_the_lock(api_client, user, clock):
    for _ in range(6):
        login(api_client, "wrong")
    for _ in range(20):
        assert login(api_client, "wrong").status_code == 429
        clock.advance(1)

    assert round(login_lock_remaining("alice")) == 10
    clock.advance(10)
    assert login(api_client, PASSWORD).status_code == 200


@override_settings(HAUNT_THROTTLE_RATES=LOOSE_RATES)
def test_a_success_forgets_the_failures(api_client, user):
    for _ in range(5):
        login(api_client, "wrong")
    assert login(api_client, PASSWORD).status_code == 200

    assert [login(api_client, "wrong").status_code for _ in range(5)] == [401] * 5
    assert login(api_client, PASSWORD).status_code == 200


@override_settings(HAUNT_THROTTLE_RATES=LOOSE_RATES)
def test_the_lock_is_by_username_in_any_letter_case(api_client, user):
    for _ in range(6):
        login(api_client, "wrong", username="ALICE")

    assert login(api_client, PASSWORD).status_code == 429


# The admin login


def test_the_admin_login_is_throttled_per_address(client, db):
    from haunt.accounts.models import User

    User.objects.create_superuser("root", "root@example.com", "admin-password-123")
    statuses = [client.post("/admin/login/", {"username": f"guess{attempt}", "password": "wrong"}).status_code
                for attempt in range(50)]

    assert statuses[:10] == [200] * 10  # the form again, with its error
    assert set(statuses[10:]) == {429}


def test_the_admin_login_honours_the_account_lockout(client, db):
    from haunt.accounts.models import User

    User.objects.create_superuser("root", "root@example.com", "admin-password-123")
    with override_settings(HAUNT_THROTTLE_RATES=LOOSE_RATES):
        for _ in range(6):
            client.post("/admin/login/", {"username": "root", "password": "wrong"})
        locked = client.post("/admin/login/", {"username": "root", "password": "admin-password-123"})

    assert locked.status_code == 200 and "_auth_user_id" not in client.session  # refused: the form again
