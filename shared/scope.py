"""Organiser scope in one place: who covers which locality or enterprise, in Python and in SQL.

An organiser is scoped either to an enterprise (its own objects only) or to a locality
(GB/T 2260): a locality covers itself, a city (xxxx00) also its counties, and the province
(370000) everything. Admins cover everything; nobody else covers anything as an organiser.

Every service decides object scope with these functions (`covers` for a loaded object,
`scope_clause` for a query over many): the locality test used to be written by hand in about
eight queries, with small differences, so one path could drift from the others. The loader
dependencies built on them (`VisibleWorker`, `VisibleEntry`, `ManagedCompetition`,
`ManagedStage`) carry `scope_kind` so that a test can check every route goes through one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, false, true

from shared.auth.principal import Principal, Role

PROVINCE = "370000"

F = TypeVar("F", bound=Callable[..., Any])


def locality_covers(scope: str | None, locality_code: str | None) -> bool:
    """A locality scope covers itself; a city (xxxx00) covers its counties; the province all."""
    if not scope or not locality_code:
        return False
    if scope in (locality_code, PROVINCE):
        return True
    return scope.endswith("00") and locality_code[:4] == scope[:4]


def locality_clause(scope: str | None, column: Any) -> ColumnElement[bool]:
    """SQL twin of `locality_covers(scope, column)`; also the meaning of a `locality_code`
    filter on a list (a city includes its counties, the province everything)."""
    if not scope:
        return false()
    if scope == PROVINCE:
        return true()
    if scope.endswith("00"):
        return column.startswith(scope[:4], autoescape=True)
    return column == scope


def covers(
    principal: Principal, locality_code: str | None, enterprise_id: uuid.UUID | None
) -> bool:
    """Does the principal manage an object at this locality / of this enterprise? Admins
    everything; an enterprise organiser its enterprise's; a locality organiser its locality's."""
    if principal.role is Role.admin:
        return True
    if principal.role is not Role.organiser:
        return False
    if principal.enterprise_id is not None:
        return enterprise_id is not None and str(enterprise_id) == str(principal.enterprise_id)
    return locality_covers(principal.locality_code, locality_code)


def scope_clause(
    principal: Principal, locality_column: Any, enterprise_column: Any
) -> ColumnElement[bool]:
    """SQL twin of `covers`: the rows of a table the principal manages as admin or organiser
    (false for every other role; add their own rules, e.g. a worker's own rows, beside it)."""
    if principal.role is Role.admin:
        return true()
    if principal.role is not Role.organiser:
        return false()
    if principal.enterprise_id is not None:
        return enterprise_column == principal.enterprise_id
    return locality_clause(principal.locality_code, locality_column)


def describe(principal: Principal) -> str:
    """The principal's scope in words, for error texts about the caller's own scope."""
    return str(principal.locality_code or principal.enterprise_id or principal.role.value)


def scope_loader(kind: str) -> Callable[[F], F]:
    """Mark a dependency as the scope check for objects of `kind` (read by the route test)."""

    def mark(func: F) -> F:
        func.scope_kind = kind  # type: ignore[attr-defined]  # metadata for the route test
        return func

    return mark
