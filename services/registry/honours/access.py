"""Who may see and change honour grants and achievements, as SQL filters for lists.

Object checks reuse `services.registry.talent.access`; these clauses apply the same organiser
scopes (an enterprise, or a locality covering its counties) inside list queries, so a page is
filtered in the database rather than after loading it.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, true
from sqlalchemy.orm import InstrumentedAttribute

from services.registry.talent.access import locality_covers
from shared.auth.principal import Principal, Role
from shared.errors import Forbidden
from shared.models.registry import Enterprise

PROVINCE = "370000"


def locality_clause(scope: str | None, column: InstrumentedAttribute[str]) -> ColumnElement[bool]:
    """SQL for `locality_covers(scope, column)`: itself, a city's counties, or the province."""
    if not scope:
        return false()
    if scope == PROVINCE:
        return true()
    if scope.endswith("00"):
        return column.startswith(scope[:4], autoescape=True)
    return column == scope


def organiser_covers_enterprise(principal: Principal, enterprise: Enterprise) -> bool:
    """An organiser scoped to this enterprise, or to a locality covering its locality."""
    if principal.role is not Role.organiser:
        return False
    if principal.enterprise_id is not None:
        return principal.enterprise_id == enterprise.id
    return locality_covers(principal.locality_code, enterprise.locality_code)


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
