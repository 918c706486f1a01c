"""Right after start, each service fetches the registry's signing keys and its own machine
token (`shared.app._warm_up`), so the first burst of requests does not wait for them."""

from __future__ import annotations

import asyncio

from shared.auth.tokens import JwksVerifier
from tests.conftest import Services


async def test_the_services_fetch_the_keys_before_any_request(services: Services) -> None:
    for name in ("competitions", "judging"):
        verifier = services.apps[name].state.token_verifier
        assert isinstance(verifier, JwksVerifier)
        for _ in range(100):  # the first try is 0.2 s after start
            if verifier._keys:
                break
            await asyncio.sleep(0.05)
        assert verifier._keys, f"{name} did not fetch the registry's keys on its own"
        # no request was needed: the keys are the registry's current ones
        jwks = (await services.registry.get("/.well-known/jwks.json")).json()
        assert set(verifier._keys) == {k["kid"] for k in jwks["keys"]}
