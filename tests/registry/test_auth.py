"""Tokens: password and client-credentials grants, lockout, roles, keys, verification."""

from __future__ import annotations

import base64
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.auth.keys import load_or_create_keys
from tests.conftest import (
    ADMIN_PASSWORD,
    Services,
    assert_problem,
    bearer,
    create_account,
    get_token,
)


async def test_password_grant_token_is_accepted_by_all_three_services(services: Services) -> None:
    await create_account(services, "jinan.org", "organiser", locality_code="370100")
    token = await get_token(services, "jinan.org")
    for name in ("registry", "competitions", "judging"):
        response = await services.client(name).get("/v1/me", headers=bearer(token))
        assert response.status_code == 200, (name, response.text)
        me = response.json()
        assert me["role"] == "organiser"
        assert me["locality_code"] == "370100"


async def test_token_response_shape_and_claims(services: Services) -> None:
    await create_account(services, "admin", "admin")
    response = await services.registry.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": "ADMIN", "password": ADMIN_PASSWORD},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "RS256"
    jwks = (await services.registry.get("/.well-known/jwks.json")).json()
    assert header["kid"] in {k["kid"] for k in jwks["keys"]}
    assert all("d" not in k for k in jwks["keys"]), "private key material must never be published"


async def test_wrong_password_is_invalid_grant_and_locks_after_five(services: Services) -> None:
    await create_account(services, "judge.li", "judge")
    for _ in range(5):
        response = await services.registry.post(
            "/v1/auth/token",
            data={"grant_type": "password", "username": "judge.li", "password": "wrong-Passw0rd"},
        )
        body = assert_problem(response, 400)
        assert body["error"] == "invalid_grant"
    # Even the right password is refused while locked.
    response = await services.registry.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": "judge.li", "password": ADMIN_PASSWORD},
    )
    assert "locked" in str(assert_problem(response, 400)["detail"])


async def test_unknown_user_and_missing_fields(services: Services) -> None:
    response = await services.registry.post(
        "/v1/auth/token", data={"grant_type": "password", "username": "nobody", "password": "x"}
    )
    assert assert_problem(response, 400)["detail"] == "Wrong username or password."
    response = await services.registry.post("/v1/auth/token", data={"grant_type": "password"})
    body = assert_problem(response, 422)
    assert {e["field"] for e in body["errors"]} == {"username", "password"}
    response = await services.registry.post("/v1/auth/token", data={"grant_type": "implicit"})
    assert assert_problem(response, 400)["error"] == "unsupported_grant_type"


async def test_client_credentials_form_and_basic_and_revocation(
    services: Services, admin_headers: dict[str, str]
) -> None:
    created = await services.registry.post(
        "/v1/machine-clients",
        json={"name": "山东省人社厅 鉴定系统", "scopes": ["registry:read", "results:read"]},
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    client = created.json()
    form = await services.registry.post(
        "/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
            "scope": "registry:read",
        },
    )
    assert form.status_code == 200, form.text
    assert form.json()["scope"] == "registry:read"
    me = (await services.judging.get("/v1/me", headers=bearer(form.json()["access_token"]))).json()
    assert me["role"] == "integration"
    assert me["kind"] == "client"
    assert me["scopes"] == ["registry:read"]

    basic = base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()
    response = await services.registry.post(
        "/v1/auth/token",
        data={"grant_type": "client_credentials"},
        headers={"authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200
    assert response.json()["scope"] == "registry:read results:read"

    too_much = await services.registry.post(
        "/v1/auth/token",
        data={"grant_type": "client_credentials", "scope": "webhooks:manage"},
        headers={"authorization": f"Basic {basic}"},
    )
    assert assert_problem(too_much, 400)["error"] == "invalid_scope"

    listed = (await services.registry.get("/v1/machine-clients", headers=admin_headers)).json()
    assert "client_secret" not in listed["items"][0]
    revoked = await services.registry.delete(
        f"/v1/machine-clients/{client['id']}", headers=admin_headers
    )
    assert revoked.json()["revoked_at"]
    after = await services.registry.post(
        "/v1/auth/token",
        data={"grant_type": "client_credentials"},
        headers={"authorization": f"Basic {basic}"},
    )
    assert assert_problem(after, 401)["error"] == "invalid_client"


async def test_roles_are_enforced(services: Services) -> None:
    await create_account(services, "worker.zhang", "worker")
    token = await get_token(services, "worker.zhang")
    response = await services.registry.get("/v1/accounts", headers=bearer(token))
    assert "worker" in str(assert_problem(response, 403)["detail"])
    response = await services.competitions.post(
        "/v1/competitions",
        json={
            "name": "x赛",
            "kind": "skill_competition",
            "level": "city",
            "year": 2026,
            "organiser_locality_code": "370100",
        },
        headers=bearer(token),
    )
    assert_problem(response, 403)


async def test_expired_and_forged_tokens_are_refused_everywhere(services: Services) -> None:
    settings = services.apps["registry"].state.settings
    current, _ = load_or_create_keys(settings.key_dir)
    now = int(time.time())
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": "x",
        "role": "admin",
        "name": "x",
        "iat": now - 7200,
        "exp": now - 3600,
    }
    expired = jwt.encode(
        claims, current.private_key, algorithm="RS256", headers={"kid": current.kid}
    )
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(
        {**claims, "iat": now, "exp": now + 600},
        forger,
        algorithm="RS256",
        headers={"kid": current.kid},
    )
    unknown_kid = jwt.encode(
        {**claims, "iat": now, "exp": now + 600},
        forger,
        algorithm="RS256",
        headers={"kid": "someone-elses-key"},
    )
    hs256 = jwt.encode(
        {**claims, "iat": now, "exp": now + 600},
        "a-shared-secret-that-is-long-enough-32b",
        algorithm="HS256",
        headers={"kid": current.kid},
    )
    for name in ("registry", "competitions", "judging"):
        client = services.client(name)
        assert "expired" in str(
            assert_problem(await client.get("/v1/me", headers=bearer(expired)), 401)["detail"]
        )
        assert "signature" in str(
            assert_problem(await client.get("/v1/me", headers=bearer(forged)), 401)["detail"]
        )
        assert_problem(await client.get("/v1/me", headers=bearer(unknown_kid)), 401)
        assert "RS256" in str(
            assert_problem(await client.get("/v1/me", headers=bearer(hs256)), 401)["detail"]
        )
        assert_problem(await client.get("/v1/me"), 401)
        assert_problem(await client.get("/v1/me", headers={"authorization": "Basic abc"}), 401)


async def test_disabled_account_cannot_sign_in(
    services: Services, admin_headers: dict[str, str]
) -> None:
    account_id = await create_account(services, "judge.sun", "judge")
    response = await services.registry.patch(
        f"/v1/accounts/{account_id}", json={"is_active": False}, headers=admin_headers
    )
    assert response.json()["is_active"] is False
    response = await services.registry.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": "judge.sun", "password": ADMIN_PASSWORD},
    )
    assert "disabled" in str(assert_problem(response, 400)["detail"])
