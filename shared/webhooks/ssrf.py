"""The SSRF guard: webhook URLs are http(s) and reach only public addresses.

A subscriber chooses the URL we POST to, so without a guard it could make us call our own
database, the cloud metadata service (169.254.169.254) or an intranet host. The host is
resolved and every address it resolves to must be public, unless WEBHOOK_ALLOWED_HOSTS names
the host or a network containing the address. The dispatcher checks again before each send,
so a name that later resolves to a private address is refused then too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(ValueError):
    """The URL is not one we may send webhooks to; the message says why."""


def _allowed(host: str, address: IPAddress, allowed: Sequence[str]) -> bool:
    for entry in allowed:
        if entry.lower() == host.lower():
            return True
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue  # a hostname entry
    return False


def _forbidden(address: IPAddress) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    checks = (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("unspecified", address.is_unspecified),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
    )
    return next((name for name, hit in checks if hit), None)


def parse_url(url: str) -> tuple[str, int]:
    """Check the URL's shape; return its host and port."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl("only http and https URLs are accepted")
    if not parts.hostname:
        raise UnsafeUrl("the URL has no host")
    if parts.username or parts.password:
        raise UnsafeUrl("credentials in the URL are not accepted; use the signature instead")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeUrl("the URL's port is invalid") from exc
    return parts.hostname, port


async def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass  # a name, not an address literal
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeUrl(f"the host {host} cannot be resolved") from exc
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses:
        raise UnsafeUrl(f"the host {host} cannot be resolved")
    return addresses


async def check_url(url: str, allowed: Sequence[str]) -> None:
    """Raise `UnsafeUrl` unless every address the URL's host resolves to may be called."""
    host, port = parse_url(url)
    addresses = await _resolve(host, port)
    for address in addresses:
        reason = _forbidden(address)
        if reason and not _allowed(host, address, allowed):
            raise UnsafeUrl(
                f"{host} resolves to a {reason} address ({address}), which webhooks may not "
                "reach unless WEBHOOK_ALLOWED_HOSTS allows it"
            )
