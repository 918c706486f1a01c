"""The SSRF guard when sending: every resolved address checked, the connection pinned to the
checked address (Host header, SNI and certificate still for the URL's name), literals checked
before each request, and the guard through the whole flow (subscription, dispatcher, log).

Names are resolved by a scripted resolver handed to the dispatcher (under the guard, as
aiohttp's default one is in production): the tests control what a name resolves to, and see
how often it is asked."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.config import Settings
from shared.webhooks.dispatcher import Dispatcher
from shared.webhooks.ssrf import forbidden_reason
from tests.conftest import Services
from tests.webhooks.conftest import emit, new_prefix, run_until
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_sending import OK, Server, claimed

NAME = "hooks.example"


class ScriptedResolver(AbstractResolver):
    """Resolves every name to the addresses given (as a rebinding DNS server would answer)."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = list(addresses)
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        return [
            {
                "hostname": host,
                "host": a,
                "port": port,
                "family": socket.AF_INET6 if ":" in a else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for a in self.addresses
        ]

    async def close(self) -> None:
        pass


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
    made: list[Dispatcher] = []

    def make(
        resolver: AbstractResolver | None = None,
        tls: ssl.SSLContext | None = None,
        **update: object,
    ) -> Dispatcher:
        dispatcher = Dispatcher(
            sessionmaker, settings.model_copy(update=update), tls=tls, resolver=resolver
        )
        made.append(dispatcher)
        return dispatcher

    yield make
    for dispatcher in made:
        await dispatcher.aclose()


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("100.100.100.200", "shared"),  # Alibaba Cloud's metadata service
        ("100.64.0.1", "shared"),
        ("169.254.169.254", "link-local"),
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.0.0.8", "IETF"),
        ("198.18.0.1", "benchmarking"),
        ("224.0.0.1", "multicast"),
        ("255.255.255.255", "reserved"),
        ("2002:7f00:1::1", "6to4 (2002::/16) address embedding 127.0.0.1 (a loopback"),
        ("2002:a00:1::1", "embedding 10.0.0.1 (a private"),
        ("2002:808:808::1", "6to4"),  # even with a public address inside: use that instead
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
        ("64:ff9b::7f00:1", "NAT64 (64:ff9b::/96) address embedding 127.0.0.1"),
        ("64:ff9b::a9fe:a9fe", "embedding 169.254.169.254 (a link-local"),
        ("64:ff9b:1::1", "local-use NAT64"),
        ("::ffff:127.0.0.1", "IPv4-mapped address embedding 127.0.0.1"),
        ("::ffff:100.100.100.200", "IPv4-mapped address embedding 100.100.100.200"),
        ("::127.0.0.1", "IPv4-compatible"),
        ("::ffff:0:127.0.0.1", "IPv4-translated"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fd00::1", "unique local"),
        ("fe80::1", "link-local"),
        ("fec0::1", "site-local"),
        ("ff02::1", "multicast"),
        ("2001:db8::1", "documentation"),
        ("4000::1", "outside global unicast"),
    ],
)
def test_only_public_addresses_pass(address: str, reason: str) -> None:
    found = forbidden_reason(ipaddress.ip_address(address))
    assert found is not None, address
    assert reason in found, (address, found)


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "::ffff:8.8.8.8", "2606:4700:4700::1111", "2400:3200::1"]
)
def test_public_addresses_pass(address: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) is None


async def test_a_name_is_sent_to_the_address_checked_with_its_own_host_header(
    servers: list[Server], make_dispatcher: Callable[..., Dispatcher]
) -> None:
    server = await Server().answering(OK, OK).start()
    servers.append(server)
    resolver = ScriptedResolver("127.0.0.1")
    dispatcher = make_dispatcher(resolver, webhook_allowed_hosts=["127.0.0.1"])
    subscription = uuid.uuid4()
    for _ in range(2):
        outcome = await dispatcher.send(claimed(f"http://{NAME}:{server.port}/h", subscription))
        assert outcome.status_code == 204, outcome.error
    # Resolved once, by the guard; the connection (kept alive) went to the address it checked.
    assert resolver.asked == [NAME]
    assert server.connections == 1
    assert [r[1]["host"] for r in server.requests] == [f"{NAME}:{server.port}"] * 2


@pytest.mark.parametrize(
    ("addresses", "named"),
    [
        (["127.0.0.1"], "127.0.0.1, which is a loopback address"),
        (["100.100.100.200"], "shared"),
        # One bad address among good ones refuses the host: the client could pick any.
        (["127.0.0.1", "100.100.100.200"], "100.100.100.200"),
        (["::ffff:127.0.0.1"], "IPv4-mapped"),
    ],
)
async def test_a_name_resolving_to_a_refused_address_is_never_connected(
    servers: list[Server],
    make_dispatcher: Callable[..., Dispatcher],
    addresses: list[str],
    named: str,
) -> None:
    """Whatever the name resolved to when the subscription was checked: what it resolves to
    now is what is checked, and only that is connected to."""
    server = await Server().answering(OK).start()
    servers.append(server)
    # 127.0.0.1 alone is allowed here only when the test's list says so: not in these cases
    # except as part of a mixed answer.
    allowed = ["127.0.0.1"] if len(addresses) > 1 else []
    dispatcher = make_dispatcher(ScriptedResolver(*addresses), webhook_allowed_hosts=allowed)
    outcome = await dispatcher.send(claimed(f"http://{NAME}:{server.port}/h"))
    assert outcome.status_code is None
    assert outcome.error is not None
    assert outcome.error.startswith("refused by the SSRF guard"), outcome.error
    assert named in outcome.error
    assert server.connections == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://100.100.100.200/latest/meta-data/",
        "http://100.64.0.1/",
        "http://8.8.8.8:0/",
        "http://[2002:7f00:1::1]/",
        "http://[64:ff9b::7f00:1]/",
        "http://[::ffff:127.0.0.1]:{port}/",
        "http://2130706433:{port}/",
        "http://127.1:{port}/",
        "http://user:pass@127.0.0.1:{port}/",
        "ftp://127.0.0.1:{port}/",
    ],
)
async def test_literals_and_bad_shapes_are_refused_before_any_request(
    servers: list[Server], make_dispatcher: Callable[..., Dispatcher], url: str
) -> None:
    server = await Server().answering(OK).start()
    servers.append(server)
    resolver = ScriptedResolver("127.0.0.1")
    # Even with loopback allowed, none of these forms is sent (and 127.0.0.1 itself is).
    dispatcher = make_dispatcher(resolver, webhook_allowed_hosts=["127.0.0.1"])
    outcome = await dispatcher.send(claimed(url.format(port=server.port)))
    assert outcome.status_code is None
    assert outcome.error is not None
    assert outcome.error.startswith("refused by the SSRF guard")
    assert server.connections == 0
    assert resolver.asked == []
    allowed = await dispatcher.send(claimed(f"http://127.0.0.1:{server.port}/"))
    assert allowed.status_code == 204


def _certificate_for(tmp: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / f"{name}.pem", tmp / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.mark.parametrize(("certified", "works"), [(NAME, True), ("other.example", False)])
async def test_https_to_the_pinned_address_verifies_the_certificate_for_the_name(
    tmp_path: Path,
    servers: list[Server],
    make_dispatcher: Callable[..., Dispatcher],
    certified: str,
    works: bool,
) -> None:
    """Connected to the checked address, TLS still asks for (SNI) and verifies the URL's
    name: a certificate for another name is refused."""
    cert, key = _certificate_for(tmp_path, certified)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    sni: list[str | None] = []

    def asked_for(_sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        sni.append(name)

    server_tls.sni_callback = asked_for
    server = await Server().answering(OK).start(server_tls)
    servers.append(server)
    dispatcher = make_dispatcher(
        ScriptedResolver("127.0.0.1"),
        tls=ssl.create_default_context(cafile=str(cert)),
        webhook_allowed_hosts=["127.0.0.1"],
    )
    outcome = await dispatcher.send(claimed(f"https://{NAME}:{server.port}/h"))
    assert sni == [NAME]
    if works:
        assert outcome.status_code == 204, outcome.error
    else:
        assert outcome.status_code is None
        assert outcome.error is not None
        assert "certificate" in outcome.error.lower()
        assert server.requests == []


async def test_a_subscription_whose_name_now_resolves_privately_gets_nothing(
    services: Services,
    admin_headers: dict[str, str],
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    receiver: Receiver,
) -> None:
    """Through the whole flow: the subscription passed the check (its name resolved to an
    allowed address then); now the dispatcher's guard refuses it, the refusal is in the
    delivery log, and the receiver never hears from us."""
    receiver.start()
    app = services.apps["registry"]
    app.state.settings = settings.model_copy(update={"webhook_allowed_hosts": ["localhost"]})
    try:
        created = await services.registry.post(
            "/v1/webhook-subscriptions",
            json={"url": f"http://localhost:{receiver.port}/hooks", "event_types": ["*"]},
            headers=admin_headers,
        )
    finally:
        app.state.settings = settings
    assert created.status_code == 201, created.text
    receiver.secrets.append(created.json()["secret"])
    strict = Dispatcher(
        sessionmaker,
        settings.model_copy(update={"webhook_allowed_hosts": [], "webhook_retry_schedule": []}),
    )
    try:
        await emit(sessionmaker, [(new_prefix() + ".x", "entry:1", {"n": 1})])
        base = f"/v1/webhook-subscriptions/{created.json()['id']}/deliveries"

        async def failed() -> bool:
            listed = await services.registry.get(base, headers=admin_headers)
            return [d["status"] for d in listed.json()["items"]] == ["failed"]

        await run_until(strict, failed)
    finally:
        await strict.aclose()
    [delivery] = (await services.registry.get(base, headers=admin_headers)).json()["items"]
    assert delivery["last_error"].startswith("refused by the SSRF guard")
    assert "loopback" in delivery["last_error"]
    assert receiver.messages == []
    assert receiver.rejected == 0


async def test_answers_of_receivers_admitted_by_the_exception_are_not_kept(
    servers: list[Server],
    make_dispatcher: Callable[..., Dispatcher],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A name resolving to an address only WEBHOOK_ALLOWED_HOSTS admits (an intranet host):
    its answers are not kept in the log, which outside systems read. (The literal 127.0.0.1 is
    made to count as public here, to show the difference is the name's resolution.)"""
    from shared.webhooks import dispatcher as dispatcher_module

    monkeypatch.setattr(dispatcher_module, "forbidden_reason", lambda address: None)
    answer = (
        b"HTTP/1.1 500 Oops\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nintranet page"
    )
    server = await Server().answering(answer, answer).start()
    servers.append(server)
    dispatcher = make_dispatcher(ScriptedResolver("127.0.0.1"), webhook_allowed_hosts=["127.0.0.1"])
    subscription = uuid.uuid4()
    by_name = await dispatcher.send(claimed(f"http://{NAME}:{server.port}/h", subscription))
    assert (by_name.status_code, by_name.response_body) == (500, None)
    by_address = await dispatcher.send(claimed(f"http://127.0.0.1:{server.port}/h", subscription))
    assert (by_address.status_code, by_address.response_body) == (500, "intranet page")
