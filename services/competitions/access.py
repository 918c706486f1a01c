"""Who may manage what in the competitions service (shared by its domain areas)."""

from __future__ import annotations

from shared.auth.principal import Principal, Role
from shared.errors import Forbidden


def organiser_covers(principal: Principal, locality_code: str) -> bool:
    """Admins cover everything; an organiser their own locality (a city also its counties)."""
    if principal.role is Role.admin:
        return True
    if principal.role is not Role.organiser:
        return False
    scope = principal.locality_code
    return scope is not None and (
        locality_code == scope or (scope.endswith("00") and locality_code[:4] == scope[:4])
    )


def check_organiser_scope(principal: Principal, locality_code: str) -> None:
    """An organiser manages competitions of their own locality only (or of its counties).

    The same rule as `competitions.service._check_organiser_scope`, which can import it here.
    """
    if principal.role is Role.admin:
        return
    if not organiser_covers(principal, locality_code):
        scope = principal.locality_code
        raise Forbidden(
            f"Your organiser scope ({scope or 'an enterprise'}) does not cover locality "
            f"{locality_code}."
        )
