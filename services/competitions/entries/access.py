"""Who may see an entry, for one entry and as a query clause for many (one rule, two forms).

An entry is seen by admins and our own services; by the organisers of its competition (those
covering it: they decide on it); by the organisers covering its competitor (their enterprise's
or their locality's people, whom they may register anywhere); and by its members.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.principal import Principal, Role
from shared.db import get_or_404
from shared.errors import Forbidden
from shared.models.competitions import Competition, Entry, EntryMember
from shared.scope import covers, scope_clause


def reads_all(principal: Principal) -> bool:
    return principal.role is Role.admin or (
        principal.role is Role.integration and principal.has_scope("internal")
    )


class EntryScope:
    """The caller's view of entries, as SQL (`clause`) and for a loaded entry (`sees`)."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    def clause(self) -> ColumnElement[bool]:
        p = self.principal
        if reads_all(p):
            return true()
        if p.role is Role.organiser:
            managed = select(Competition.id).where(
                scope_clause(
                    p, Competition.organiser_locality_code, Competition.organiser_enterprise_id
                )
            )
            return or_(
                scope_clause(p, Entry.locality_code, Entry.enterprise_id),
                Entry.competition_id.in_(managed),
            )
        if p.role is Role.worker and p.worker_id is not None:
            return Entry.id.in_(
                select(EntryMember.entry_id).where(EntryMember.worker_id == p.worker_id)
            )
        return false()

    async def sees(self, session: AsyncSession, entry: Entry) -> bool:
        p = self.principal
        if reads_all(p):
            return True
        if p.role is Role.organiser:
            if covers(p, entry.locality_code, entry.enterprise_id):
                return True
            competition = await session.get(Competition, entry.competition_id)
            return competition is not None and covers(
                p, competition.organiser_locality_code, competition.organiser_enterprise_id
            )
        if p.role is Role.worker and p.worker_id is not None:
            found = await session.scalar(
                select(EntryMember.worker_id).where(
                    EntryMember.entry_id == entry.id, EntryMember.worker_id == p.worker_id
                )
            )
            return found is not None
        return False


async def load_visible(session: AsyncSession, entry_id: uuid.UUID, principal: Principal) -> Entry:
    """The entry, or a 404 when there is none, or a 403 when the caller may not see it."""
    entry = await get_or_404(session, Entry, entry_id, "entry")
    if not await EntryScope(principal).sees(session, entry):
        raise Forbidden("You may not see this entry.")
    return entry
