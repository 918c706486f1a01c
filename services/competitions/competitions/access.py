"""Loader dependencies of a route's competition, loaded and checked against the caller's scope
in one place (the competitions-service twins of judging's `ManagedStage`).

- `ManagedCompetition`: the route's `competition_id`, locked, for admins and the organisers
  covering it (404 unknown, 403 outside the scope).
- `ReadableCompetition`: the route's `competition_id` for any reader (competitions are public
  to every signed-in reader; 404 unknown).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from services.competitions.access import check_organiser_scope
from services.competitions.competitions.service import get_competition
from shared.auth.deps import AdminOrOrganiser, CompetitionsReader
from shared.db import SessionDep
from shared.models.competitions import Competition
from shared.scope import scope_loader


@scope_loader("competition")
async def managed_competition(
    session: SessionDep, principal: AdminOrOrganiser, competition_id: uuid.UUID
) -> Competition:
    """The competition, locked until the request commits (writes follow), for its managers."""
    competition = await get_competition(session, competition_id, for_update=True)
    check_organiser_scope(principal, competition)
    return competition


@scope_loader("competition")
async def readable_competition(
    session: SessionDep, _: CompetitionsReader, competition_id: uuid.UUID
) -> Competition:
    return await get_competition(session, competition_id)


ManagedCompetition = Annotated[Competition, Depends(managed_competition)]
ReadableCompetition = Annotated[Competition, Depends(readable_competition)]
