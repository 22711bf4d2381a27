"""The production profile's security settings, as `manage.py check --deploy` and a browser see them,
and the limits every request meets (body size)."""
import base64
import hashlib
import logging
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Addresses nothing listens on: `check` must not need the database or Redis to answer.
UNREACHABLE = {"DATABASE_URL": "postgres://haunt:haunt@127.0.0.1:9/haunt", "REDIS_URL": "redis://127.0.0.1:9/0"}


def manage(*arguments: str, **env: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "PYTEST_XDIST_WORKER")
                   and not key.startswith("SECURE_")}
    environment.update(DJANGO_SETTINGS_MODULE="haunt.settings.base", **env)
    return subprocess.run([sys.executable, "manage.py", *arguments], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean_on_the_production_profile():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **UNREACHABLE,
                    SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="haunt.example.com")

    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize("key", ["x", "a" * 60, "short-but-varied-0123456789", "django-insecure-" + "k" * 50])
def test_a_server_profile_refuses_a_weak_secret_key(key):
    result = manage("check", **UNREACHABLE, SECRET_KEY=key)

    assert result.returncode != 0
    assert "SECRET_KEY must be set to at least 50 random characters" in result.stderr


@pytest.mark.parametrize("debug", ["0", "1"])
def test_a_database_url_without_a_secret_key_refuses_to_start_even_in_debug(debug):
    result = manage("check", DATABASE_URL=UNREACHABLE["DATABASE_URL"], DEBUG=debug)

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_the_embedded_profile_starts_without_a_secret_key(tmp_path):
    result = manage("check", HAUNT_VAR_DIR=str(tmp_path))

    assert result.returncode == 0, result.stderr


# Body size


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/auth/token", "/api/auth/register"])
def test_a_body_over_the_limit_is_413_without_a_traceback(api_client, caplog, path):
    body = '{"username": "' + "a" * 3_000_000 + '", "password": "x"}'

    with caplog.at_level(logging.WARNING):
        response = api_client.generic("POST", path, body, content_type="application/json")

    assert response.status_code == 413
    assert response.json() == {"error": {"code": "payload_too_large",
                                         "message": "Request bodies are limited to 2621440 bytes.", "field": None}}
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR or record.exc_info]


@pytest.mark.django_db
def test_a_form_over_the_limit_is_413_without_a_traceback(client, caplog):
    with caplog.at_level(logging.WARNING):
        response = client.post("/admin/login/", "username=" + "a" * 3_000_000 + "&password=x",
                               content_type="application/x-www-form-urlencoded")

    assert response.status_code == 413
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR or record.exc_info]


# Content-Security-Policy on the HTML pages


def inline_script_hashes(html: bytes) -> set[str]:
    scripts = re.findall(rb"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", html, re.IGNORECASE | re.DOTALL)
    return {f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'" for script in scripts
            if script.strip()}


def directives(policy: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


@pytest.mark.django_db
@pytest.mark.parametrize("path, inline_scripts", [("/api/docs/", 1), ("/api/redoc/", 0), ("/docs/", 0),
                                                  ("/admin/login/", 0)])
def test_html_pages_carry_a_policy_that_allows_what_they_load(client, path, inline_scripts):
    response = client.get(path)
    html = b"".join(response.streaming_content) if response.streaming else response.content
    policy = directives(response["Content-Security-Policy"])

    assert response.status_code == 200
    assert len(inline_script_hashes(html)) == inline_scripts
    assert inline_script_hashes(html) <= set(policy["script-src"])  # each inline script by its hash
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    for source in re.findall(rb'<script[^>]*\bsrc="([^"]+)"', html):
        source = source.decode()
        assert not source.startswith("http") or any(source.startswith(allowed) for allowed in policy["script-src"])
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]


def test_the_guide_has_no_inline_script():
    assert inline_script_hashes((ROOT / "docs" / "index.html").read_bytes()) == set()


@pytest.mark.django_db
def test_json_answers_carry_no_page_policy(api_client):
    assert "Content-Security-Policy" not in api_client.get("/api/health")
