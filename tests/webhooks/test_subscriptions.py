"""Webhook subscriptions through HTTP: CRUD, ownership, roles, the SSRF guard, rotation."""

from __future__ import annotations

import pytest

from tests.conftest import Services, assert_problem, bearer, create_account, get_token

URL = "http://127.0.0.1:9/hooks"


async def client_headers(services: Services, admin: dict[str, str], scopes: list[str]) -> dict:
    created = await services.registry.post(
        "/v1/machine-clients", json={"name": "人社厅 系统", "scopes": scopes}, headers=admin
    )
    assert created.status_code == 201, created.text
    body = created.json()
    token = await services.registry.post(
        "/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": body["client_id"],
            "client_secret": body["client_secret"],
        },
    )
    assert token.status_code == 200, token.text
    return bearer(token.json()["access_token"])


async def test_crud_and_the_secret_is_shown_once(
    services: Services, admin_headers: dict[str, str]
) -> None:
    created = await services.registry.post(
        "/v1/webhook-subscriptions",
        json={
            "url": URL,
            "event_types": ["entry.approved", "results.*"],
            "description": "济南 人社",
            "locality_code": "370100",
        },
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert body["event_types"] == ["entry.approved", "results.*"]
    assert created.headers["location"] == f"/v1/webhook-subscriptions/{body['id']}"
    path = f"/v1/webhook-subscriptions/{body['id']}"

    got = await services.registry.get(path, headers=admin_headers)
    assert got.status_code == 200
    assert "secret" not in got.json()
    listed = await services.registry.get("/v1/webhook-subscriptions", headers=admin_headers)
    assert [s["id"] for s in listed.json()["items"]] == [body["id"]]

    patched = await services.registry.patch(
        path,
        json={"is_active": False, "event_types": ["*"], "locality_code": None},
        headers=admin_headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["is_active"] is False
    assert patched.json()["event_types"] == ["*"]
    assert patched.json()["locality_code"] is None

    assert (await services.registry.delete(path, headers=admin_headers)).status_code == 204
    assert_problem(await services.registry.get(path, headers=admin_headers), 404)


@pytest.mark.parametrize("types", [[], ["Entry.Approved"], ["results.**"], ["a b"]])
async def test_bad_event_types_are_422(
    services: Services, admin_headers: dict[str, str], types: list[str]
) -> None:
    response = await services.registry.post(
        "/v1/webhook-subscriptions", json={"url": URL, "event_types": types}, headers=admin_headers
    )
    assert_problem(response, 422)


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.5/hooks",
        "http://192.168.1.20/hooks",
        "http://172.16.0.1/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hooks",
        "http://[fe80::1]/hooks",
        "http://224.0.0.1/hooks",
        "http://0.0.0.0/hooks",
        "ftp://example.org/hooks",
        "file:///etc/passwd",
        "http://user:pass@127.0.0.1/hooks",
        "http://no-such-host.invalid/hooks",
        # Issue 13: accepted before the allow-list.
        "http://100.100.100.200/latest/meta-data/",
        "http://100.64.0.1/",
        "http://8.8.8.8:0/",
        "http://[2002:7f00:1::1]/",
        # Variants of the same classes.
        "https://8.8.8.8:0/hooks",
        "http://100.127.255.254/",
        "http://[2002:a9fe:a9fe::1]/",
        "http://[2002:808:808::1]/",
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
        "http://[64:ff9b::7f00:1]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[64:ff9b:1::a9fe:a9fe]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:100.100.100.200]/",
        "http://[::127.0.0.1]/",
        "http://[::ffff:0:127.0.0.1]/",
        "http://[fd00::1]/",
        "http://[fec0::1]/",
        "http://[ff02::1]/",
        "http://[fe80::1%25eth0]/",
        "http://192.0.0.8/",
        "http://198.18.0.1/",
        "http://255.255.255.255/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://127.1/",
        "http://017700000001/",
        "https://@8.8.8.8/",
        "http://8.8.8.8 /hooks",
        "http://8.8.8.8/\r\nX-Injected: 1",
        "http://example.org\\@127.0.0.1/",
        "gopher://8.8.8.8/",
        "//8.8.8.8/hooks",
    ],
)
async def test_ssrf_guard_refuses_private_addresses_and_other_schemes(
    services: Services, admin_headers: dict[str, str], url: str
) -> None:
    # (These tests allow 127.0.0.1 itself, for the receiver: no other form of it passes.)
    response = await services.registry.post(
        "/v1/webhook-subscriptions", json={"url": url, "event_types": ["*"]}, headers=admin_headers
    )
    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == "url"
    listed = await services.registry.get("/v1/webhook-subscriptions", headers=admin_headers)
    assert listed.json()["items"] == []  # nothing written


@pytest.mark.parametrize(
    "url",
    ["https://8.8.8.8/hooks", "http://1.1.1.1:8080/x?y=1", "https://[2606:4700:4700::1111]/h"],
)
async def test_public_addresses_are_accepted_and_urls_changed_by_patch_are_checked(
    services: Services, admin_headers: dict[str, str], url: str
) -> None:
    created = await services.registry.post(
        "/v1/webhook-subscriptions", json={"url": url, "event_types": ["*"]}, headers=admin_headers
    )
    assert created.status_code == 201, created.text
    path = f"/v1/webhook-subscriptions/{created.json()['id']}"
    for bad in ("http://100.100.100.200/latest/meta-data/", "http://[2002:7f00:1::1]/"):
        body = assert_problem(
            await services.registry.patch(path, json={"url": bad}, headers=admin_headers), 422
        )
        assert body["errors"][0]["field"] == "url"
    assert (await services.registry.get(path, headers=admin_headers)).json()["url"] == url


async def test_loopback_is_refused_unless_allowed(
    services: Services, admin_headers: dict[str, str]
) -> None:
    app = services.apps["registry"]
    allowed = app.state.settings
    app.state.settings = allowed.model_copy(update={"webhook_allowed_hosts": []})
    try:
        refused = await services.registry.post(
            "/v1/webhook-subscriptions",
            json={"url": URL, "event_types": ["*"]},
            headers=admin_headers,
        )
        assert "loopback" in assert_problem(refused, 422)["detail"]
        by_name = await services.registry.post(
            "/v1/webhook-subscriptions",
            json={"url": "http://localhost:9/hooks", "event_types": ["*"]},
            headers=admin_headers,
        )
        assert "loopback" in assert_problem(by_name, 422)["detail"]
        app.state.settings = allowed.model_copy(update={"webhook_allowed_hosts": ["127.0.0.0/8"]})
        ok = await services.registry.post(
            "/v1/webhook-subscriptions",
            json={"url": URL, "event_types": ["*"]},
            headers=admin_headers,
        )
        assert ok.status_code == 201, ok.text
    finally:
        app.state.settings = allowed
    # PATCH checks the new URL too.
    patched = await services.registry.patch(
        f"/v1/webhook-subscriptions/{ok.json()['id']}",
        json={"url": "http://10.1.2.3/x"},
        headers=admin_headers,
    )
    assert_problem(patched, 422)


async def test_integration_clients_manage_only_their_own(
    services: Services, admin_headers: dict[str, str]
) -> None:
    admin_sub = await services.registry.post(
        "/v1/webhook-subscriptions", json={"url": URL, "event_types": ["*"]}, headers=admin_headers
    )
    # worker.* needs registry:read too (tests/webhooks/test_audience.py).
    client = await client_headers(services, admin_headers, ["webhooks:manage", "registry:read"])
    own = await services.registry.post(
        "/v1/webhook-subscriptions", json={"url": URL, "event_types": ["worker.*"]}, headers=client
    )
    assert own.status_code == 201, own.text
    listed = await services.registry.get("/v1/webhook-subscriptions", headers=client)
    assert [s["id"] for s in listed.json()["items"]] == [own.json()["id"]]
    other = f"/v1/webhook-subscriptions/{admin_sub.json()['id']}"
    assert_problem(await services.registry.get(other, headers=client), 404)
    assert_problem(await services.registry.delete(other, headers=client), 404)
    assert_problem(await services.registry.post(other + "/ping", headers=client), 404)
    # Admins see every subscription.
    everything = await services.registry.get("/v1/webhook-subscriptions", headers=admin_headers)
    assert len(everything.json()["items"]) == 2


async def test_roles_without_the_right_are_refused(
    services: Services, admin_headers: dict[str, str]
) -> None:
    no_scope = await client_headers(services, admin_headers, ["registry:read"])
    await create_account(services, "org", "organiser", locality_code="370100")
    organiser = bearer(await get_token(services, "org"))
    for headers in (no_scope, organiser):
        assert_problem(
            await services.registry.get("/v1/webhook-subscriptions", headers=headers), 403
        )
        assert_problem(
            await services.registry.post(
                "/v1/webhook-subscriptions",
                json={"url": URL, "event_types": ["*"]},
                headers=headers,
            ),
            403,
        )


async def test_rotation_keeps_the_old_secret_for_the_overlap(
    services: Services, admin_headers: dict[str, str]
) -> None:
    created = await services.registry.post(
        "/v1/webhook-subscriptions", json={"url": URL, "event_types": ["*"]}, headers=admin_headers
    )
    path = f"/v1/webhook-subscriptions/{created.json()['id']}"
    rotated = await services.registry.post(
        path + "/rotate-secret", json={"overlap_seconds": 3600}, headers=admin_headers
    )
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secret"] != created.json()["secret"]
    assert rotated.json()["previous_secret_expires_at"] is not None
    again = await services.registry.post(
        path + "/rotate-secret", json={"overlap_seconds": 0}, headers=admin_headers
    )
    assert again.json()["previous_secret_expires_at"] is None


async def test_webhook_ping_is_documented(services: Services) -> None:
    spec = (await services.registry.get("/openapi.json")).json()
    assert "webhook.ping" in spec["webhooks"]
    assert "/v1/webhook-subscriptions/{subscription_id}/ping" in spec["paths"]


async def test_the_documented_example_url_says_to_use_your_own_receiver(
    services: Services, admin_headers: dict[str, str]
) -> None:
    """ "Try it out" with the example as is: a 422 at `url` saying what to do, and the operation
    and the field tell it before one tries."""
    document = (await services.registry.get("/openapi.json")).json()
    operation = document["paths"]["/v1/webhook-subscriptions"]["post"]
    assert "your own receiver" in operation["description"]
    schema = document["components"]["schemas"]["SubscriptionCreate"]
    assert "your own receiver" in schema["properties"]["url"]["description"]
    example = schema["examples"][0]
    assert "your-receiver.example" in example["url"]
    response = await services.registry.post(
        "/v1/webhook-subscriptions", json=example, headers=admin_headers
    )
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["field"] == "url"
    assert "give the URL of your own receiver" in problem["errors"][0]["message"]
