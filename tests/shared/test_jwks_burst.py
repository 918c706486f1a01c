"""The other services' JWKS cache: a burst of first requests fetches the keys once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from shared.auth.keys import jwks, load_or_create_keys
from shared.auth.principal import Principal, PrincipalKind, Role
from shared.auth.tokens import JwksVerifier, issue_access_token
from shared.config import Settings


async def test_a_burst_of_first_tokens_fetches_the_keys_once(tmp_path: Path) -> None:
    settings = Settings(registry_url="http://registry.test")
    key, keys = load_or_create_keys(tmp_path)
    fetches = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal fetches
        fetches += 1
        await asyncio.sleep(0.01)  # the registry takes a moment: the others queue meanwhile
        return httpx.Response(200, json=jwks(keys))

    tokens = [
        issue_access_token(
            settings,
            key,
            Principal(sub=f"judge-{i}", kind=PrincipalKind.account, role=Role.judge, name="j"),
            ttl=600,
        )[0]
        for i in range(20)
    ]
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        verifier = JwksVerifier(settings, http)
        principals = await asyncio.gather(*(verifier.verify(t) for t in tokens))
    assert [p.sub for p in principals] == [f"judge-{i}" for i in range(20)]
    assert fetches == 1
