"""Who may see and change honour grants and achievements, as SQL filters for lists.

Object checks reuse `services.registry.talent.access`; these clauses apply the same organiser
scopes (an enterprise, or a locality covering its counties) inside list queries, so a page is
filtered in the database rather than after loading it.
"""

from __future__ import annotations

from shared.auth.principal import Principal, Role
from shared.errors import Forbidden
from shared.models.registry import Enterprise
from shared.scope import covers


def organiser_covers_enterprise(principal: Principal, enterprise: Enterprise) -> bool:
    """An organiser scoped to this enterprise, or to a locality covering its locality."""
    if principal.role is not Role.organiser:
        return False
    # An enterprise's own scope is the enterprise itself (its id is the enterprise_id).
    return covers(principal, enterprise.locality_code, enterprise.id)


def reads_everything(principal: Principal) -> bool:
    """Admins and machine clients allowed to read the registry see every grant and achievement."""
    if principal.role is Role.admin:
        return True
    if principal.role is Role.integration:
        if principal.has_scope("registry:read") or principal.has_scope("internal"):
            return True
        raise Forbidden("This machine client needs the scope registry:read to read this.")
    return False


def ensure_reader(principal: Principal) -> None:
    """Lists are open to admins, organisers, workers (their own) and reading machine clients."""
    if principal.role in (Role.admin, Role.organiser, Role.worker):
        return
    if principal.role is Role.integration:
        reads_everything(principal)
        return
    raise Forbidden(f"Role {principal.role.value} may not read honours and achievements.")
