"""Issuing (registry only) and verifying (every service) RS256 access tokens."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Protocol

import httpx
import jwt

from shared.auth.keys import SigningKey
from shared.auth.principal import Principal, PrincipalKind, Role
from shared.config import Settings
from shared.errors import DownstreamError, Unauthorized

ALGORITHM = "RS256"


def issue_access_token(
    settings: Settings, key: SigningKey, principal: Principal, *, ttl: int | None = None
) -> tuple[str, int]:
    ttl = ttl or settings.access_token_ttl_seconds
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": principal.sub,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
        "kind": principal.kind.value,
        "role": principal.role.value,
        "name": principal.name,
        "scope": " ".join(sorted(principal.scopes)),
    }
    if principal.locality_code:
        claims["locality_code"] = principal.locality_code
    if principal.enterprise_id:
        claims["enterprise_id"] = str(principal.enterprise_id)
    if principal.worker_id:
        claims["worker_id"] = str(principal.worker_id)
    token = jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})
    return token, ttl


def principal_from_claims(claims: dict[str, Any], token: str) -> Principal:
    try:
        return Principal(
            sub=str(claims["sub"]),
            kind=PrincipalKind(claims.get("kind", "account")),
            role=Role(claims["role"]),
            name=str(claims.get("name", "")),
            scopes=frozenset(str(claims.get("scope", "")).split()),
            locality_code=claims.get("locality_code"),
            enterprise_id=uuid.UUID(claims["enterprise_id"])
            if claims.get("enterprise_id")
            else None,
            worker_id=uuid.UUID(claims["worker_id"]) if claims.get("worker_id") else None,
            token=token,
            issued_at=int(claims["iat"]),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise Unauthorized("The token's claims are incomplete or malformed.") from exc


def _decode(token: str, key: Any, settings: Settings) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            leeway=30,
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("The token has expired; request a new one.") from exc
    except jwt.InvalidSignatureError as exc:
        raise Unauthorized("The token's signature is not valid.") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"The token is not valid: {exc}.") from exc
    return claims


def _kid(token: str) -> str:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("The bearer token is not a JWT.") from exc
    if header.get("alg") != ALGORITHM:
        raise Unauthorized(f"Tokens must be signed with {ALGORITHM}.")
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise Unauthorized("The token has no key id (kid).")
    return kid


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> Principal: ...


class VerifiedTokens:
    """Principals of tokens whose signature and claims were checked, for `ttl` seconds (never
    past the token's expiry): a client sends the same token with every request, and an RS256
    check plus claim parsing is most of what a small read costs. Bounded; cleared when full."""

    def __init__(self, ttl: float = 30.0, size: int = 10_000) -> None:
        self.ttl, self.size = ttl, size
        self._seen: dict[str, tuple[float, Principal]] = {}

    def get(self, token: str) -> Principal | None:
        hit = self._seen.get(token)
        if hit is None:
            return None
        if time.time() >= hit[0]:
            del self._seen[token]
            return None
        return hit[1]

    def put(self, token: str, claims: dict[str, Any], principal: Principal) -> Principal:
        if len(self._seen) >= self.size:
            self._seen.clear()
        until = min(time.time() + self.ttl, float(claims["exp"]))
        self._seen[token] = (until, principal)
        return principal


class LocalKeyVerifier:
    """The registry verifies with the keys it holds."""

    def __init__(self, settings: Settings, keys: list[SigningKey]) -> None:
        self.settings = settings
        self.keys = {k.kid: k.private_key.public_key() for k in keys}
        self.verified = VerifiedTokens()

    async def verify(self, token: str) -> Principal:
        known = self.verified.get(token)
        if known is not None:
            return known
        key = self.keys.get(_kid(token))
        if key is None:
            raise Unauthorized("The token was signed with a key this system does not know.")
        claims = _decode(token, key, self.settings)
        return self.verified.put(token, claims, principal_from_claims(claims, token))


class JwksVerifier:
    """The other services verify with the registry's published JWKS, cached.

    An unknown `kid` triggers a refresh (the registry may have rotated its key), at most once
    every `min_refresh_interval` seconds so forged tokens cannot make us hammer the registry.
    """

    def __init__(
        self,
        settings: Settings,
        http: httpx.AsyncClient,
        *,
        min_refresh_interval: float = 10.0,
    ) -> None:
        self.settings = settings
        self.http = http
        self.url = settings.registry_url.rstrip("/") + "/.well-known/jwks.json"
        self.min_refresh_interval = min_refresh_interval
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        self.verified = VerifiedTokens()

    async def _refresh(self) -> None:
        try:
            response = await self.http.get(self.url)
            response.raise_for_status()
            jwk_set = jwt.PyJWKSet.from_dict(response.json())
        except httpx.TimeoutException as exc:
            raise DownstreamError(
                "Timed out fetching the registry's signing keys to verify the token.",
                status=504,
                service="registry",
            ) from exc
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
            raise DownstreamError(
                "Could not fetch the registry's signing keys to verify the token.",
                status=503,
                service="registry",
            ) from exc
        self._keys = {k.key_id: k.key for k in jwk_set.keys if k.key_id}
        self._fetched_at = time.monotonic()

    async def _key(self, kid: str) -> Any:
        age = time.monotonic() - self._fetched_at
        fresh = age < self.settings.jwks_cache_seconds
        if kid in self._keys and fresh:
            return self._keys[kid]
        async with self._lock:
            # Again under the lock: requests that queued behind a refresh must use its keys,
            # not each fetch them once more (a burst at start-up did, one after the other).
            age = time.monotonic() - self._fetched_at
            fresh = age < self.settings.jwks_cache_seconds
            if (kid not in self._keys and age >= self.min_refresh_interval) or not fresh:
                try:
                    await self._refresh()
                except DownstreamError:
                    if kid not in self._keys:
                        raise
                    # Registry briefly down: keep using the cached key we already trust.
        return self._keys.get(kid)

    async def warm(self) -> None:
        """Fetch the keys now if none are cached (at start-up)."""
        if not self._keys:
            async with self._lock:
                if not self._keys:
                    await self._refresh()

    async def verify(self, token: str) -> Principal:
        known = self.verified.get(token)
        if known is not None:
            return known
        key = await self._key(_kid(token))
        if key is None:
            raise Unauthorized("The token was signed with a key this system does not know.")
        claims = _decode(token, key, self.settings)
        return self.verified.put(token, claims, principal_from_claims(claims, token))
