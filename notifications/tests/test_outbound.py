"""The webhook HTTP client against a real loopback receiver: address checks on the address
actually connected to, no redirects, size and time limits."""
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from notifications import outbound


def post(url, *, allow_private=True, **options):
    return outbound.post(url, body=b"{}", headers={"Content-Type": "application/json"}, allow_private=allow_private,
                         **options)


def test_a_loopback_receiver_gets_the_post_when_private_targets_are_allowed(receiver):
    outcome = post(receiver.url)

    assert outcome.succeeded and outcome.status_code == 200 and outcome.address == "127.0.0.1"
    assert len(receiver.received) == 1 and receiver.received[0].body == b"{}"


def test_the_request_names_the_urls_host_although_it_goes_to_the_checked_address(receiver, monkeypatch):
    real_getaddrinfo = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, *args, **kwargs: (
        [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))] if host == "hooks.test"
        else real_getaddrinfo(host, port, *args, **kwargs)))
    port = receiver.url.split(":")[2].split("/")[0]

    outcome = post(f"http://hooks.test:{port}/hook")

    assert outcome.succeeded and outcome.address == "127.0.0.1"
    assert receiver.received[0].headers["Host"] == f"hooks.test:{port}"


@pytest.mark.parametrize("host", ["127.0.0.1", "[::ffff:127.0.0.1]", "169.254.169.254", "[fd00:ec2::254]", "10.0.0.1",
                                  "[::1]", "0.0.0.0"])
def test_literal_blocked_addresses_are_refused_before_connecting(host):
    outcome = post(f"http://{host}:9/hook", allow_private=False)

    assert not outcome.succeeded and outcome.error.startswith("Refused:") and outcome.address is None


def test_a_hostname_resolving_to_loopback_is_refused(receiver):
    outcome = post(receiver.url.replace("127.0.0.1", "localhost"), allow_private=False)

    assert not outcome.succeeded and "localhost resolves to" in outcome.error and "loopback" in outcome.error
    assert receiver.received == []


def test_a_name_is_resolved_once_and_the_checked_address_is_the_one_connected_to(receiver, monkeypatch):
    """DNS rebinding: the first answer is allowed, every later one points at the receiver on
    loopback. The request goes to the checked address, so the receiver never sees it."""
    real_getaddrinfo = socket.getaddrinfo
    lookups = []

    def rebinding_resolver(host, port, *args, **kwargs):
        if host != "rebind.test":
            return real_getaddrinfo(host, port, *args, **kwargs)
        lookups.append(host)
        address = "192.0.2.10" if len(lookups) == 1 else "127.0.0.1"  # an unrouted test address, then loopback
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_resolver)
    port = receiver.url.split(":")[2].split("/")[0]

    outcome = post(f"http://rebind.test:{port}/hook", total_seconds=0.5)

    assert lookups == ["rebind.test"]
    assert outcome.address == "192.0.2.10" and not outcome.succeeded
    assert receiver.received == []


def test_a_name_with_any_refused_answer_is_refused(monkeypatch):
    def mixed(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]

    monkeypatch.setattr(socket, "getaddrinfo", mixed)

    outcome = post("https://mixed.test/hook", allow_private=False)

    assert "10.0.0.7" in outcome.error and outcome.address is None


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "http://user:pw@example.com/",
                                 "gopher://127.0.0.1/"])
def test_only_http_and_https_without_credentials(url):
    assert outbound.url_refusal(url) is not None
    assert post(url).error.startswith("Refused:")


def test_redirects_are_not_followed(receiver):
    receiver.script = [302]
    receiver.extra_headers = {"Location": "http://169.254.169.254/latest/meta-data/"}

    outcome = post(receiver.url)

    assert not outcome.succeeded and outcome.status_code == 302 and "Redirects are not followed" in outcome.error
    assert len(receiver.received) == 1


def test_the_response_is_read_up_to_a_size_limit(receiver):
    receiver.response_body = b"x" * (outbound.MAX_RESPONSE_BYTES + 10)

    outcome = post(receiver.url)

    assert outcome.status_code == 200 and "cut off" in outcome.error


@pytest.fixture
def silent_server():
    """Accepts the request and never answers."""
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            release.wait(5)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    release.set()
    server.shutdown()
    server.server_close()


def test_a_receiver_that_does_not_answer_in_time_is_a_timeout(silent_server):
    outcome = post(silent_server, total_seconds=0.3)

    assert not outcome.succeeded and outcome.status_code is None and "No complete response" in outcome.error
    assert outcome.latency_ms < 2000


def test_tls_is_opened_with_the_host_name_not_the_address_connected_to(monkeypatch):
    """SNI (and so the certificate check) names the URL's host although the socket goes to the
    checked IP address: the TLS ClientHello a raw loopback listener receives carries the name."""
    listener = socket.create_server(("127.0.0.1", 0))
    hello = []

    def accept_one():
        connection, _ = listener.accept()
        connection.settimeout(2)
        hello.append(connection.recv(4096))
        connection.close()

    thread = threading.Thread(target=accept_one, daemon=True)
    thread.start()
    real_getaddrinfo = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, *args, **kwargs: (
        [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))] if host == "hooks.test"
        else real_getaddrinfo(host, port, *args, **kwargs)))

    outcome = post(f"https://hooks.test:{listener.getsockname()[1]}/hook", total_seconds=2)
    thread.join(3)
    listener.close()

    assert outcome.address == "127.0.0.1" and not outcome.succeeded
    assert hello and b"hooks.test" in hello[0] and b"127.0.0.1" not in hello[0]
