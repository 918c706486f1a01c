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


class Jwks(BaseModel):
    keys: list[dict[str, Any]] = Field(
        description="RS256 public keys (RFC 7517). Verify tokens with the key whose `kid` "
        "matches the token header."
    )
