"""Which addresses a webhook may reach (notifications.addresses is pure: no database)."""
import ipaddress
from datetime import timedelta

import pytest

from notifications.addresses import refusal
from notifications.retries import retry_delay

REFUSED = {
    "127.0.0.1": "loopback",
    "127.8.9.10": "loopback",
    "::1": "loopback",
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "192.168.1.1": "private",
    "169.254.169.254": "cloud metadata",
    "fd00:ec2::254": "cloud metadata",
    "169.254.10.10": "link-local",
    "fe80::1": "link-local",
    "fc00::1": "private",  # unique-local
    "fd12:3456::1": "private",
    "100.64.0.1": "non-public",  # carrier-grade NAT
    "0.0.0.0": "unspecified",
    "::": "unspecified",
    "224.0.0.1": "multicast",
    "239.1.2.3": "multicast",
    "ff02::1": "multicast",
    "240.0.0.1": "reserved",
    "255.255.255.255": "reserved",  # broadcast
    "192.0.2.1": "private",  # documentation
    "::ffff:127.0.0.1": "loopback",  # IPv4-mapped
    "::ffff:169.254.169.254": "cloud metadata",
    "::ffff:10.0.0.1": "private",
    "2002:7f00:1::": "loopback",  # 6to4 of 127.0.0.1
    "64:ff9b::a00:1": "private",  # NAT64 of 10.0.0.1
}


@pytest.mark.parametrize("address, kind", REFUSED.items())
def test_every_blocked_address_class_is_refused(address, kind):
    reason = refusal(ipaddress.ip_address(address))

    assert reason is not None and kind in reason


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address):
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.5", "::1", "fd12::5", "::ffff:192.168.0.2"])
def test_allowing_private_targets_lets_loopback_and_private_through(address):
    assert refusal(ipaddress.ip_address(address), allow_private=True) is None


@pytest.mark.parametrize("address", ["169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254", "224.0.0.1",
                                     "0.0.0.0"])
def test_cloud_metadata_multicast_and_unspecified_stay_refused_with_private_targets_allowed(address):
    assert refusal(ipaddress.ip_address(address), allow_private=True) is not None


def test_retry_delays_grow_exponentially_with_jitter_and_a_cap():
    assert retry_delay(failed_attempts=1, draw=0.0) == timedelta(seconds=5)
    assert retry_delay(failed_attempts=1, draw=0.999) < timedelta(seconds=10)
    assert retry_delay(failed_attempts=3, draw=0.0) == timedelta(seconds=20)
    assert retry_delay(failed_attempts=3, draw=1.0) == timedelta(seconds=40)
    assert retry_delay(failed_attempts=20, draw=1.0) == timedelta(hours=1)
