"""Which network addresses a webhook may be delivered to (server-side request forgery protection).

A webhook URL is chosen by a user and fetched by the server, so without a check it could reach the
server's own loopback services, the private network behind it, or a cloud's metadata endpoint
(169.254.169.254, fd00:ec2::254), which hands out credentials. Only public unicast addresses are
allowed; IPv6 forms that carry an IPv4 address (mapped, 6to4, NAT64) are judged by that address.
Plain functions over `ipaddress`: no Django.
"""
import ipaddress

CLOUD_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
NAT64 = ipaddress.ip_network("64:ff9b::/96")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if it is one of the forms that carry one."""
    if address.version != 6:
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: Address, *, allow_private: bool = False) -> str | None:
    """Why `address` may not be a webhook target, or None when it may.

    `allow_private` (self-hosted setups) lets loopback and private networks through; the cloud
    metadata addresses, multicast and unspecified addresses stay refused."""
    inner = embedded_ipv4(address)
    if inner is not None:
        reason = refusal(inner, allow_private=allow_private)
        return None if reason is None else f"{reason} (as {address})"
    if address in CLOUD_METADATA:
        return "a cloud metadata address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if allow_private:
        return None
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_reserved:  # before is_private, which also counts 240.0.0.0/4
        return "a reserved address"
    if address.is_private:  # RFC 1918, unique-local fc00::/7, documentation and benchmark ranges
        return "a private address"
    if not address.is_global:  # shared address space (100.64/10) and the rest IANA marks not global
        return "a non-public address"
    return None
