"""The receiver-side verification example in docs/alerts-and-webhooks.md, run against a real
delivery: the guide's few lines must accept what Haunt sends and refuse a tampered or stale one."""
import re
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from notifications.models import AlertType
from notifications.services import notify, webhook_create, webhook_deliveries_due, webhook_rotate_secret

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_targets_allowed")]

GUIDE = Path(settings.BASE_DIR) / "docs" / "alerts-and-webhooks.md"


def documented_verifier():
    """The guide's `verify_haunt_webhook`, defined by running its Python block as written."""
    section = GUIDE.read_text().split("### Verify a delivery", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    namespace: dict = {}
    exec(compile(code, str(GUIDE), "exec"), namespace)
    return namespace["verify_haunt_webhook"]


def delivered(user, receiver):
    with transaction.atomic():
        notify(user_id=user.pk, alert_type=AlertType.ORDER_FILLED, message="Order filled.", payload={})
    webhook_deliveries_due(now=timezone.now())
    return receiver.received[-1]


def test_the_documented_verifier_accepts_a_delivery_and_refuses_a_tampered_one(user, receiver):
    verify_haunt_webhook = documented_verifier()
    endpoint = webhook_create(user=user, url=receiver.url)

    request = delivered(user, receiver)
    header = request.headers["Haunt-Signature"]

    assert verify_haunt_webhook(request.body, header, endpoint.secret)
    assert not verify_haunt_webhook(request.body.replace(b"Order filled.", b"Order filled!"), header, endpoint.secret)
    assert not verify_haunt_webhook(request.body, header, "whsec_someone-else")


def test_the_documented_verifier_refuses_a_stale_delivery(user, receiver, monkeypatch):
    verify_haunt_webhook = documented_verifier()
    endpoint = webhook_create(user=user, url=receiver.url)
    request = delivered(user, receiver)
    signed_at = int(request.headers["Haunt-Timestamp"])

    monkeypatch.setattr(time, "time", lambda: signed_at + 301)  # the receiver reads it five minutes and a second later

    assert not verify_haunt_webhook(request.body, request.headers["Haunt-Signature"], endpoint.secret)


def test_the_documented_verifier_accepts_either_secret_during_a_rotation(user, receiver):
    verify_haunt_webhook = documented_verifier()
    old_secret = webhook_create(user=user, url=receiver.url).secret
    new_secret = webhook_rotate_secret(user=user, webhook_id=user.webhooks.get().pk).secret

    request = delivered(user, receiver)

    assert verify_haunt_webhook(request.body, request.headers["Haunt-Signature"], old_secret)
    assert verify_haunt_webhook(request.body, request.headers["Haunt-Signature"], new_secret)
