"""Who may manage what in the competitions service (shared by its domain areas)."""

from __future__ import annotations

from shared.auth.principal import Principal, Role
from shared.errors import Forbidden
from shared.localities import locality_covers
from shared.models.competitions import Competition


def organiser_covers(principal: Principal, competition_or_locality: Competition | str) -> bool:
    """Admins cover everything; an organiser the competitions of their locality (a city also
    its counties, the province everything), or of their own enterprise."""
    if principal.role is Role.admin:
        return True
    if principal.role is not Role.organiser:
        return False
    if isinstance(competition_or_locality, Competition):
        locality_code = competition_or_locality.organiser_locality_code
        enterprise_id = competition_or_locality.organiser_enterprise_id
    else:
        locality_code, enterprise_id = competition_or_locality, None
    if principal.enterprise_id is not None:
        return principal.enterprise_id == enterprise_id
    return locality_covers(principal.locality_code, locality_code)


def check_organiser_scope(principal: Principal, competition_or_locality: Competition | str) -> None:
    if not organiser_covers(principal, competition_or_locality):
        where = (
            competition_or_locality.organiser_locality_code
            if isinstance(competition_or_locality, Competition)
            else competition_or_locality
        )
        scope = principal.locality_code or principal.enterprise_id or principal.role.value
        raise Forbidden(f"Your scope ({scope}) does not cover competitions of locality {where}.")
