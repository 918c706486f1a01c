"""How the dispatcher sends one delivery (`Dispatcher.send`), against scripted raw servers on
loopback: keep-alive reuse, connections the server closes, the body limit, Retry-After, no
redirects, no proxies from the environment, the timeout (connecting included), refused
connections, TLS verification and the per-subscription concurrency; also under uvloop, on which
the dispatcher process runs."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook

from shared.config import Settings
from shared.webhooks import dispatcher as dispatcher_module
from shared.webhooks import signing
from shared.webhooks.dispatcher import Claimed, Dispatcher, Outcome

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
Request = tuple[bytes, dict[str, str], bytes]

SECRET = signing.new_secret()


async def read_request(reader: asyncio.StreamReader) -> Request:
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
    """A loopback TCP server running `handler` per connection; counts connections and
    records the requests `answering` read."""

    def __init__(self, handler: Handler | None = None) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[Request] = []
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            assert self.handler is not None
            await self.handler(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def start(self, tls: ssl.SSLContext | None = None) -> Server:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=tls)
        return self

    @property
    def port(self) -> int:
        assert self.server is not None
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}/hooks?x=1"

    def answering(self, *answers: bytes) -> Server:
        """Each request on a connection gets the next answer; after the last, the server
        closes the connection."""

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            for answer in answers:
                self.requests.append(await read_request(reader))
                writer.write(answer)
                await writer.drain()

        self.handler = handler
        return self

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
async def servers() -> AsyncIterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        await server.close()


@pytest.fixture
async def make_dispatcher(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Callable[..., Dispatcher]]:
    """Dispatchers with the webhook test settings (plus `update`); closed after the test."""
    made: list[Dispatcher] = []

    def make(tls: ssl.SSLContext | None = None, **update: object) -> Dispatcher:
        dispatcher = Dispatcher(sessionmaker, settings.model_copy(update=update), tls=tls)
        made.append(dispatcher)
        return dispatcher

    yield make
    for dispatcher in made:
        await dispatcher.aclose()


def claimed(url: str, subscription_id: uuid.UUID | None = None, n: int = 0) -> Claimed:
    return Claimed(
        delivery_id=uuid.uuid4(),
        lease_id=uuid.uuid4(),
        subscription_id=subscription_id or uuid.uuid4(),
        event_id=uuid.uuid4(),
        attempts=0,
        url=url,
        secrets=(SECRET,),
        payload={"type": "entry.approved", "data": {"n": n}},
    )


OK = b"HTTP/1.1 204 No Content\r\n\r\n"


def verified(request: Request) -> dict[str, object]:
    """The request's JSON body, after checking its Standard Webhooks signature."""
    _, headers, body = request
    payload: dict[str, object] = Webhook(SECRET).verify(body.decode(), headers)
    return payload


async def test_keep_alive_reuses_a_connection_and_the_request_is_signed_as_given(
    servers: list[Server], make_dispatcher: Callable[..., Dispatcher]
) -> None:
    server = await Server().answering(OK, OK, OK).start()
    servers.append(server)
    dispatcher = make_dispatcher()
    subscription = uuid.uuid4()
    outcomes = [await dispatcher.send(claimed(server.url(), subscription, n)) for n in range(3)]
    assert [o.status_code for o in outcomes] == [204, 204, 204]
    assert all(o.succeeded and o.error is None for o in outcomes)
    assert server.connections == 1
    assert [r[0] for r in server.requests] == [b"POST /hooks?x=1 HTTP/1.1"] * 3
    assert [verified(r)["data"] for r in server.requests] == [{"n": 0}, {"n": 1}, {"n": 2}]
    first = server.requests[0][1]
    assert first["host"] == f"127.0.0.1:{server.port}"
    assert first["content-type"] == "application/json"
    assert first["webhook-id"] == str(outcomes[0].claimed.event_id)
    assert "cookie" not in first


async def test_a_connection_the_server_closed_is_replaced(
    servers: list[Server], make_dispatcher: Callable[..., Dispatcher]
) -> None:
    # One answer per connection, then the server closes it (as an idle timeout would).
    server = await Server().answering(OK).start()
    servers.append(server)
    dispatcher = make_dispatcher()
    subscription = uuid.uuid4()
    for _ in range(3):
        assert (await dispatcher.send(claimed(server.url(), subscription))).status_code == 204
        await asyncio.sleep(0.05)
    assert len(server.requests) == 3
    assert server.connections == 3


@pytest.fixture
def loopback_counts_as_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests reach only loopback receivers, whose answers the dispatcher does not keep; here
    it is told they are public, to show what it keeps of a public receiver's answer."""
    monkeypatch.setattr(dispatcher_module, "forbidden_reason", lambda address: None)


@pytest.mark.usefixtures("loopback_counts_as_public")
async def test_only_the_first_kib_of_a_body_is_read_and_retry_after_is_honoured(
    servers: list[Server], make_dispatcher: Callable[..., Dispatcher]
) -> None:
    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """An answer announcing 10 MB of body, of which 200 KB come, the rest never."""
        await read_request(reader)
        writer.write(b"HTTP/1.1 500 Oops\r\nContent-Length: 10000000\r\n\r\n" + b"x" * 200_000)
        await reader.read()  # until the client closes the connection

    chunked = (
        b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n"
        b"Retry-After: 7\r\n\r\n5\r\nbusy \r\n3\r\nnow\r\n0\r\n\r\n"
    )
    server = await Server(endless).start()
    busy_server = await Server().answering(chunked).start()
    servers.extend([server, busy_server])
    dispatcher = make_dispatcher()
    subscription = uuid.uuid4()
    outcome = await dispatcher.send(claimed(server.url(), subscription))
    # 1 KiB read, of which the log keeps an excerpt (EXCERPT_CHARS characters at most).
    assert (outcome.status_code, outcome.response_body) == (500, "x" * 199 + "…")
    assert outcome.retry_after is None
    assert not outcome.succeeded
    # That connection is mid-body: not reused, the next request goes on a new one.
    again = await dispatcher.send(claimed(server.url(), subscription))
    assert (again.status_code, again.response_body) == (500, "x" * 199 + "…")
    assert server.connections == 2
    busy = await dispatcher.send(claimed(busy_server.url(), subscription))
    assert (busy.status_code, busy.response_body, busy.retry_after) == (503, "busy now", 7.0)


async def test_redirects_are_not_followed(
    servers: list[Server], make_dispatcher: Callable[..., Dispatcher]
) -> None:
    target = await Server().answering(OK).start()
    redirect = b"HTTP/1.1 307 Temporary Redirect\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n"
    server = await Server().answering(redirect % target.url().encode()).start()
    servers.extend([target, server])
    outcome = await make_dispatcher().send(claimed(server.url()))
    assert outcome.status_code == 307
    assert not outcome.succeeded
    assert len(server.requests) == 1
    assert target.connections == 0


async def test_proxies_from_the_environment_are_not_used(
    servers: list[Server],
    make_dispatcher: Callable[..., Dispatcher],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = (
        await Server().answering(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n").start()
    )
    server = await Server().answering(OK).start()
    servers.extend([proxy, server])
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.port}")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    outcome = await make_dispatcher().send(claimed(server.url()))
    assert outcome.status_code == 204
    assert proxy.connections == 0
    assert len(server.requests) == 1


async def test_timeouts_include_connecting_and_a_refused_connection_is_an_error(
    servers: list[Server], make_dispatcher: Callable[..., Dispatcher]
) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)  # reads nothing, answers nothing: not even a TLS handshake

    server = await Server(silent).start()
    servers.append(server)
    dispatcher = make_dispatcher(webhook_timeout_seconds=0.2)
    slow_answer = await dispatcher.send(claimed(server.url()))
    assert slow_answer.status_code is None
    assert slow_answer.error == "timed out after 0.2 s"
    handshake = await dispatcher.send(claimed(server.url("https")))
    assert handshake.status_code is None
    assert handshake.error == "timed out after 0.2 s"
    port = server.port
    await server.close()
    refused = await dispatcher.send(claimed(f"http://127.0.0.1:{port}/"))
    assert refused.status_code is None
    assert refused.error is not None
    assert refused.error.startswith("ClientConnectorError")


async def test_an_answer_that_is_not_http_is_an_error(
    servers: list[Server], make_dispatcher: Callable[..., Dispatcher]
) -> None:
    server = await Server().answering(b"SSH-2.0-OpenSSH\r\n\r\n").start()
    servers.append(server)
    outcome = await make_dispatcher().send(claimed(server.url()))
    assert outcome.status_code is None
    assert outcome.error


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


async def test_https_verifies_the_certificate(
    tmp_path: Path, servers: list[Server], make_dispatcher: Callable[..., Dispatcher]
) -> None:
    cert, key = _certificate(tmp_path)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    server = await Server().answering(OK, OK).start(server_tls)
    servers.append(server)
    trusting = make_dispatcher(tls=ssl.create_default_context(cafile=str(cert)))
    subscription = uuid.uuid4()
    for _ in range(2):
        outcome = await trusting.send(claimed(server.url("https"), subscription))
        assert outcome.status_code == 204
    assert server.connections == 1
    # The default dispatcher does not trust that certificate: no request is sent.
    refused = await make_dispatcher().send(claimed(server.url("https")))
    assert refused.status_code is None
    assert refused.error is not None
    assert "certificate" in refused.error.lower()
    assert len(server.requests) == 2


async def test_at_most_the_subscription_concurrency_in_flight_per_subscription(
    servers: list[Server], make_dispatcher: Callable[..., Dispatcher]
) -> None:
    in_flight = peak = 0
    release, three_in_flight = asyncio.Event(), asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal in_flight, peak
        while True:
            await read_request(reader)
            in_flight += 1
            peak = max(peak, in_flight)
            if in_flight == 3:
                three_in_flight.set()
            await release.wait()
            in_flight -= 1
            writer.write(OK)
            await writer.drain()

    server = await Server(handler).start()
    servers.append(server)
    dispatcher = make_dispatcher(webhook_subscription_concurrency=2)
    subscription = uuid.uuid4()
    sending = [
        asyncio.ensure_future(dispatcher.send(claimed(server.url(), subscription, n)))
        for n in range(6)
    ]
    other = asyncio.ensure_future(dispatcher.send(claimed(server.url())))  # its own slots
    await asyncio.wait_for(three_in_flight.wait(), 10)
    release.set()
    outcomes: list[Outcome] = await asyncio.gather(*sending, other)
    assert [o.status_code for o in outcomes] == [204] * 7
    assert peak == 3  # two of the subscription, one of the other
    assert server.connections == 3


async def test_under_uvloop_as_the_dispatcher_runs(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Keep-alive, a server-closed connection, the body limit and the timeout, on a uvloop loop
    of its own."""
    import uvloop

    async def scenario() -> tuple[list[int | None], int, str | None]:
        long = b"HTTP/1.1 500 Oops\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000
        server = await Server().answering(OK, OK, long).start()

        async def never(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await read_request(reader)
            await asyncio.sleep(30)

        slow = await Server(never).start()
        dispatcher = Dispatcher(
            sessionmaker, settings.model_copy(update={"webhook_timeout_seconds": 0.2})
        )
        try:
            subscription = uuid.uuid4()
            outcomes = [
                await dispatcher.send(claimed(server.url(), subscription)) for _ in range(3)
            ]
            assert outcomes[2].status_code == 500  # its 5000 bytes of body not all read
            # The server closed that connection after its last answer: a new one.
            await asyncio.sleep(0.05)
            outcomes.append(await dispatcher.send(claimed(server.url(), subscription)))
            timed_out = await dispatcher.send(claimed(slow.url()))
            return [o.status_code for o in outcomes], server.connections, timed_out.error
        finally:
            await dispatcher.aclose()
            await server.close()
            await slow.close()

    codes, connections, error = await asyncio.to_thread(uvloop.run, scenario())
    assert codes == [204, 204, 500, 204]
    assert connections == 2
    assert error == "timed out after 0.2 s"


@pytest.mark.usefixtures("loopback_counts_as_public")
@pytest.mark.parametrize(
    ("content_type", "body", "kept"),
    [
        (
            b"text/plain; charset=utf-8",
            "\x1b[31minvalid\x1b[0m signature\r\n\r\n\tfor   msg_1 \u202e签名无效".encode(),
            "[31minvalid [0m signature for msg_1 签名无效",
        ),
        (b"application/problem+json", b'{"title": "Unauthorized"}', '{"title": "Unauthorized"}'),
        (b"application/octet-stream", b"\x89PNG\r\n\x1a\n\x00\x00", None),
        (b"image/png", b"looks like text", None),
        (b"", b"\xff\xfe\x00b\x00i\x00n", None),  # no type, not UTF-8
    ],
)
async def test_the_log_keeps_a_short_clean_excerpt_of_text_answers_only(
    servers: list[Server],
    make_dispatcher: Callable[..., Dispatcher],
    content_type: bytes,
    body: bytes,
    kept: str | None,
) -> None:
    head = b"HTTP/1.1 400 Bad Request\r\n"
    if content_type:
        head += b"Content-Type: " + content_type + b"\r\n"
    head += b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    server = await Server().answering(head + body).start()
    servers.append(server)
    outcome = await make_dispatcher().send(claimed(server.url()))
    assert outcome.status_code == 400
    assert outcome.response_body == kept
