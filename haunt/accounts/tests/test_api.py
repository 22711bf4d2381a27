"""Registration, API tokens and the authenticated user (/api/auth/...)."""
from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.authtoken.models import Token

from haunt.accounts.models import User
from tests.openapi_contract import ContractCheckedAPIClient

pytestmark = pytest.mark.django_db

PASSWORD = "violet-quartz-ledger-42"


def register(client, **overrides):
    body = {"username": "carol", "password": PASSWORD, "email": "carol@example.com", **overrides}
    return client.post("/api/auth/register", {key: value for key, value in body.items() if value is not None},
                       format="json")


def error(response) -> dict:
    return response.json()["error"]


def assert_nothing_created(users_before: int = 0):
    assert User.objects.count() == users_before
    assert Token.objects.count() == users_before


def test_register_creates_the_user_and_answers_its_token(api_client):
    before = datetime.now(UTC)

    response = register(api_client)

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"user", "token"}
    assert set(body["user"]) == {"id", "username", "email", "date_joined"}
    user = User.objects.get()
    assert body["user"]["id"] == user.pk
    assert body["user"]["username"] == "carol"
    assert body["user"]["email"] == "carol@example.com"
    assert before - timedelta(seconds=1) <= datetime.fromisoformat(body["user"]["date_joined"]) <= datetime.now(UTC)
    assert body["token"] == Token.objects.get(user=user).key
    assert user.check_password(PASSWORD)
    assert user.password != PASSWORD


def test_registered_token_authenticates(api_client):
    token = register(api_client).json()["token"]
    client = ContractCheckedAPIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    response = client.get("/api/auth/me")

    assert response.status_code == 200
    me = response.json()
    assert me["username"] == "carol" and me["email"] == "carol@example.com"
    assert me["id"] == User.objects.get().pk


def test_register_refuses_privileged_and_unknown_fields(api_client):
    privileged = register(api_client, is_staff=True, is_superuser=True)
    unknown = register(api_client, newsletter=True)

    assert privileged.status_code == 400 and unknown.status_code == 400
    assert error(privileged) == {"code": "unknown_field", "message": "Unknown field.", "field": "is_staff"}
    assert error(unknown)["field"] == "newsletter"
    assert_nothing_created()


def test_token_refuses_an_unknown_field(api_client, user):
    response = api_client.post("/api/auth/token", {"username": "alice", "password": "correct-horse-battery",
                                                   "otp": "123456"}, format="json")

    assert response.status_code == 400
    assert error(response) == {"code": "unknown_field", "message": "Unknown field.", "field": "otp"}


@pytest.mark.parametrize("taken", ["carol", "Carol", "CAROL"])
def test_duplicate_username_ignoring_case_is_409(api_client, taken):
    register(api_client)

    response = register(api_client, username=taken, email="other@example.com")

    assert response.status_code == 409
    assert error(response) == {"code": "username_taken", "message": "That username is taken.", "field": "username"}
    assert_nothing_created(users_before=1)


@pytest.mark.parametrize("password", [
    "short1!",  # under 8 characters
    "password123",  # common
    "12345678901234",  # all digits (and common)
    "carol-example",  # too like the username and email
])
def test_weak_password_is_400(api_client, password):
    response = register(api_client, password=password)

    assert response.status_code == 400
    assert error(response)["code"] == "weak_password"
    assert error(response)["field"] == "password"
    assert error(response)["message"]
    assert_nothing_created()


def test_short_password_message_names_the_rule(api_client):
    response = register(api_client, password="xq7!")

    assert "at least 8 characters" in error(response)["message"]


@pytest.mark.parametrize("email", ["not-an-email", "carol@", "@example.com", ""])
def test_invalid_email_is_400(api_client, email):
    response = register(api_client, email=email)

    assert response.status_code == 400
    assert error(response)["field"] == "email"
    assert error(response)["code"] in {"invalid", "blank"}
    assert_nothing_created()


@pytest.mark.parametrize("missing", ["username", "password", "email"])
def test_missing_field_is_400(api_client, missing):
    body = {"username": "carol", "password": PASSWORD, "email": "carol@example.com"}
    del body[missing]

    response = api_client.post("/api/auth/register", body, format="json")

    assert response.status_code == 400
    assert error(response) == {"code": "required", "message": "This field is required.", "field": missing}
    assert_nothing_created()


@pytest.mark.parametrize("username", ["ab", "has space", "semi;colon", "x" * 151])
def test_malformed_username_is_400(api_client, username):
    response = register(api_client, username=username)

    assert response.status_code == 400
    assert error(response)["field"] == "username"
    assert_nothing_created()


def test_token_for_good_credentials_is_the_registered_token(api_client):
    registered = register(api_client).json()["token"]

    response = api_client.post("/api/auth/token", {"username": "carol", "password": PASSWORD}, format="json")

    assert response.status_code == 200
    assert response.json() == {"token": registered}
    assert Token.objects.count() == 1


def test_token_is_created_on_first_use_when_missing(api_client):
    register(api_client)
    Token.objects.all().delete()

    response = api_client.post("/api/auth/token", {"username": "carol", "password": PASSWORD}, format="json")

    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user__username="carol").key}


@pytest.mark.parametrize(("username", "password"), [("carol", "wrong-password-here"), ("nobody", PASSWORD)])
def test_wrong_credentials_are_401(api_client, username, password):
    register(api_client)

    response = api_client.post("/api/auth/token", {"username": username, "password": password}, format="json")

    assert response.status_code == 401
    assert error(response) == {"code": "invalid_credentials", "message": "Wrong username or password.", "field": None}
    assert_nothing_created(users_before=1)


def test_inactive_user_gets_no_token(api_client):
    register(api_client)
    User.objects.filter(username="carol").update(is_active=False)

    response = api_client.post("/api/auth/token", {"username": "carol", "password": PASSWORD}, format="json")

    assert response.status_code == 401
    assert error(response)["code"] == "invalid_credentials"


def test_inactive_users_token_no_longer_authenticates(api_client):
    token = register(api_client).json()["token"]
    User.objects.filter(username="carol").update(is_active=False)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    response = api_client.get("/api/auth/me")

    assert response.status_code == 401
    assert error(response)["code"] == "authentication_failed"


def test_token_request_without_password_is_400(api_client):
    response = api_client.post("/api/auth/token", {"username": "carol"}, format="json")

    assert response.status_code == 400
    assert error(response) == {"code": "required", "message": "This field is required.", "field": "password"}


def test_me_without_token_is_401(api_client):
    response = api_client.get("/api/auth/me")

    assert response.status_code == 401
    assert error(response) == {
        "code": "not_authenticated", "message": "Authentication credentials were not provided.", "field": None,
    }
    assert response["WWW-Authenticate"] == "Token"


def test_me_answers_the_authenticated_user(auth_client, user):
    response = auth_client.get("/api/auth/me")

    assert response.status_code == 200
    assert response.json() == {
        "id": user.pk, "username": "alice", "email": "alice@example.com",
        "date_joined": user.date_joined.isoformat().replace("+00:00", "Z"),
    }


def test_a_websocket_ticket_is_issued_to_the_authenticated_user(auth_client, user):
    from haunt.accounts.websocket_tickets import ws_ticket_redeem

    response = auth_client.post("/api/auth/ws-ticket")

    assert response.status_code == 201
    assert response.json()["expires_in"] == 30
    assert ws_ticket_redeem(response.json()["ticket"]) == user.pk
    assert ws_ticket_redeem(response.json()["ticket"]) is None  # single use


def test_a_websocket_ticket_needs_a_token(api_client):
    response = api_client.post("/api/auth/ws-ticket")

    assert response.status_code == 401
    assert error(response)["code"] == "not_authenticated"
