"""The SSRF guard: webhooks go only to public addresses, over http(s), to the address checked.

A subscriber chooses the URL we POST to, so without a guard it could make us call our own
database, a cloud metadata service (169.254.169.254, or Alibaba Cloud's 100.100.100.200), or
an intranet host. The guard is an **allow-list**: an address may be called only if it is
globally reachable unicast (IPv4 outside every special-purpose block of the IANA registry;
IPv6 inside global unicast 2000::/3 and outside its special-purpose blocks). Python's own
`is_private` / `is_global` are not enough and differ between versions (on 3.11
`IPv6Address("2002:7f00:1::1").is_global` is true, although that 6to4 address is a way to
127.0.0.1), so the blocks are listed here. Addresses that carry an IPv4 address inside them
are judged by what they carry: an IPv4-mapped address (`::ffff:a.b.c.d`) is its IPv4 address;
transition addresses (6to4 2002::/16, Teredo 2001::/32, NAT64 64:ff9b::/96 and 64:ff9b:1::/48,
IPv4-compatible ::/96, IPv4-translated ::ffff:0:0:0/96) are refused outright, naming the IPv4
address inside, since a receiver reachable through them is reachable at that address directly.

The URL itself must be http or https, with a host, no user or password, no port 0, and no
space, control character or backslash (where URL parsers disagree). A numeric host must be
written canonically (`8.8.8.8`, not `134744072` or `0x8.8.8.8`).

Checked twice: when a subscription is created or its URL changed (`check_url`, a 422 naming
the field) and when the dispatcher connects (`GuardedResolver`). The dispatcher's HTTP client
resolves names only through `GuardedResolver`, which resolves once, refuses the host if any
address is not allowed, and hands the client exactly the addresses it checked: the connection
goes to a checked address while the Host header, TLS SNI and certificate verification keep the
URL's host name. A name that changes its answer between the check and the connection (DNS
rebinding) therefore cannot lead anywhere unchecked. Address literals never reach a resolver,
so `check_literal` checks them before each request.

WEBHOOK_ALLOWED_HOSTS (empty by default) is the explicit exception, for a receiver on an
intranet or the tests' receiver on 127.0.0.1: host names or networks (CIDR) that may be called
although not public.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(ValueError):
    """The URL is not one we may send webhooks to; the message says why."""


class RefusedAddress(OSError):
    """Raised by `GuardedResolver`: an OSError, as resolvers' failures are, so that the HTTP
    client reports it as a connection failure (the dispatcher recognises it by this type)."""


def _nets(*specs: tuple[str, str]) -> tuple[tuple[ipaddress._BaseNetwork, str], ...]:
    return tuple((ipaddress.ip_network(net), label) for net, label in specs)


#: IPv4 special-purpose blocks (IANA IPv4 Special-Purpose Address Registry, RFC 6890 and
#: successors) that are not globally reachable, with what to call them in an error.
_IPV4_BLOCKED = _nets(
    ("0.0.0.0/8", "'this network' (0.0.0.0/8)"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared (carrier-grade NAT and cloud metadata, 100.64.0.0/10)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignment (192.0.0.0/24)"),
    ("192.0.2.0/24", "documentation"),
    ("192.31.196.0/24", "AS112 (special-purpose)"),
    ("192.52.193.0/24", "AMT (special-purpose)"),
    ("192.88.99.0/24", "6to4 relay anycast"),
    ("192.168.0.0/16", "private"),
    ("192.175.48.0/24", "AS112 (special-purpose)"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
)
#: IPv6 blocks refused for what they are (checked after the transition blocks below).
_IPV6_BLOCKED = _nets(
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("100::/64", "discard-only"),
    ("2001::/23", "IETF protocol assignment (2001::/23)"),
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("5f00::/16", "segment routing (SRv6)"),
    ("fc00::/7", "unique local (private)"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local"),
    ("ff00::/8", "multicast"),
)
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
_MAPPED = ipaddress.ip_network("::ffff:0:0/96")
_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")
_COMPATIBLE = ipaddress.ip_network("::/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_TEREDO = ipaddress.ip_network("2001::/32")
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")


def _low32(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)


def _a(label: str) -> str:
    """`label` as a noun phrase: "a loopback address", "an IETF ... address"."""
    return ("an " if label[0].lower() in "aeiou" else "a ") + label + " address"


def _v4_reason(address: ipaddress.IPv4Address) -> str | None:
    for network, label in _IPV4_BLOCKED:
        if address in network:
            return _a(label)
    if not address.is_global:  # whatever the registry adds that the list above lacks
        return "not a globally reachable address"
    return None


def _embedding(kind: str, v4: ipaddress.IPv4Address) -> str:
    reason = _v4_reason(v4)
    return f"{_a(kind)} embedding {v4}" + (f" ({reason})" if reason else "")


def _v6_reason(address: ipaddress.IPv6Address) -> str | None:
    # Transition addresses first: they sit inside blocks refused for other reasons (Teredo in
    # 2001::/23, the IPv4-compatible block around ::1), and the IPv4 inside is the useful news.
    if address in _SIX_TO_FOUR:
        assert address.sixtofour is not None
        return _embedding("6to4 (2002::/16)", address.sixtofour)
    if address in _TEREDO:
        assert address.teredo is not None
        server, client = address.teredo
        return f"a Teredo (2001::/32) address embedding server {server} and client {client}"
    if address in _NAT64:
        return _embedding("NAT64 (64:ff9b::/96)", _low32(address))
    if address in _NAT64_LOCAL:
        return _a("local-use NAT64 (64:ff9b:1::/48)")
    if address in _TRANSLATED:
        return _embedding("IPv4-translated (::ffff:0:0:0/96)", _low32(address))
    for network, label in _IPV6_BLOCKED:
        if address in network:
            return _a(label)
    if address in _COMPATIBLE:
        return _embedding("IPv4-compatible (::/96, deprecated)", _low32(address))
    if address not in _GLOBAL_UNICAST_V6:
        return "outside global unicast (2000::/3)"
    if not address.is_global:
        return "not a globally reachable address"
    return None


def forbidden_reason(address: IPAddress) -> str | None:
    """Why `address` may not be called ("a loopback address"), or None if it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return "a scoped address (with a zone index)"
        if address in _MAPPED:
            v4 = _low32(address)
            reason = _v4_reason(v4)
            return f"an IPv4-mapped address embedding {v4} ({reason})" if reason else None
        return _v6_reason(address)
    return _v4_reason(address)


def _allowed(host: str, address: IPAddress, allowed: Sequence[str]) -> bool:
    """Does WEBHOOK_ALLOWED_HOSTS name the host, or a network holding the address?"""
    for entry in allowed:
        if entry.lower().rstrip(".") == host.lower().rstrip("."):
            return True
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue  # a host name entry
        if address.version == network.version and address in network:
            return True
    return False


def vet(host: str, addresses: Sequence[IPAddress], allowed: Sequence[str]) -> bool:
    """Raise `UnsafeUrl` unless every address may be called; True when some address is not
    public and passed only because WEBHOOK_ALLOWED_HOSTS allows it."""
    exempted = False
    for address in addresses:
        reason = forbidden_reason(address)
        if reason:
            exempted = True
        if reason and not _allowed(host, address, allowed):
            shown = host.replace("%25", "%")  # an IPv6 zone index, percent-encoded in URLs
            where = shown if shown == str(address) else f"{shown} resolves to {address}, which"
            raise UnsafeUrl(
                f"{where} is {reason}: webhooks may not reach it unless WEBHOOK_ALLOWED_HOSTS "
                "allows it"
            )
    return exempted


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as sent to the resolver (IDNA-encoded; an IPv6 literal without brackets)
    port: int
    address: IPAddress | None  # the host, when it is an address literal


_UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
#: A host made only of digits, dots and hex that is not a canonical address: the legacy forms
#: `2130706433`, `127.1`, `0x7f.0.0.1`, which resolvers turn into an address.
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]*))*\.?$", re.IGNORECASE)


def parse_url(url: str) -> Target:
    """Check the URL's shape; return where it points."""
    if _UNSAFE_CHARS.search(url):
        raise UnsafeUrl("spaces, control characters and backslashes are not accepted in the URL")
    try:
        parsed = URL(url)
        port = parsed.port
    except (ValueError, TypeError) as exc:
        raise UnsafeUrl(f"the URL cannot be parsed ({exc})") from exc
    if parsed.scheme not in ("http", "https"):
        raise UnsafeUrl("only http and https URLs are accepted")
    # "@" anywhere in the authority: even an empty user part, which parsers drop silently.
    netloc = url.split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if parsed.user is not None or parsed.password is not None or "@" in netloc:
        raise UnsafeUrl("credentials in the URL are not accepted; use the signature instead")
    host = parsed.raw_host
    if not host:
        raise UnsafeUrl("the URL has no host")
    if not port:  # 0: "any port" to a socket API
        raise UnsafeUrl("port 0 is not accepted")
    try:
        address: IPAddress | None = ipaddress.ip_address(parsed.host or host)
    except ValueError:
        address = None
        if _NUMERIC_HOST.match(host):
            raise UnsafeUrl(
                f"the host {host} looks like an address in a legacy form; write it as a "
                "canonical address (e.g. 203.0.113.7)"
            ) from None
    return Target(parsed.scheme, host, port, address)


@lru_cache(maxsize=4096)
def target_of(url: str) -> Target:
    """`parse_url`, cached (the dispatcher asks for the same few URLs again and again)."""
    return parse_url(url)


@lru_cache(maxsize=4096)
def _literal_verdict(url: str, allowed: tuple[str, ...]) -> str | None:
    try:
        target = parse_url(url)
        if target.address is not None:
            vet(target.host, [target.address], allowed)
    except UnsafeUrl as exc:
        return str(exc)
    return None


def check_literal(url: str, allowed: Sequence[str]) -> None:
    """Everything about the URL that needs no DNS: its shape, and its host if that is an
    address (which no resolver sees). Cached: the dispatcher asks before every request."""
    verdict = _literal_verdict(url, tuple(allowed))
    if verdict is not None:
        raise UnsafeUrl(verdict)


async def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeUrl(_unresolved(host)) from exc
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses:
        raise UnsafeUrl(_unresolved(host))
    return addresses


def _unresolved(host: str) -> str:
    # The documented example's host is a reserved `.example` name (RFC 2606): say what to do.
    hint = (
        " (a placeholder: give the URL of your own receiver)"
        if host.rstrip(".").endswith(".example") or host.rstrip(".") == "example"
        else ""
    )
    return f"the host {host} cannot be resolved{hint}"


async def check_url(url: str, allowed: Sequence[str]) -> None:
    """Raise `UnsafeUrl` unless the URL's shape is right and every address its host resolves
    to may be called (at subscription time; the dispatcher checks again when it connects)."""
    target = parse_url(url)
    if target.address is not None:
        addresses = [target.address]
    else:
        addresses = await _resolve(target.host, target.port)
    vet(target.host, addresses, allowed)


class GuardedResolver(AbstractResolver):
    """The dispatcher's resolver: every address a name resolves to is checked, and only the
    checked addresses are returned, so the HTTP client connects to nothing else (the pinning
    that defeats DNS rebinding). One refused address refuses the host."""

    def __init__(self, allowed: Sequence[str], resolver: AbstractResolver | None = None) -> None:
        self.allowed = tuple(allowed)
        self._resolver = resolver or DefaultResolver()
        #: Names that resolved, at least once, to an address admitted only by
        #: WEBHOOK_ALLOWED_HOSTS (kept for good: a kept-alive connection may still go there).
        self.exempted: set[str] = set()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if _NUMERIC_HOST.match(host):
            raise RefusedAddress(f"the host {host} is an address in a legacy form")
        results = await self._resolver.resolve(host, port, family)
        try:
            if vet(host, [ipaddress.ip_address(r["host"]) for r in results], self.allowed):
                self.exempted.add(host)
        except UnsafeUrl as exc:
            raise RefusedAddress(str(exc)) from None
        return results

    async def close(self) -> None:
        await self._resolver.close()
