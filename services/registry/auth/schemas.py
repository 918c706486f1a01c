"""Token endpoint schemas (RFC 6749 names)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = Field("bearer", examples=["bearer"])
    expires_in: int = Field(description="Seconds until the token expires.", examples=[1800])
    scope: str = Field(
        "", description="Granted scopes, space-separated.", examples=["registry:read"]
    )
    refresh_token: str | None = Field(
        None,
        description="People only: exchange it once at this endpoint "
        "(`grant_type=refresh_token`) for a new access token and a new refresh token.",
    )
    refresh_expires_in: int | None = Field(
        None, description="Seconds until the refresh token expires.", examples=[1209600]
    )


class Jwks(BaseModel):
    keys: list[dict[str, Any]] = Field(
        description="RS256 public keys (RFC 7517). Verify tokens with the key whose `kid` "
        "matches the token header."
    )
