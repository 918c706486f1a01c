"""FastAPI dependencies: the bearer token, the principal, and one typed alias per rule."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlowPassword, OAuthFlows
from fastapi.security import OAuth2

from shared.auth.principal import Principal, Role
from shared.errors import Forbidden, Unauthorized

TOKEN_PATH = "/v1/auth/token"  # noqa: S105 - a URL path, not a secret

# Both flows point at the registry; `shared.app` rewrites tokenUrl to the registry's absolute URL
# in the other services' OpenAPI so their Authorize buttons work too.
oauth2_scheme = OAuth2(
    flows=OAuthFlows(
        password=OAuthFlowPassword(tokenUrl=TOKEN_PATH),
        clientCredentials=OAuthFlowClientCredentials(tokenUrl=TOKEN_PATH),
    ),
    scheme_name="OAuth2",
    description="People sign in with the password flow; machine clients (other government "
    "systems) with client credentials. Tokens are RS256 JWTs issued by the registry.",
    auto_error=False,
)


async def get_principal(
    request: Request, authorization: Annotated[str | None, Depends(oauth2_scheme)]
) -> Principal:
    if not authorization:
        raise Unauthorized("Missing bearer token: send `Authorization: Bearer <token>`.")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("The Authorization header must be `Bearer <token>`.")
    principal: Principal = await request.app.state.token_verifier.verify(token.strip())
    # A disabled account or revoked client is refused within ACCESS_REVOCATION_CACHE_SECONDS,
    # although its token is still valid (`shared.auth.revocations`).
    await request.app.state.access_revocations.check(principal)
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require(
    *roles: Role, scopes: tuple[str, ...] = ()
) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency admitting the given roles; integration clients need one of `scopes`."""

    allowed = set(roles)

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.role is Role.integration and scopes:
            if principal.scopes.intersection(scopes):
                return principal
            raise Forbidden(
                f"This machine client lacks the scope needed here (one of: {', '.join(scopes)}).",
                denied_by="scope",
            )
        if principal.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed)) or "none"
            raise Forbidden(
                f"Role {principal.role.value} may not do this (allowed: {names}).",
                denied_by="role",
            )
        return principal

    dependency.__name__ = "require_" + "_".join(r.value for r in roles)
    # Read by the authorisation-matrix test, which checks them against each service's policy.
    dependency.required_roles = frozenset(roles)  # type: ignore[attr-defined]  # metadata
    dependency.required_scopes = frozenset(scopes)  # type: ignore[attr-defined]  # metadata
    return dependency


Admin = Annotated[Principal, Depends(require(Role.admin))]
AdminOrOrganiser = Annotated[Principal, Depends(require(Role.admin, Role.organiser))]
#: Also our own services, calling with their machine client (scope `internal`).
AdminOrOrganiserOrService = Annotated[
    Principal, Depends(require(Role.admin, Role.organiser, scopes=("internal",)))
]

# Readers: any person; a machine client needs the service's read scope or `internal`. (Which
# objects a person sees is decided by the service: an organiser's scope, a worker's own file.)
_PEOPLE = (Role.admin, Role.organiser, Role.judge, Role.worker)
RegistryReader = Annotated[
    Principal, Depends(require(*_PEOPLE, scopes=("registry:read", "internal")))
]
#: Workers' files (personal data): not judges.
FileReader = Annotated[
    Principal,
    Depends(require(Role.admin, Role.organiser, Role.worker, scopes=("registry:read", "internal"))),
]
CompetitionsReader = Annotated[
    Principal, Depends(require(*_PEOPLE, scopes=("competitions:read", "internal")))
]
#: Self-service writes: organisers in scope, and workers for themselves.
AdminOrganiserOrWorker = Annotated[
    Principal, Depends(require(Role.admin, Role.organiser, Role.worker))
]
