"""The dispatcher's HTTP/1.1 client (`shared.webhooks.http`) against scripted raw servers:
keep-alive, connections the server closes, chunked and close-delimited bodies, the body limit,
interim answers, timeouts, refused connections and TLS."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.webhooks import http

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, dict[str, str], bytes]:
    """The request line, headers (lower-case names) and body of one request."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return lines[0].encode(), headers, body


class Server:
    """A loopback TCP server running `handler` per connection; counts connections."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[tuple[bytes, dict[str, str], bytes]] = []
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def start(self, tls: ssl.SSLContext | None = None) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=tls)

    @property
    def port(self) -> int:
        assert self.server is not None
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}/hooks?x=1"

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[Server]]]:
    servers: list[Server] = []

    async def start(handler: Handler) -> Server:
        server = Server(handler)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()


def answering(*answers: bytes, record: list[tuple[bytes, dict[str, str], bytes]]) -> Handler:
    """Each request on a connection gets the next answer; after the last, the server closes."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for answer in answers:
            record.append(await read_request(reader))
            writer.write(answer)
            await writer.drain()

    return handler


OK = b"HTTP/1.1 204 No Content\r\n\r\n"


async def test_keep_alive_reuses_one_connection_and_sends_the_request_as_given(
    serve: Callable[[Handler], Awaitable[Server]],
) -> None:
    seen: list[tuple[bytes, dict[str, str], bytes]] = []
    server = await serve(answering(OK, OK, OK, record=seen))
    conn = http.Connection()
    for n in range(3):
        response = await conn.post(
            server.url(), b'{"n":%d}' % n, {"webhook-id": f"msg_{n}"}, time_limit=5
        )
        assert response.status_code == 204
    conn.close()
    assert server.connections == 1
    assert [s[0] for s in seen] == [b"POST /hooks?x=1 HTTP/1.1"] * 3
    assert [s[2] for s in seen] == [b'{"n":0}', b'{"n":1}', b'{"n":2}']
    assert seen[0][1]["host"] == f"127.0.0.1:{server.port}"
    assert seen[2][1]["webhook-id"] == "msg_2"


async def test_a_connection_the_server_closed_is_replaced(
    serve: Callable[[Handler], Awaitable[Server]],
) -> None:
    seen: list[tuple[bytes, dict[str, str], bytes]] = []
    # One answer per connection, then the server closes it (as an idle timeout would).
    server = await serve(answering(OK, record=seen))
    conn = http.Connection()
    for _ in range(3):
        assert (await conn.post(server.url(), b"{}", {}, time_limit=5)).status_code == 204
        await asyncio.sleep(0.05)
    conn.close()
    assert len(seen) == 3
    assert server.connections == 3


async def test_a_request_the_server_drops_on_a_reused_connection_is_sent_once_more(
    serve: Callable[[Handler], Awaitable[Server]],
) -> None:
    """The race of keep-alive: the server closes the idle connection as the request leaves."""
    seen: list[tuple[bytes, dict[str, str], bytes]] = []
    first = True

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal first
        seen.append(await read_request(reader))
        writer.write(OK)
        await writer.drain()
        if first:  # read the next request, then close without answering
            first = False
            seen.append(await read_request(reader))
            return
        seen.append(await read_request(reader))
        writer.write(OK)
        await writer.drain()

    server = await serve(handler)
    conn = http.Connection()
    assert (await conn.post(server.url(), b"a", {}, time_limit=5)).status_code == 204
    assert (await conn.post(server.url(), b"b", {}, time_limit=5)).status_code == 204
    conn.close()
    assert [s[2] for s in seen] == [b"a", b"b", b"b"]
    assert server.connections == 2


async def test_no_answer_on_a_new_connection_is_an_error(
    serve: Callable[[Handler], Awaitable[Server]],
) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)

    server = await serve(handler)
    with pytest.raises(http.RemoteProtocolError):
        await http.Connection().post(server.url(), b"{}", {}, time_limit=5)
    assert server.connections == 1  # not sent twice: the connection was new


async def test_chunked_and_close_delimited_bodies_and_connection_close(
    serve: Callable[[Handler], Awaitable[Server]],
) -> None:
    seen: list[tuple[bytes, dict[str, str], bytes]] = []
    chunked = (
        b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n"
        b"Retry-After: 7\r\n\r\n5\r\nbusy \r\n3\r\nnow\r\n0\r\n\r\n"
    )
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    server = await serve(answering(chunked, closing, record=seen))
    conn = http.Connection()
    busy = await conn.post(server.url(), b"{}", {}, time_limit=5)
    assert (busy.status_code, busy.body, busy.headers["retry-after"]) == (503, b"busy now", "7")
    ok = await conn.post(server.url(), b"{}", {}, time_limit=5)
    assert (ok.status_code, ok.body) == (200, b"ok")

    async def until_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n\r\nthe end of the connection ends the body")
        await writer.drain()

    other = await serve(until_close)
    response = await conn.post(other.url(), b"{}", {}, time_limit=5)
    assert response.body == b"the end of the connection ends the body"
    response = await conn.post(server.url(), b"{}", {}, time_limit=5)  # closed: a new one
    assert response.status_code == 503
    conn.close()
    assert server.connections == 2


async def test_only_the_first_bytes_of_a_long_body_are_kept(
    serve: Callable[[Handler], Awaitable[Server]],
) -> None:
    seen: list[tuple[bytes, dict[str, str], bytes]] = []
    long = b"x" * 100_000
    answer = b"HTTP/1.1 500 Oops\r\nContent-Length: %d\r\n\r\n%s" % (len(long), long)
    server = await serve(answering(answer, answer, record=seen))
    conn = http.Connection()
    response = await conn.post(server.url(), b"{}", {}, time_limit=5, limit=1024)
    assert (response.status_code, response.body) == (500, b"x" * 1024)
    # The rest was not read, so the connection is not reused.
    assert (await conn.post(server.url(), b"{}", {}, time_limit=5)).status_code == 500
    conn.close()
    assert server.connections == 2


async def test_interim_answers_are_skipped(
    serve: Callable[[Handler], Awaitable[Server]],
) -> None:
    seen: list[tuple[bytes, dict[str, str], bytes]] = []
    answer = b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\n\r\n"
    server = await serve(answering(answer, record=seen))
    response = await http.Connection().post(server.url(), b"{}", {}, time_limit=5)
    assert response.status_code == 201


async def test_a_slow_answer_times_out_and_a_refused_connection_is_a_connect_error(
    serve: Callable[[Handler], Awaitable[Server]],
) -> None:
    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(30)

    server = await serve(slow)
    conn = http.Connection()
    with pytest.raises(http.TimeoutException):
        await conn.post(server.url(), b"{}", {}, time_limit=0.2)
    port = server.port
    await server.close()
    with pytest.raises(http.ConnectError):
        await conn.post(f"http://127.0.0.1:{port}/", b"{}", {}, time_limit=5)


async def test_garbage_is_a_protocol_error(
    serve: Callable[[Handler], Awaitable[Server]],
) -> None:
    seen: list[tuple[bytes, dict[str, str], bytes]] = []
    server = await serve(answering(b"SSH-2.0-OpenSSH\r\n\r\n", record=seen))
    with pytest.raises(http.RemoteProtocolError):
        await http.Connection().post(server.url(), b"{}", {}, time_limit=5)


def _certificate(tmp: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (and its key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_https_verifies_the_certificate(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    seen: list[tuple[bytes, dict[str, str], bytes]] = []
    server = Server(answering(OK, OK, record=seen))
    await server.start(server_tls)
    try:
        trusting = ssl.create_default_context(cafile=str(cert))
        conn = http.Connection(trusting)
        for _ in range(2):
            response = await conn.post(server.url("https"), b"{}", {}, time_limit=5)
            assert response.status_code == 204
        conn.close()
        assert server.connections == 1
        # A client that does not trust the certificate refuses the connection.
        with pytest.raises(http.ConnectError):
            await http.Connection(ssl.create_default_context()).post(
                server.url("https"), b"{}", {}, time_limit=5
            )
    finally:
        await server.close()


async def test_under_uvloop_as_the_dispatcher_runs() -> None:
    """The dispatcher process runs on uvloop (whose transports differ from asyncio's): keep-alive,
    a server-closed connection, the body limit and a timeout there, on a loop of its own."""
    import uvloop

    async def scenario() -> tuple[list[int], int, bool]:
        seen: list[tuple[bytes, dict[str, str], bytes]] = []
        long = b"HTTP/1.1 500 Oops\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000
        server = Server(answering(OK, OK, long, record=seen))
        await server.start()
        slow = Server(answering(record=[]))

        async def never(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await read_request(reader)
            await asyncio.sleep(30)

        slow.handler = never
        await slow.start()
        try:
            conn = http.Connection()
            codes = [(await conn.post(server.url(), b"{}", {}, time_limit=5)).status_code]
            codes.append((await conn.post(server.url(), b"{}", {}, time_limit=5)).status_code)
            response = await conn.post(server.url(), b"{}", {}, time_limit=5, limit=100)
            codes.append(response.status_code)
            assert response.body == b"x" * 100
            # The server closed that connection after its last answer: a new one.
            await asyncio.sleep(0.05)
            codes.append((await conn.post(server.url(), b"{}", {}, time_limit=5)).status_code)
            timed_out = False
            try:
                await conn.post(slow.url(), b"{}", {}, time_limit=0.2)
            except http.TimeoutException:
                timed_out = True
            conn.close()
            return codes, server.connections, timed_out
        finally:
            await server.close()
            await slow.close()

    codes, connections, timed_out = await asyncio.to_thread(uvloop.run, scenario())
    assert codes == [204, 204, 500, 204]
    assert connections == 2
    assert timed_out
