"""Webhook signatures: what a receiver checks (notifications.signing is pure: no database)."""
from notifications.signing import signature_header, verify

BODY = b'{"id":"e1","type":"order_filled"}'
NOW = 1_800_000_000


def test_a_signature_verifies_with_the_secret_and_fresh_timestamp():
    header = signature_header(secrets=["whsec_new"], timestamp=NOW, body=BODY)

    assert header.startswith(f"t={NOW},v1=")
    assert verify(header=header, body=BODY, secret="whsec_new", now=NOW + 60)


def test_a_tampered_body_fails():
    header = signature_header(secrets=["whsec_new"], timestamp=NOW, body=BODY)

    assert not verify(header=header, body=BODY.replace(b"filled", b"cancelled"), secret="whsec_new", now=NOW)


def test_a_stale_or_future_timestamp_fails():
    header = signature_header(secrets=["whsec_new"], timestamp=NOW, body=BODY)

    assert not verify(header=header, body=BODY, secret="whsec_new", now=NOW + 301)
    assert not verify(header=header, body=BODY, secret="whsec_new", now=NOW - 301)


def test_a_changed_timestamp_fails_the_signature():
    header = signature_header(secrets=["whsec_new"], timestamp=NOW, body=BODY).replace(f"t={NOW}", f"t={NOW + 5}")

    assert not verify(header=header, body=BODY, secret="whsec_new", now=NOW)


def test_during_a_rotation_either_secret_verifies_and_a_wrong_one_does_not():
    header = signature_header(secrets=["whsec_new", "whsec_old"], timestamp=NOW, body=BODY)

    assert header.count("v1=") == 2
    assert verify(header=header, body=BODY, secret="whsec_new", now=NOW)
    assert verify(header=header, body=BODY, secret="whsec_old", now=NOW)
    assert not verify(header=header, body=BODY, secret="whsec_other", now=NOW)


def test_a_header_without_timestamp_or_signature_fails():
    assert not verify(header="v1=abc", body=BODY, secret="s", now=NOW)
    assert not verify(header=f"t={NOW}", body=BODY, secret="s", now=NOW)
    assert not verify(header="", body=BODY, secret="s", now=NOW)
