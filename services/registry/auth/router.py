"""Token issuing and the public key set."""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Header, Request

from services.registry.auth import schemas, service
from shared.auth.tokens import issue_access_token
from shared.db import SessionDep
from shared.errors import DomainError, FieldError, InvalidInput, error_responses
from shared.ratelimit import per_client

router = APIRouter(tags=["auth"])

#: Every token request counts, whatever its grant and outcome: each may cost an Argon2 hash.
token_rate_limit = per_client(
    "auth.token",
    lambda r: r.app.state.settings.token_rate_limit,
    lambda r: r.app.state.settings.rate_limit_window_seconds,
)


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


def _missing(*names: str) -> InvalidInput:
    return InvalidInput(
        f"Missing {', '.join(names)} for this grant type.",
        errors=[FieldError(field=n, message="Field required") for n in names],
    )


@router.post(
    "/v1/auth/token",
    operation_id="createToken",
    response_model=schemas.TokenResponse,
    summary="Get an access token",
    responses=error_responses(400, 401, 422, 429),
    dependencies=[Depends(token_rate_limit)],
)
async def token(
    request: Request,
    session: SessionDep,
    grant_type: Annotated[
        str,
        Form(
            description="`password`, `refresh_token` or `client_credentials`.",
            examples=["password"],
        ),
    ],
    username: Annotated[str | None, Form(examples=["jinan.organiser"])] = None,
    password: Annotated[str | None, Form(examples=["Quancheng-2026!"])] = None,
    scope: Annotated[str, Form(description="Requested scopes, space-separated.")] = "",
    refresh_token: Annotated[
        str | None, Form(description="For `grant_type=refresh_token`: the last one you got.")
    ] = None,
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> schemas.TokenResponse:
    """OAuth2 token endpoint (RFC 6749), form-encoded.

    - People: `grant_type=password` with `username` and `password` (this is what the
      **Authorize** button of every service's Swagger UI does).
    - Then `grant_type=refresh_token` with the `refresh_token` of the last answer, for a new
      access token and a new refresh token (each is good once: presenting a used one revokes
      every token of that sign-in).
    - Machine clients: `grant_type=client_credentials` with `client_id` and `client_secret`
      (form fields or HTTP Basic).

    Tokens are RS256 JWTs; verify them with `/.well-known/jwks.json`. Five wrong passwords lock
    the account for 15 minutes; too many failures for one username or from one address within
    `LOGIN_WINDOW_SECONDS` are answered 429 with `Retry-After`, before any password is checked,
    and so are more than `TOKEN_RATE_LIMIT` requests of any kind from one address within
    `RATE_LIMIT_WINDOW_SECONDS`. Both limits are counted in the database: every replica sees
    the same count.
    """
    settings = request.app.state.settings
    client_ip = request.client.host if request.client else "unknown"
    if grant_type == "password":
        if not username or not password:
            raise _missing(
                *[n for n, v in (("username", username), ("password", password)) if not v]
            )
        name = username.strip().lower()
        attempt = await service.reserve_attempt(session, settings, name, client_ip)
        # A wrong password leaves the reserved attempt counted as the failure.
        principal = await service.authenticate_password(session, username, password)
        await service.forgive_attempt(session, attempt)
        refresh, refresh_ttl = await service.issue_refresh_token(
            session, settings, uuid.UUID(principal.sub)
        )
    elif grant_type == "refresh_token":
        if not refresh_token:
            raise _missing("refresh_token")
        principal, refresh, refresh_ttl = await service.use_refresh_token(
            session, settings, refresh_token
        )
    elif grant_type == "client_credentials":
        basic = _basic_credentials(authorization)
        if basic:
            client_id, client_secret = basic
        if not client_id or not client_secret:
            raise _missing(
                *[
                    n
                    for n, v in (("client_id", client_id), ("client_secret", client_secret))
                    if not v
                ]
            )
        attempt = await service.reserve_attempt(session, settings, "client:" + client_id, client_ip)
        refresh, refresh_ttl = None, None
        # Refused (a wrong secret, or scopes not granted): the reserved attempt stays counted.
        principal = await service.authenticate_client(
            session, client_id, client_secret, set(scope.split())
        )
        await service.forgive_attempt(session, attempt)
    else:
        raise DomainError(
            f"grant_type {grant_type!r} is not supported; use password, refresh_token or "
            "client_credentials.",
            error="unsupported_grant_type",
            errors=[FieldError(field="grant_type", message="unsupported grant type")],
        )
    access_token, ttl = issue_access_token(settings, request.app.state.signing_key, principal)
    return schemas.TokenResponse(
        access_token=access_token,
        expires_in=ttl,
        scope=" ".join(sorted(principal.scopes)),
        refresh_token=refresh,
        refresh_expires_in=refresh_ttl,
    )


@router.get(
    "/.well-known/jwks.json",
    operation_id="getJwks",
    response_model=schemas.Jwks,
    summary="Public signing keys (JWKS)",
)
async def jwks(request: Request) -> schemas.Jwks:
    """The registry's RS256 public keys. The other services fetch and cache these to verify
    tokens; outside systems may do the same."""
    return schemas.Jwks(keys=[k.public_jwk for k in request.app.state.published_keys])
