"""The one HTTP client that sends webhooks, and the only way a webhook reaches the network.

The target's host name is resolved once; every address it resolves to is checked
(notifications.addresses), and the request is sent to the checked address itself, with the
original name in the Host header and as the TLS server name (SNI, certificate check). Nothing
resolves the name again between the check and the connection, so a DNS answer that changes in
between (DNS rebinding) cannot steer the request to a refused address. Redirects are never
followed; the response is read up to a size limit and the whole exchange up to a time limit.
"""
import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from notifications import addresses

CONNECT_SECONDS = 3.0
TOTAL_SECONDS = 10.0
MAX_RESPONSE_BYTES = 64 * 1024
ERROR_EXCERPT_CHARS = 500


class TargetRefused(Exception):
    """The URL may not be delivered to (scheme, missing host, or a refused address)."""


@dataclass(frozen=True)
class Outcome:
    """What one POST came to: a status code when the target answered, an error when it did not."""

    address: str | None
    status_code: int | None
    latency_ms: int
    error: str

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def url_refusal(url: str) -> str | None:
    """Why `url` cannot be a webhook URL whatever it resolves to (scheme, host, credentials), or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "Webhook URLs must be http:// or https://."
    if not parts.hostname:
        return "The URL has no host."
    if parts.username or parts.password:
        return "Webhook URLs may not carry credentials; use the signature to authenticate."
    try:
        parts.port
    except ValueError:
        return "The URL's port is not a valid port."
    return None


def literal_address_refusal(url: str, *, allow_private: bool) -> str | None:
    """When the URL's host is an IP address, why that address is refused (or None)."""
    try:
        address = ipaddress.ip_address(urlsplit(url).hostname or "")
    except ValueError:
        return None
    reason = addresses.refusal(address, allow_private=allow_private)
    return None if reason is None else f"{address} is {reason}."


def resolve_checked(host: str, port: int, *, allow_private: bool) -> addresses.Address:
    """The address to connect to: the first the name resolves to, once every one is allowed.

    A name resolving to any refused address is refused as a whole: which of its answers a later
    resolution would pick is not ours to choose."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise TargetRefused(f"{host} does not resolve ({error}).") from None
    resolved = list(dict.fromkeys(ipaddress.ip_address(answer[4][0].split("%")[0]) for answer in answers))
    for address in resolved:
        reason = addresses.refusal(address, allow_private=allow_private)
        if reason is not None:
            raise TargetRefused(f"{host} resolves to {address}, {reason}.")
    return resolved[0]


def post(url: str, *, body: bytes, headers: dict[str, str], allow_private: bool,
         total_seconds: float = TOTAL_SECONDS) -> Outcome:
    """POST `body` to `url` through the checks above; never raises for a network failure."""
    started = time.monotonic()

    def outcome(address, status_code=None, error=""):
        return Outcome(address=None if address is None else str(address), status_code=status_code,
                       latency_ms=round((time.monotonic() - started) * 1000), error=error[:ERROR_EXCERPT_CHARS])

    reason = url_refusal(url)
    if reason is not None:
        return outcome(None, error=f"Refused: {reason}")
    target = httpx.URL(url)
    try:
        address = resolve_checked(target.host, target.port or (443 if target.scheme == "https" else 80),
                                  allow_private=allow_private)
    except TargetRefused as refused:
        return outcome(None, error=f"Refused: {refused}")
    host_header = target.host if target.port is None else f"{target.host}:{target.port}"
    request_headers = {**headers, "Host": host_header}
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    timeout = httpx.Timeout(total_seconds, connect=min(CONNECT_SECONDS, total_seconds))
    try:
        with httpx.Client(follow_redirects=False, timeout=timeout, trust_env=False) as client:
            request = client.build_request("POST", target.copy_with(host=str(address)), content=body,
                                           headers=request_headers, extensions=extensions)
            response = client.send(request, stream=True)
            try:
                received = 0
                for chunk in response.iter_raw():
                    received += len(chunk)
                    if received > MAX_RESPONSE_BYTES:
                        return outcome(address, response.status_code,
                                       f"The response was cut off after {MAX_RESPONSE_BYTES} bytes.")
                    if time.monotonic() - started > total_seconds:
                        return outcome(address, error=f"No complete response within {total_seconds:g} s.")
            finally:
                response.close()
    except httpx.TimeoutException:
        return outcome(address, error=f"No complete response within {total_seconds:g} s.")
    except httpx.HTTPError as error:
        return outcome(address, error=f"{type(error).__name__}: {error}")
    if response.is_redirect:
        return outcome(address, response.status_code, "Redirects are not followed.")
    if not 200 <= response.status_code < 300:
        return outcome(address, response.status_code, f"The receiver answered {response.status_code}.")
    return outcome(address, response.status_code)
