"""Loader dependencies of the nomination routes: `VisibleNomination` / `ActingNomination` /
`LockedNomination`, a nomination for those who may see it (others get a 404, as for one that
does not exist); which side may act is checked by the service. The event and qualifier loaders
are the pathways' (services/competitions/pathways/access.py).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from services.competitions.nominations import service as nominations
from services.competitions.pathways.access import NominationReader
from shared.auth.deps import AdminOrOrganiser
from shared.db import SessionDep
from shared.scope import scope_loader


@scope_loader("nomination")
async def visible_nomination(
    session: SessionDep, principal: NominationReader, nomination_id: uuid.UUID
) -> nominations.NominationContext:
    return nominations.visible_or_404(principal, await nominations.load(session, nomination_id))


@scope_loader("nomination")
async def acting_nomination(
    session: SessionDep, principal: AdminOrOrganiser, nomination_id: uuid.UUID
) -> nominations.NominationContext:
    """Not locked: the route locks the nomination's qualifier first, then the nomination
    (the order `submit` takes them in, so the two cannot deadlock)."""
    return nominations.visible_or_404(principal, await nominations.load(session, nomination_id))


@scope_loader("nomination")
async def locked_nomination(
    session: SessionDep, principal: AdminOrOrganiser, nomination_id: uuid.UUID
) -> nominations.NominationContext:
    ctx = await nominations.load(session, nomination_id, for_update=True)
    return nominations.visible_or_404(principal, ctx)


VisibleNomination = Annotated[nominations.NominationContext, Depends(visible_nomination)]
ActingNomination = Annotated[nominations.NominationContext, Depends(acting_nomination)]
LockedNomination = Annotated[nominations.NominationContext, Depends(locked_nomination)]
