"""A lean HTTP/1.1 client for the dispatcher's POSTs: one keep-alive connection, one request at
a time, responses parsed by `httptools` (the parser uvicorn uses).

Why not httpx: the dispatcher is CPU-bound in its HTTP client. Under py-spy, httpx and httpcore
(URL and request models, cookies, redirects, the pool, anyio cancel scopes around every socket
operation, h11) took ~80% of the dispatcher's CPU, ~0.6 ms per POST; this client writes the
request in one `transport.write` and parses the answer in C.

What it keeps from the httpx client it replaces: a timeout (here on the whole exchange, connect
included), keep-alive (a connection idle for longer than `keepalive_expiry`, closed by the
server, answered `Connection: close` or whose response was not read to its end is not reused),
TLS with certificate and host name verification (the caller's `ssl.SSLContext`), no redirects
followed, no proxies, at most `limit` bytes of the response body kept. A request that fails on
a reused connection before any byte of an answer arrived (the server closed the idle connection
as we sent) is sent once more on a new connection, as httpcore does; the receiver may then see
it twice, which Standard Webhooks allows (the same `webhook-id`).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import quote, urlsplit

import httptools


class HTTPError(Exception):
    """The request failed without a usable response."""


class ConnectError(HTTPError):
    """The connection (or its TLS handshake) could not be established."""


class RemoteProtocolError(HTTPError):
    """The server closed the connection early or answered something that is not HTTP/1.1."""


class TimeoutException(HTTPError):
    """The exchange took longer than its timeout."""


class _Stale(RemoteProtocolError):
    """A reused connection was closed before any byte of an answer arrived."""


@dataclass(frozen=True)
class Response:
    status_code: int
    #: Lower-case names; of a repeated header, the last value.
    headers: dict[str, str]
    #: At most the request's `limit` bytes.
    body: bytes


@dataclass(frozen=True)
class Target:
    """Where a URL's request goes: origin, `Host` header and request target."""

    scheme: str
    host: str
    port: int
    host_header: str
    path: str

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HTTPError(f"not an http(s) URL: {url!r}")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise HTTPError(f"invalid port in {url!r}") from exc
        host = parts.hostname
        with_port = parts.port is not None and port != (443 if parts.scheme == "https" else 80)
        shown = host if ":" not in host else f"[{host}]"  # an IPv6 literal
        try:
            shown = shown.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise HTTPError(f"invalid host name in {url!r}") from exc
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        # Reserved characters and existing %-escapes stay; spaces, controls and non-ASCII
        # characters are escaped (the request line must not contain them).
        path = quote(path, safe="!#$%&'()*+,/:;=?@[]~")
        return cls(
            scheme=parts.scheme,
            host=host,
            port=port,
            host_header=f"{shown}:{port}" if with_port else shown,
            path=path,
        )


class _Protocol(asyncio.Protocol):
    """One connection's transport and response parser; one exchange at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.reusable = True
        self.waiter: asyncio.Future[Response] | None = None
        self.limit = 0
        self._start_message()

    def _start_message(self) -> None:
        self.received = False
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = bytearray()
        self.headers_done = False

    def expect(self, limit: int) -> asyncio.Future[Response]:
        self.limit = limit
        self._start_message()
        self.waiter = asyncio.get_running_loop().create_future()
        return self.waiter

    def _waiting(self) -> bool:
        return self.waiter is not None and not self.waiter.done()

    def _finish(self, keep_alive: bool) -> None:
        if not self._waiting():
            return
        self.reusable = self.reusable and keep_alive
        assert self.waiter is not None
        self.waiter.set_result(Response(self.status, self.headers, bytes(self.body)))

    def _fail(self, exc: HTTPError) -> None:
        self.reusable = False
        if self._waiting():
            assert self.waiter is not None
            self.waiter.set_exception(exc)

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not derive from asyncio.Transport: no isinstance check.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if not self._waiting():  # nothing was asked: the connection is out of step
            self.reusable = False
            if self.transport is not None:
                self.transport.close()
            return
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(RemoteProtocolError(f"invalid HTTP response: {exc}"))
            if self.transport is not None:
                self.transport.close()

    def eof_received(self) -> bool | None:
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        if self.headers_done:  # a body delimited by the end of the connection, or cut short
            self._finish(keep_alive=False)
        elif not self.received:
            self._fail(_Stale("the server closed the connection without answering"))
        else:
            self._fail(RemoteProtocolError("the server closed the connection mid-response"))

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        room = self.limit - len(self.body)
        if room > 0:
            self.body += body[:room]
        if len(self.body) >= self.limit:  # enough: the rest is not read, nor the connection reused
            self._finish(keep_alive=False)

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200:  # an interim answer (103 Early Hints...): the real one follows
            self._start_message()
            self.received = True
            return
        self._finish(keep_alive=self.parser.should_keep_alive())


class Connection:
    """One keep-alive connection (opened on first use, again after it was closed); a new origin
    closes the old connection first. Not for concurrent requests: one `post` at a time."""

    def __init__(self, tls: ssl.SSLContext | None = None, keepalive_expiry: float = 30.0) -> None:
        self._tls = tls
        self._keepalive_expiry = keepalive_expiry
        self._protocol: _Protocol | None = None
        self._origin: tuple[str, str, int] | None = None
        self._idle_since = 0.0

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    def _reusable(self, origin: tuple[str, str, int], now: float) -> bool:
        p = self._protocol
        return (
            p is not None
            and not p.closed
            and p.reusable
            and self._origin == origin
            and now - self._idle_since < self._keepalive_expiry
        )

    async def _connect(self, target: Target) -> _Protocol:
        self.close()
        loop = asyncio.get_running_loop()
        tls = self._tls_context() if target.scheme == "https" else None
        try:
            _, protocol = await loop.create_connection(
                _Protocol,
                target.host,
                target.port,
                ssl=tls,
                server_hostname=target.host if tls else None,
            )
        except (OSError, ssl.SSLError) as exc:  # refused, unreachable, unresolvable, bad cert
            raise ConnectError(str(exc) or type(exc).__name__) from exc
        self._protocol = protocol
        self._origin = (target.scheme, target.host, target.port)
        return protocol

    async def _exchange(self, protocol: _Protocol, request: bytes, limit: int) -> Response:
        waiter = protocol.expect(limit)
        assert protocol.transport is not None
        protocol.transport.write(request)
        return await waiter

    async def post(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        time_limit: float,
        limit: int = 1024,
    ) -> Response:
        """POST `body`; the status, headers and first `limit` bytes of the body of the answer,
        all within `time_limit` seconds (connecting included).
        Raises `TimeoutException`, `ConnectError` or `RemoteProtocolError`."""
        target = Target.parse(url)
        head = f"POST {target.path} HTTP/1.1\r\nhost: {target.host_header}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head += f"content-length: {len(body)}\r\n\r\n"
        request = head.encode("latin-1") + body
        loop = asyncio.get_running_loop()
        origin = (target.scheme, target.host, target.port)
        try:
            async with asyncio.timeout(time_limit):
                reused = self._reusable(origin, loop.time())
                protocol = self._protocol if reused else await self._connect(target)
                assert protocol is not None
                try:
                    response = await self._exchange(protocol, request, limit)
                except _Stale as exc:
                    if not reused:
                        raise RemoteProtocolError(str(exc)) from None
                    try:  # the server had closed the idle connection: once more, on a new one
                        response = await self._exchange(await self._connect(target), request, limit)
                    except _Stale as again:
                        raise RemoteProtocolError(str(again)) from None
        except TimeoutError as exc:
            self.close(abort=True)
            raise TimeoutException(f"no complete answer within {time_limit:g} s") from exc
        except BaseException:
            self.close(abort=True)
            raise
        protocol = self._protocol
        if protocol is not None and not protocol.reusable:
            self.close()
        self._idle_since = loop.time()
        return response

    def close(self, abort: bool = False) -> None:
        protocol, self._protocol, self._origin = self._protocol, None, None
        if protocol is not None and protocol.transport is not None and not protocol.closed:
            if abort:
                protocol.transport.abort()
            else:
                protocol.transport.close()
