"""Who may manage what in the competitions service (shared by its domain areas).

The rule itself is `shared.scope.covers`, the same in every service; the loader dependencies
that apply it to a route's object are in each area (`competitions/access.py`,
`entries/deps.py`)."""

from __future__ import annotations

from shared.auth.principal import Principal
from shared.errors import Forbidden
from shared.models.competitions import Competition
from shared.scope import covers, describe


def organiser_covers(principal: Principal, competition_or_locality: Competition | str) -> bool:
    """Admins cover everything; an organiser the competitions of their locality (a city also
    its counties, the province everything), or of their own enterprise."""
    if isinstance(competition_or_locality, Competition):
        return covers(
            principal,
            competition_or_locality.organiser_locality_code,
            competition_or_locality.organiser_enterprise_id,
        )
    return covers(principal, competition_or_locality, None)


def check_organiser_scope(principal: Principal, competition_or_locality: Competition | str) -> None:
    if not organiser_covers(principal, competition_or_locality):
        where = (
            competition_or_locality.organiser_locality_code
            if isinstance(competition_or_locality, Competition)
            else competition_or_locality
        )
        raise Forbidden(
            f"Your scope ({describe(principal)}) does not cover competitions of locality {where}."
        )
