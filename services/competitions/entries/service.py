"""Entries: registration with eligibility checked against the registry, capacity and waitlist,
and the entry lifecycle.

Registration asks the registry once for every worker involved (`workers:batch-get`, with this
service's own token), evaluates every rule and reports every failure at once. Places are
counted under a lock on the event row, so concurrent registrations for the last place are
serialised: exactly one gets it, the others are waitlisted. A waitlisted entry is promoted
(oldest first) whenever a place frees.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import JSON, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.competitions.access import organiser_covers
from services.competitions.competitions.service import (
    SERVICE,
    get_competition,
)
from services.competitions.entries import schemas
from services.competitions.entries.access import EntryScope, reads_all
from services.competitions.entries.batching import PlaceBatcher, take_places
from shared import audit, clock, outbox
from shared.auth.principal import Principal, Role
from shared.clients import RegistryClient
from shared.db import Sessions, UnitOfWork, get_or_404, same_session
from shared.errors import (
    Conflict,
    DomainError,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    RuleViolation,
)
from shared.models.competitions import (
    HOLDING_PLACE,
    TEAM_SIZE_DEFAULTS,
    Competition,
    CompetitionStatus,
    Entry,
    EntryMember,
    EntryStatus,
    Event,
    EventMode,
    EventPathway,
)
from shared.models.registry.eligibility import worker_eligibility
from shared.models.registry.enums import SkillGrade
from shared.pagination import Page, keyset_rows
from shared.request_id import current_request_id
from shared.scope import covers, locality_clause, locality_covers
from shared.tabular import TableLimits, TableProblem, UnreadableRow, cell_problem, read_rows

LIVE = (*HOLDING_PLACE, EntryStatus.waitlisted)
#: The roles of an entry's members (`entry_members.role`).
LEADER, MEMBER = "leader", "member"
#: The failure for a worker id the caller may not use: unknown, or out of the caller's scope
#: (the same words for both, see `hide_unreadable`).
NO_SUCH_WORKER = ("worker_exists", "no such worker in the registry")
#: The failure for a team member the registering worker may not read (unknown or ineligible).
TEAM_MEMBER = ("team_member", "no such worker, or not eligible for this event")
#: status -> statuses it may move to, by action
ACTIONS: dict[str, tuple[tuple[EntryStatus, ...], EntryStatus]] = {
    "approve": ((EntryStatus.pending,), EntryStatus.approved),
    "reject": ((EntryStatus.pending, EntryStatus.waitlisted), EntryStatus.rejected),
    "withdraw": (
        (EntryStatus.pending, EntryStatus.approved, EntryStatus.waitlisted),
        EntryStatus.withdrawn,
    ),
    "check-in": ((EntryStatus.approved,), EntryStatus.checked_in),
    "disqualify": ((EntryStatus.approved, EntryStatus.checked_in), EntryStatus.disqualified),
}
EVENT_TYPES = {
    EntryStatus.approved: "entry.approved",
    EntryStatus.rejected: "entry.rejected",
    EntryStatus.withdrawn: "entry.withdrawn",
}


@dataclass
class Candidate:
    """One registration to make: a worker, or a team (leader first)."""

    members: list[uuid.UUID]
    team_name: str | None = None
    achievement_id: uuid.UUID | None = None
    row: int | None = None
    failures: list[schemas.RuleFailure] = field(default_factory=list)
    entry: Entry | None = None
    waitlist_position: int | None = None

    @property
    def leader(self) -> uuid.UUID:
        return self.members[0]

    def fail(self, rule: str, message: str, worker_id: uuid.UUID | None = None) -> None:
        self.failures.append(schemas.RuleFailure(rule=rule, worker_id=worker_id, message=message))


def candidate_from(event: Event, data: schemas.EntryCreate) -> Candidate:
    """Shape checks that need no data: which fields the event's mode asks for."""
    errors: list[FieldError] = []
    if event.mode is EventMode.individual:
        if data.worker_id is None:
            errors.append(FieldError(field="worker_id", message="required for an individual event"))
        for name in ("team_name", "leader_id", "members", "achievement_id"):
            if getattr(data, name) is not None:
                errors.append(FieldError(field=name, message="not used in an individual event"))
        if errors:
            raise InvalidInput(
                "The entry does not fit an individual event: "
                + "; ".join(f"{e.field}: {e.message}" for e in errors),
                errors=errors,
            )
        assert data.worker_id is not None
        return Candidate(members=[data.worker_id])
    members = list(data.members or [])
    if data.worker_id is not None:
        errors.append(FieldError(field="worker_id", message="use leader_id and members here"))
    if data.leader_id is None:
        errors.append(FieldError(field="leader_id", message="required for a team"))
    elif data.leader_id not in members:
        errors.append(
            FieldError(field="leader_id", message="the leader must be one of the members")
        )
    if len(set(members)) != len(members):
        errors.append(FieldError(field="members", message="a worker is listed twice"))
    # Events made before the schema stored its defaults may have no sizes: the same defaults.
    default_low, default_high = TEAM_SIZE_DEFAULTS[event.mode]
    low = event.team_min if event.team_min is not None else default_low
    high = event.team_max if event.team_max is not None else default_high
    size = len(set(members))
    if size < low:
        errors.append(
            FieldError(
                field="members",
                message=f"too few members: {size}, the event's teams have at least {low} "
                "(leader included)",
            )
        )
    elif size > high:
        errors.append(
            FieldError(
                field="members",
                message=f"too many members: {size}, the event's teams have at most {high} "
                "(leader included)",
            )
        )
    if event.mode is EventMode.team and not data.team_name:
        errors.append(FieldError(field="team_name", message="required for a team event"))
    if event.mode is EventMode.innovation and data.achievement_id is None:
        errors.append(
            FieldError(field="achievement_id", message="required for an innovation event")
        )
    if errors:
        raise InvalidInput(
            f"The entry does not fit this {event.mode.value} event: "
            + "; ".join(f"{e.field}: {e.message}" for e in errors),
            errors=errors,
        )
    assert data.leader_id is not None
    ordered = [data.leader_id, *[m for m in members if m != data.leader_id]]
    return Candidate(members=ordered, team_name=data.team_name, achievement_id=data.achievement_id)


def _age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def evaluate(
    event: Event,
    competition: Competition,
    candidate: Candidate,
    facts: dict[uuid.UUID, dict[str, Any]],
    missing: set[uuid.UUID],
) -> None:
    """The registry-data rules, every failure recorded (none stops the others)."""
    day = competition.starts_on or clock.today()
    for worker_id in candidate.members:
        if worker_id in missing or worker_id not in facts:
            candidate.fail(NO_SUCH_WORKER[0], NO_SUCH_WORKER[1], worker_id)
            continue
        f = facts[worker_id]
        if f["file_status"] != "active":
            candidate.fail("file_active", f"the talent file is {f['file_status']}", worker_id)
        age = _age_on(date.fromisoformat(f["birth_date"]), day)
        if event.min_age is not None and age < event.min_age:
            candidate.fail(
                "min_age", f"aged {age} on {day}, below the minimum {event.min_age}", worker_id
            )
        if event.max_age is not None and age > event.max_age:
            candidate.fail(
                "max_age", f"aged {age} on {day}, above the maximum {event.max_age}", worker_id
            )
        grade = SkillGrade(f["grade"])
        if event.min_grade is not None and grade.rank < event.min_grade.rank:
            candidate.fail(
                "min_grade",
                f"grade {grade.value} is below the minimum {event.min_grade.value}",
                worker_id,
            )
        if event.max_grade is not None and grade.rank > event.max_grade.rank:
            candidate.fail(
                "max_grade",
                f"grade {grade.value} is above the maximum {event.max_grade.value}",
                worker_id,
            )
        allowed = event.allowed_locality_codes
        if allowed and not any(locality_covers(code, f["locality_code"]) for code in allowed):
            candidate.fail(
                "allowed_localities",
                f"locality {f['locality_code']} is not among {', '.join(allowed)}",
                worker_id,
            )
        if event.exclude_national_winners and f.get("national_winner"):
            # The registry decides who is a national winner (a winning national result in the
            # talent file, or a national honour) and names the results behind it.
            wins = f.get("national_wins") or []
            why = "; ".join(wins) if wins else "a national-level honour"
            candidate.fail("not_national_winner", f"a national winner ({why})", worker_id)


def _manages(principal: Principal, competition: Competition) -> bool:
    return principal.role in (Role.admin, Role.organiser) and organiser_covers(
        principal, competition
    )


def may_read(
    principal: Principal, worker_id: uuid.UUID, facts: dict[uuid.UUID, dict[str, Any]]
) -> bool:
    """May the caller read this worker's registry facts? The registry's own rule
    (`talent.access.can_view`) for the roles that register: admins, organisers covering the
    worker (`shared.scope.covers`), and a worker themselves."""
    if principal.role is Role.worker:
        return principal.worker_id == worker_id
    f = facts.get(worker_id)
    return f is not None and covers(principal, f.get("locality_code"), f.get("enterprise_id"))


def authorise(
    principal: Principal,
    competition: Competition,
    candidate: Candidate,
    facts: dict[uuid.UUID, dict[str, Any]],
) -> bool:
    """May this caller register this candidate? True when they manage the competition (entries
    are then approved at once). A worker registers themselves (or a team they lead); an
    organiser the workers of its scope (its enterprise's, or its locality's) into any event,
    the entry then waiting for the competition's organisers. Members the caller may not read
    are refused by `hide_unreadable` exactly as unknown ids are, never here (a 403 would say
    that they exist)."""
    if principal.role is Role.worker:
        if principal.worker_id == candidate.leader:
            return False
        raise Forbidden("A worker registers themselves, or a team they lead.")
    return _manages(principal, competition)


def hide_unreadable(
    principal: Principal, candidate: Candidate, facts: dict[uuid.UUID, dict[str, Any]]
) -> None:
    """No answer tells the caller anything about a worker they may not read.

    An admin or organiser may register only workers it may read: any other member fails as an
    unknown id does (same rule, same text), so an out-of-scope worker cannot be told from a
    worker who does not exist. A worker leading a team cannot read their teammates: every
    failure of a teammate (unknown, out of the rules, already entered) becomes one failure that
    says neither which nor why. Safe to call again after more failures were added."""
    for worker_id in candidate.members:
        if may_read(principal, worker_id, facts):
            continue
        own = [f for f in candidate.failures if f.worker_id == worker_id]
        if principal.role is Role.worker:
            if not own:
                continue
            rule, message = TEAM_MEMBER
        else:
            rule, message = NO_SUCH_WORKER
        candidate.failures = [f for f in candidate.failures if f.worker_id != worker_id]
        candidate.fail(rule, message, worker_id)


async def fetch_facts(
    registry: RegistryClient, token: str, candidates: list[Candidate]
) -> tuple[dict[uuid.UUID, dict[str, Any]], set[uuid.UUID]]:
    ids = [w for c in candidates for w in c.members]
    found, missing = await registry.batch_get_workers(ids, token=token)
    return found, set(missing)


def _facts_json(ids: list[uuid.UUID]) -> Any:
    """SQL: the read model's rows for these workers as one JSON array, each shaped as
    `workers:batch-get` answers (ids and dates as strings), so the same rules run on them."""
    we = worker_eligibility.c
    return (
        select(
            func.json_agg(
                func.json_build_object(
                    "id", we.worker_id,
                    "birth_date", we.birth_date,
                    "grade", we.grade,
                    "locality_code", we.locality_code,
                    "enterprise_id", we.enterprise_id,
                    "file_status", we.file_status,
                    "national_winner", we.national_winner,
                    "national_wins", we.national_wins,
                ),
                type_=JSON,
            )
        )
        .where(we.worker_id.in_(ids))
        .scalar_subquery()
    )  # fmt: skip


Facts = tuple[dict[uuid.UUID, dict[str, Any]], set[uuid.UUID]]


def _facts_of(ids: list[uuid.UUID], rows: list[dict[str, Any]] | None) -> Facts:
    found = {uuid.UUID(r["id"]): r for r in rows or []}
    return found, {i for i in ids if i not in found}


async def read_facts(session: AsyncSession, candidates: list[Candidate]) -> Facts:
    """`fetch_facts` from the registry's `worker_eligibility` read model (migration 0056) in one
    query on this service's own connection, instead of a call to the registry."""
    ids = list(dict.fromkeys(w for c in candidates for w in c.members))
    return _facts_of(ids, await session.scalar(select(_facts_json(ids))))


async def _check_achievements(
    registry: RegistryClient, token: str, candidates: list[Candidate]
) -> None:
    for candidate in candidates:
        if candidate.achievement_id is None:
            continue
        achievement = await registry.get_achievement(candidate.achievement_id, token=token)
        if achievement is None:
            candidate.fail("achievement_exists", "no such innovation achievement")
            continue
        team = {m["worker_id"] for m in achievement.get("team", [])}
        outsiders = [w for w in candidate.members if str(w) not in team]
        for worker_id in outsiders:
            candidate.fail("achievement_team", "not in the achievement's team", worker_id)


async def _resolve(token: str | Callable[[], Awaitable[str]]) -> str:
    return token if isinstance(token, str) else await token()


class Loaded(NamedTuple):
    """What registration reads before anything else, in one query."""

    event: Event
    competition: Competition
    #: The event's pathway allows open registration (None: the event has no pathway).
    open_registration: bool | None
    #: The facts of the workers named in the request, from the registry's read model, when
    #: they were asked for (`read_facts`' answer).
    facts: tuple[list[uuid.UUID], Facts] | None = None


async def load_for_registration(
    session: AsyncSession, event_id: uuid.UUID, worker_ids: list[uuid.UUID] | None = None
) -> Loaded:
    """The event, its competition, whether its pathway takes registrations and, with
    `worker_ids`, those workers' facts from the registry's read model: one round trip (pass
    it on to `register`), or a 404."""
    columns: list[Any] = [Event, Competition, EventPathway.open_registration]
    ids = list(dict.fromkeys(worker_ids)) if worker_ids is not None else None
    if ids is not None:
        columns.append(_facts_json(ids))
    found = (
        await session.execute(
            select(*columns)
            .join(Competition, Competition.id == Event.competition_id)
            .outerjoin(EventPathway, EventPathway.event_id == Event.id)
            .where(Event.id == event_id)
        )
    ).first()
    if found is None:
        raise NotFound(f"No event with id {event_id}.")
    facts = (ids, _facts_of(ids, found[3])) if ids is not None else None
    return Loaded(found[0], found[1], found[2], facts)


def _open_for_registration(competition: Competition) -> None:
    if competition.status is not CompetitionStatus.registration_open:
        raise Conflict(
            f"Registration is not open: the competition is {competition.status.value}.",
            current_status=competition.status.value,
        )
    now = datetime.now(UTC)
    opens, closes = competition.registration_opens_at, competition.registration_closes_at
    if opens and now < opens:
        raise Conflict(f"Registration opens at {opens.isoformat()}.")
    if closes and now > closes:
        raise Conflict(f"Registration closed at {closes.isoformat()}.")


def _check_open_registration(allowed: bool | None) -> None:
    """An event whose pathway does not allow open registration (`allowed` false) is filled
    only through it (nominations from its qualifiers, direct places)."""
    if allowed is False:
        raise Conflict(
            "Places in this event come through its pathway (nominations from its qualifiers, "
            "direct places): it takes no registrations.",
            errors=[
                FieldError(field="event_id", location="path", message="filled through its pathway")
            ],
        )


R = TypeVar("R")
#: Runs a registration's `create` and shapes the answer (the router's `idempotent_create`), on
#: the session in whose transaction a stored answer commits (None: no transaction, no key).
Respond = Callable[[AsyncSession | None, Callable[[], Awaitable[schemas.Entry]]], Awaitable[R]]


async def register_entry(
    uow: UnitOfWork,
    registry: RegistryClient,
    token: Callable[[], Awaitable[str]],
    event_id: uuid.UUID,
    data: schemas.EntryCreate,
    principal: Principal,
    respond: Respond[R],
    *,
    idempotent: bool,
    batcher: PlaceBatcher | None = None,
    read_model: bool = False,
) -> R:
    """One registration (a worker, or a team), answered by `respond`: the entry, or a
    `RuleViolation` naming every failed rule.

    `idempotent` (an Idempotency-Key): the stored answer must commit with the entry, so all of
    it runs in one transaction, committed before the response goes out. Without, nothing else
    is written: it runs outside any transaction, each step on its own short session (none is
    held while the registry answers), and the place is taken through `batcher` (setting
    REGISTRATION_BATCHING) together with the others arriving for the event: one lock and one
    commit for all of them. `read_model`: as for `register`."""
    # With the read model, the workers' facts come with the event, in the same query.
    named = [data.worker_id] if data.worker_id else list(data.members or [])
    wanted = named if read_model else None
    if idempotent:
        async with uow.transaction() as session:
            loaded = await load_for_registration(session, event_id, wanted)
            candidate = candidate_from(loaded.event, data)
            steps = same_session(session)
            return await respond(
                session,
                lambda: _create(
                    steps, registry, token, event_id, loaded, candidate, principal, None, read_model
                ),
            )
    async with uow.autocommit() as session:
        loaded = await load_for_registration(session, event_id, wanted)
    candidate = candidate_from(loaded.event, data)
    return await respond(
        None,
        lambda: _create(
            uow.autocommit,
            registry,
            token,
            event_id,
            loaded,
            candidate,
            principal,
            batcher,
            read_model,
        ),
    )


async def _create(
    sessions: Sessions,
    registry: RegistryClient,
    token: Callable[[], Awaitable[str]],
    event_id: uuid.UUID,
    loaded: Loaded,
    candidate: Candidate,
    principal: Principal,
    batcher: PlaceBatcher | None,
    read_model: bool,
) -> schemas.Entry:
    _, [done] = await register(
        sessions,
        registry,
        token,
        event_id,
        [candidate],
        principal,
        batcher=batcher,
        loaded=loaded,
        read_model=read_model,
    )
    if done.failures or done.entry is None:
        raise failures_problem(done)
    return present_registered(done)


async def register(
    sessions: Sessions,
    registry: RegistryClient,
    token: str | Callable[[], Awaitable[str]],
    event_id: uuid.UUID,
    candidates: list[Candidate],
    principal: Principal,
    batcher: PlaceBatcher | None = None,
    loaded: Loaded | None = None,
    read_model: bool = False,
) -> tuple[Event, list[Candidate]]:
    """Register candidates; each gets an entry or its failures. Remote reads first, then the
    places under the event lock (a registry failure leaves nothing behind). Each step runs on
    `sessions()`: the caller's transaction (`same_session`), or short sessions outside any
    (`UnitOfWork.autocommit`: no connection is held while the registry answers). With
    `batcher` (only outside a transaction) the places are taken together with other requests'
    registrations for the event. `loaded`: the event and its competition, when the caller has
    them (`load_for_registration`). `read_model`: the workers' facts from the registry's read
    model (`read_facts`) rather than from `workers:batch-get` (setting ELIGIBILITY_READ_MODEL;
    the same rules run on both). `token`: the service's token, or how to get it: asked for
    only when the registry is called (with the read model and no achievement, never: a
    registration then needs no registry at all, not even for a token)."""
    if loaded is None:
        async with sessions() as session:
            event = await get_or_404(session, Event, event_id, "event")
            competition = await get_competition(session, event.competition_id)
            open_registration = await session.scalar(
                select(EventPathway.open_registration).where(EventPathway.event_id == event.id)
            )
    else:
        event, competition, open_registration, _ = loaded
    _open_for_registration(competition)
    _check_open_registration(open_registration)
    if read_model:
        wanted = {w for c in candidates for w in c.members}
        if loaded is not None and loaded.facts is not None and wanted <= set(loaded.facts[0]):
            facts, missing = loaded.facts[1]  # read with the event
        else:
            async with sessions() as session:
                facts, missing = await read_facts(session, candidates)
    else:
        facts, missing = await fetch_facts(registry, await _resolve(token), candidates)
    if any(c.achievement_id is not None for c in candidates):
        await _check_achievements(registry, await _resolve(token), candidates)
    approve: dict[int, bool] = {}
    for i, candidate in enumerate(candidates):
        try:
            approve[i] = authorise(principal, competition, candidate, facts)
        except Forbidden as exc:
            if len(candidates) == 1:
                raise
            candidate.fail("scope", exc.detail)
            continue
        evaluate(event, competition, candidate, facts, missing)
        hide_unreadable(principal, candidate, facts)

    # Everything that can happen outside the event lock has happened (the registry call, the
    # rules); what is left is one call of `take_entry_places` (migration 0034), which
    # locks the event row and, for each candidate in turn, counts the places and writes the
    # entry, its members, its audit row and its outbox event. Outside a transaction
    # (`register_entry`), registrations arriving together share that call through `batcher`:
    # one lock, one commit. Inside a transaction the lock is held until the request commits.
    ready = [(i, c) for i, c in enumerate(candidates) if not c.failures]
    items = [
        _place_item(event, competition, c, approve.get(i, False), facts[c.leader], principal)
        for i, c in ready
    ]
    if items and batcher is not None:
        rows = list(await asyncio.gather(*(batcher.take(event.id, item) for item in items)))
    elif items:
        async with sessions() as session:
            rows = await take_places(session, items)
    else:
        rows = []
    for (_, candidate), item, row in zip(ready, items, rows, strict=True):
        _apply_place(event, competition, candidate, item, row, principal)
        hide_unreadable(principal, candidate, facts)
    return event, candidates


def _place_item(
    event: Event,
    competition: Competition,
    candidate: Candidate,
    approve: bool,
    leader: dict[str, Any],
    principal: Principal,
) -> dict[str, Any]:
    """One element of take_entry_places' argument (migration 0056) for a candidate: the entry,
    and its audit and outbox rows as `shared.audit` and `shared.outbox` would write them (the
    function adds only the status it decides to the audit snapshot)."""
    entry_id = uuid.uuid4()
    enterprise_id = leader.get("enterprise_id") or None
    quota = event.enterprise_quota if event.enterprise_quota and enterprise_id else None
    wanted = EntryStatus.approved if approve else EntryStatus.pending
    outbox_row = None
    if wanted is EntryStatus.approved:
        # Sent only if the entry gets its place at once (not when waitlisted): the data as
        # `event_data` gives it for an approved entry.
        data = {
            "entry_id": str(entry_id),
            **outbox.competition_scope(
                competition_id=competition.id,
                organiser_locality_code=competition.organiser_locality_code,
                event_id=event.id,
            ),
            "locality_code": leader["locality_code"],
            "worker_id": str(candidate.leader),
            "status": EntryStatus.approved.value,
            "reason": None,
        }
        outbox_row = {
            "id": str(uuid.uuid4()),
            "service": SERVICE,
            "type": EVENT_TYPES[EntryStatus.approved],
            "subject": f"entry:{entry_id}",
            "payload": {
                "type": EVENT_TYPES[EntryStatus.approved],
                "timestamp": datetime.now(UTC).isoformat(),
                "data": data,
            },
        }
    members = [str(m) for m in candidate.members]
    return {
        "id": str(entry_id),
        "event_id": str(event.id),
        "competition_id": str(competition.id),
        "members": members,
        "roles": [LEADER, *(MEMBER for _ in members[1:])],
        "team_name": candidate.team_name,
        "achievement_id": str(candidate.achievement_id) if candidate.achievement_id else None,
        "enterprise_id": str(enterprise_id) if enterprise_id else None,
        "locality_code": leader["locality_code"],
        "registered_by": principal.sub,
        "wanted": wanted.value,
        "approved_when_placed": wanted is EntryStatus.approved,
        "quota": quota,
        "audit": {
            "service": SERVICE,
            "actor_sub": principal.sub,
            "actor_role": principal.role.value,
            "request_id": current_request_id(),
            "action": "entry.create",
            "entity_type": "entry",
            "after": audit.redact({"event_id": str(event.id), "members": members}),
        },
        "outbox": outbox_row,
    }


def _apply_place(
    event: Event,
    competition: Competition,
    candidate: Candidate,
    item: dict[str, Any],
    row: Any,
    principal: Principal,
) -> None:
    """`candidate.entry` from take_entry_places' answer, or its failures (already entered,
    enterprise quota)."""
    quota = item["quota"]
    if row.status is None:
        for worker_id in row.clash:
            candidate.fail("one_entry_per_event", "already entered in this event", worker_id)
        if quota is not None and row.quota_used >= quota:
            candidate.fail(
                "enterprise_quota",
                f"the enterprise already has {row.quota_used} entries; the quota is {quota}",
            )
        return
    candidate.entry = Entry(
        id=uuid.UUID(item["id"]),
        competition_id=competition.id,
        event_id=event.id,
        worker_id=candidate.leader,
        team_name=candidate.team_name,
        achievement_id=candidate.achievement_id,
        enterprise_id=uuid.UUID(item["enterprise_id"]) if item["enterprise_id"] else None,
        locality_code=item["locality_code"],
        status=EntryStatus(row.status),
        status_reason=None,
        approved_when_placed=item["approved_when_placed"],
        registered_by=principal.sub,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
    candidate.waitlist_position = row.waitlist_position


def present_registered(candidate: Candidate) -> schemas.Entry:
    """The response for a new entry, from what registration already knows (no query)."""
    e = candidate.entry
    assert e is not None
    return schemas.Entry(
        id=e.id,
        competition_id=e.competition_id,
        event_id=e.event_id,
        worker_id=e.worker_id,
        team_name=e.team_name,
        achievement_id=e.achievement_id,
        members=[
            schemas.Member(worker_id=candidate.leader, role=LEADER),
            *(schemas.Member(worker_id=w, role=MEMBER) for w in sorted(candidate.members[1:])),
        ],
        enterprise_id=e.enterprise_id,
        locality_code=e.locality_code,
        status=e.status,
        status_reason=e.status_reason,
        waitlist_position=candidate.waitlist_position,
        registered_by=e.registered_by,
        version=e.version,
        created_at=e.created_at,
        updated_at=e.updated_at,
    )


def event_data(entry: Entry, competition: Competition) -> dict[str, Any]:
    """An `entry.*` webhook's data: the entry, and what subscriptions filter on (the
    competition, its organiser's locality, the entry's own locality)."""
    return {
        "entry_id": str(entry.id),
        **outbox.competition_scope(
            competition_id=competition.id,
            organiser_locality_code=competition.organiser_locality_code,
            event_id=entry.event_id,
        ),
        "locality_code": entry.locality_code,
        "worker_id": str(entry.worker_id) if entry.worker_id else None,
        "status": entry.status.value,
        "reason": entry.status_reason,
    }


def _emit(session: AsyncSession, entry: Entry, competition: Competition) -> None:
    event_type = EVENT_TYPES.get(entry.status)
    if event_type:
        outbox.emit(
            session,
            service=SERVICE,
            type=event_type,
            subject=f"entry:{entry.id}",
            data=event_data(entry, competition),
        )


def failures_problem(candidate: Candidate) -> RuleViolation:
    return RuleViolation(
        f"The entry breaks {len(candidate.failures)} eligibility rule(s): "
        + "; ".join(f.message for f in candidate.failures[:5]),
        errors=[
            FieldError(
                field="worker_id" if f.worker_id is None else f"members[{f.worker_id}]",
                message=f"{f.rule}: {f.message}",
            )
            for f in candidate.failures
        ],
        rules=[f.model_dump(mode="json") for f in candidate.failures],
    )


async def present_many(session: AsyncSession, entries: list[Entry]) -> list[schemas.Entry]:
    """Entries with their members and waitlist positions, in two queries for any number."""
    if not entries:
        return []
    ids = [e.id for e in entries]
    members: dict[uuid.UUID, list[schemas.Member]] = {}
    rows = await session.execute(
        select(EntryMember.entry_id, EntryMember.worker_id, EntryMember.role)
        .where(EntryMember.entry_id.in_(ids))
        .order_by(EntryMember.entry_id, EntryMember.role != LEADER, EntryMember.worker_id)
    )
    for entry_id, worker_id, role in rows:
        members.setdefault(entry_id, []).append(schemas.Member(worker_id=worker_id, role=role))
    waiting_events = {e.event_id for e in entries if e.status is EntryStatus.waitlisted}
    positions: dict[uuid.UUID, int] = {}
    if waiting_events:
        ranked = select(
            Entry.id,
            func.row_number()
            .over(partition_by=Entry.event_id, order_by=(Entry.created_at, Entry.id))
            .label("position"),
        ).where(Entry.event_id.in_(waiting_events), Entry.status == EntryStatus.waitlisted)
        positions = {entry_id: position for entry_id, position in await session.execute(ranked)}
    return [
        schemas.Entry(
            id=e.id,
            competition_id=e.competition_id,
            event_id=e.event_id,
            worker_id=e.worker_id,
            team_name=e.team_name,
            achievement_id=e.achievement_id,
            members=members.get(e.id, []),
            enterprise_id=e.enterprise_id,
            locality_code=e.locality_code,
            status=e.status,
            status_reason=e.status_reason,
            waitlist_position=positions.get(e.id),
            registered_by=e.registered_by,
            version=e.version,
            created_at=e.created_at,
            updated_at=e.updated_at,
        )
        for e in entries
    ]


async def present(session: AsyncSession, entry: Entry) -> schemas.Entry:
    return (await present_many(session, [entry]))[0]


async def load_entry(session: AsyncSession, entry_id: uuid.UUID) -> Entry:
    return await get_or_404(session, Entry, entry_id, "entry")


async def promote_waitlist(
    session: AsyncSession, event: Event, principal: Principal | None
) -> list[Entry]:
    """Give freed places to waitlisted entries, oldest first (the caller holds the event lock).

    A promoted entry takes the status its registration implied (`approved_when_placed`): one
    the organisers registered is approved, as it would have been with a free place (and
    `entry.approved` is sent, as for any approval); a self-registration waits for approval."""
    taken = (
        await session.scalar(
            select(func.count()).where(Entry.event_id == event.id, Entry.status.in_(HOLDING_PLACE))
        )
        or 0
    )
    free = event.capacity - taken
    if free <= 0:
        return []
    waiting = (
        await session.scalars(
            select(Entry)
            .where(Entry.event_id == event.id, Entry.status == EntryStatus.waitlisted)
            .order_by(Entry.created_at, Entry.id)
            .limit(free)
            .with_for_update()
        )
    ).all()
    for entry in waiting:
        target = EntryStatus.approved if entry.approved_when_placed else EntryStatus.pending
        entry.status = target
        entry.status_reason = "promoted from the waitlist"
        entry.version += 1
        audit.record(
            session,
            service=SERVICE,
            principal=principal,
            action="entry.promote",
            entity_type="entry",
            entity_id=entry.id,
            before={"status": "waitlisted"},
            after={"status": target.value},
        )
    await session.flush()
    if waiting:
        competition = await get_competition(session, event.competition_id)
        for entry in waiting:
            _emit(session, entry, competition)
    return list(waiting)


def _check_actor(principal: Principal, competition: Competition, entry: Entry, action: str) -> None:
    """May this caller take `action` on this entry? (Forbidden otherwise.)"""
    manager = _manages(principal, competition)
    if action == "withdraw":
        own = principal.role is Role.worker and principal.worker_id == entry.worker_id
        # The organisers who could have registered it: its competitor's enterprise or locality.
        registrar = principal.role is Role.organiser and covers(
            principal, entry.locality_code, entry.enterprise_id
        )
        if not (manager or own or registrar):
            raise Forbidden(
                "Only the competitor (or team leader), their enterprise or the "
                "organisers may withdraw an entry."
            )
    elif not manager:
        raise Forbidden(f"Only the competition's organisers may {action} entries.")


def _check_reason(action: str, reason: str | None) -> None:
    target = ACTIONS[action][1]
    if action in ("reject", "disqualify") and not reason:
        raise InvalidInput(
            f"Say why the entry is {target.value}.",
            errors=[FieldError(field="reason", message="required")],
        )


async def _transition(
    session: AsyncSession,
    entry: Entry,
    competition: Competition,
    action: str,
    reason: str | None,
    principal: Principal,
) -> bool:
    """Take `action` on a locked entry of a locked event: every check, then the change, its
    audit row and its webhook. True when the entry gave up a place the waitlist may take (the
    caller promotes, once for however many entries it changed)."""
    _check_actor(principal, competition, entry, action)
    allowed_from, target = ACTIONS[action]
    if entry.status not in allowed_from:
        possible = [a for a, (sources, _) in ACTIONS.items() if entry.status in sources]
        raise Conflict(
            f"An entry that is {entry.status.value} cannot be {target.value}; possible now: "
            f"{', '.join(possible) or 'nothing'}.",
            current_status=entry.status.value,
            allowed_actions=possible,
        )
    _check_reason(action, reason)
    if action == "check-in" and competition.status not in (
        CompetitionStatus.registration_closed,
        CompetitionStatus.in_progress,
    ):
        raise Conflict("Check-in opens when registration has closed.")
    held = entry.status in HOLDING_PLACE
    before = entry.status
    entry.status = target
    entry.status_reason = reason
    entry.version += 1
    if target in (EntryStatus.withdrawn, EntryStatus.rejected):
        await session.execute(
            update(EntryMember).where(EntryMember.entry_id == entry.id).values(active=False)
        )
    await session.flush()
    await session.refresh(entry)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action=f"entry.{action}",
        entity_type="entry",
        entity_id=entry.id,
        before={"status": before.value},
        after={"status": target.value, "reason": reason},
    )
    _emit(session, entry, competition)
    still_registering = competition.status in (
        CompetitionStatus.registration_open,
        CompetitionStatus.registration_closed,
    )
    return (
        held
        and target in (EntryStatus.withdrawn, EntryStatus.rejected, EntryStatus.disqualified)
        and still_registering
    )


async def act(
    session: AsyncSession,
    entry_id: uuid.UUID,
    action: str,
    reason: str | None,
    principal: Principal,
) -> Entry:
    entry = await load_entry(session, entry_id)
    # Lock order: event, then entry (as registration does), so the two never deadlock.
    event = await get_or_404(session, Event, entry.event_id, "event", for_update=True)
    entry = await get_or_404(session, Entry, entry_id, "entry", for_update=True)
    competition = await get_competition(session, entry.competition_id)
    if await _transition(session, entry, competition, action, reason, principal):
        await promote_waitlist(session, event, principal)
    return entry


#: Refusals of one item of a bulk action, by the error the single action would answer.
BULK_OUTCOMES: tuple[tuple[type[DomainError], schemas.BulkOutcomeKind], ...] = (
    (NotFound, "not_found"),
    (Forbidden, "forbidden"),
    (PreconditionFailed, "stale"),
    (Conflict, "wrong_state"),
)


async def act_many(
    session: AsyncSession,
    event_id: uuid.UUID,
    action: str,
    data: schemas.BulkAction,
    principal: Principal,
) -> schemas.BulkOutcome:
    """Take `action` on many entries of one event in one transaction, each exactly as the
    single action would (the same checks, audit rows and webhooks), each item's outcome
    reported; a refused item changes nothing and does not stop the others. Places freed go to
    the waitlist once, after all the items."""
    _check_reason(action, data.reason)
    seen: set[uuid.UUID] = set()
    twice = []
    for i, item in enumerate(data.items):
        if item.entry_id in seen:
            twice.append(FieldError(field=f"items[{i}].entry_id", message="given twice"))
        seen.add(item.entry_id)
    if twice:
        raise InvalidInput("An entry is given twice; give each once.", errors=twice)
    # Lock order as in `act` and registration: the event, then its entries (by id, so that two
    # bulk actions on overlapping entries cannot deadlock either).
    event = await get_or_404(session, Event, event_id, "event", for_update=True)
    competition = await get_competition(session, event.competition_id)
    ids = [item.entry_id for item in data.items]
    found = {
        e.id: e
        for e in await session.scalars(
            select(Entry)
            .where(Entry.id.in_(ids), Entry.event_id == event.id)
            .order_by(Entry.id)
            .with_for_update()
        )
    }
    target = ACTIONS[action][1]
    outcomes: list[schemas.BulkItemOutcome] = []
    freed = False
    for item in data.items:
        entry = found.get(item.entry_id)
        try:
            if entry is None:
                raise NotFound(f"No entry with id {item.entry_id} in event {event.id}.")
            _check_actor(principal, competition, entry, action)
            if entry.status is target:
                # Already done (a retried request, whose versions are now old): nothing to do,
                # nothing sent again.
                outcomes.append(_outcome(item.entry_id, "unchanged", entry))
                continue
            if item.version is not None and item.version != entry.version:
                raise PreconditionFailed(
                    f"The entry has changed (now version {entry.version}); read it again.",
                )
            freed |= await _transition(session, entry, competition, action, data.reason, principal)
            outcomes.append(_outcome(item.entry_id, "ok", entry))
        except DomainError as exc:
            kind: schemas.BulkOutcomeKind = next(
                (k for cls, k in BULK_OUTCOMES if isinstance(exc, cls)), "invalid"
            )
            outcomes.append(_outcome(item.entry_id, kind, entry, exc))
    promoted = await promote_waitlist(session, event, principal) if freed else []
    return schemas.BulkOutcome(
        action=action,
        ok=sum(o.outcome == "ok" for o in outcomes),
        unchanged=sum(o.outcome == "unchanged" for o in outcomes),
        refused=sum(o.outcome not in ("ok", "unchanged") for o in outcomes),
        items=outcomes,
        promoted=[schemas.Promoted(entry_id=e.id, status=e.status) for e in promoted],
    )


def _outcome(
    entry_id: uuid.UUID,
    kind: schemas.BulkOutcomeKind,
    entry: Entry | None,
    error: DomainError | None = None,
) -> schemas.BulkItemOutcome:
    # A refused item shows its current state only to a caller who may act on it (a forbidden
    # entry's status is not the caller's to read).
    shown = entry is not None and kind != "forbidden"
    return schemas.BulkItemOutcome(
        entry_id=entry_id,
        outcome=kind,
        status=entry.status if shown and entry else None,
        version=entry.version if shown and entry else None,
        detail=error.detail if error else None,
        allowed_actions=error.extra.get("allowed_actions") if error else None,
    )


async def list_entries(
    session: AsyncSession,
    event_id: uuid.UUID,
    principal: Principal,
    *,
    status: EntryStatus | None,
    enterprise_id: uuid.UUID | None,
    locality_code: str | None,
    limit: int,
    cursor: str | None,
) -> Page[schemas.Entry]:
    event = await get_or_404(session, Event, event_id, "event")
    competition = await get_competition(session, event.competition_id)
    stmt = select(Entry).where(Entry.event_id == event_id)
    if not _manages(principal, competition):
        if principal.role not in (Role.organiser, Role.worker) and not reads_all(principal):
            raise Forbidden("Only the organisers see every entry of an event.")
        # Others see the entries of their own people (an organiser's scope, a worker's own).
        stmt = stmt.where(EntryScope(principal).clause())
    if status:
        stmt = stmt.where(Entry.status == status)
    if enterprise_id:
        stmt = stmt.where(Entry.enterprise_id == enterprise_id)
    if locality_code:
        stmt = stmt.where(locality_clause(locality_code, Entry.locality_code))
    rows, next_cursor = await keyset_rows(
        session,
        stmt,
        order_by=[Entry.created_at, Entry.id],
        limit=limit,
        cursor=cursor,
        key=lambda r: (r[0].created_at, r[0].id),
    )
    return Page[schemas.Entry](
        items=await present_many(session, [r[0] for r in rows]), next_cursor=next_cursor
    )


ID_COLUMNS = {"id_number", "身份证号", "身份证号码", "公民身份号码"}
#: The shape of a resident identity number (GB 11643): anything else is refused on its row
#: without asking the registry (which would refuse the whole batch for one NUL).
ID_NUMBER_SHAPE = re.compile(r"\d{17}[\dX]")


@dataclass(frozen=True)
class SheetRow:
    """One data row of a registration spreadsheet: its identity number, or why it has none."""

    row: int
    id_number: str
    problem: schemas.RuleFailure | None = None


def read_id_sheet(
    filename: str, content: bytes, limits: TableLimits, max_rows: int
) -> list[SheetRow]:
    """The identity-number column of a spreadsheet, row by row (CPU work: run it in a thread).
    A row that cannot be read, or whose cell is not an identity number, carries its problem;
    a file that cannot be read at all, or has no such column, is a 422."""
    try:
        rows = read_rows(filename, content, limits)
        header = next(rows, None)
        if isinstance(header, UnreadableRow) or not header:
            header = []
        column = next((i for i, h in enumerate(header) if h.lower() in ID_COLUMNS), None)
        if column is None:
            raise InvalidInput(
                "The first row must name an identity-number column (身份证号 or id_number).",
                errors=[FieldError(field="file", message="no 身份证号 column")],
            )
        out: list[SheetRow] = []
        for number, cells in enumerate(rows, start=2):
            if isinstance(cells, UnreadableRow):
                out.append(SheetRow(number, "", _unreadable(cells.reason)))
            elif any(cells):
                out.append(_sheet_row(number, cells[column] if column < len(cells) else "", limits))
            if len(out) > max_rows:
                raise InvalidInput(
                    f"At most {max_rows} rows per file.",
                    errors=[FieldError(field="file", message="too many rows")],
                )
    except TableProblem as exc:
        raise InvalidInput(str(exc), errors=[FieldError(field="file", message=str(exc))]) from exc
    return out


def _unreadable(reason: str) -> schemas.RuleFailure:
    return schemas.RuleFailure(rule="row_readable", message=f"this row cannot be read: {reason}")


def _sheet_row(number: int, cell: str, limits: TableLimits) -> SheetRow:
    if (problem := cell_problem(cell, limits)) is not None:
        return SheetRow(number, "", _unreadable(f"the identity number {problem}"))
    id_number = cell.strip().upper()
    if not ID_NUMBER_SHAPE.fullmatch(id_number):
        return SheetRow(
            number,
            "",
            schemas.RuleFailure(
                rule="id_number_valid",
                message="not an identity number (18 characters: 17 digits, then a digit or X)",
            ),
        )
    return SheetRow(number, id_number)


async def import_entries(
    session: AsyncSession,
    registry: RegistryClient,
    token: str,
    event_id: uuid.UUID,
    rows: list[SheetRow],
    principal: Principal,
) -> schemas.ImportReport:
    """Register one worker per spreadsheet row (individual events), each row reported."""
    event = await get_or_404(session, Event, event_id, "event")
    if event.mode is not EventMode.individual:
        raise Conflict(
            "Spreadsheet registration is for individual events; register teams one by one."
        )
    # Each number asked once (a sheet may repeat one; the repeat is then refused as entered).
    # Looked up with the caller's own token, so the registry applies the caller's scope: a
    # number outside it comes back null, exactly like a number nobody has.
    numbers = list(dict.fromkeys(r.id_number for r in rows if r.problem is None))
    caller_token = principal.token or token
    found = dict(
        zip(numbers, await registry.lookup_id_numbers(numbers, token=caller_token), strict=True)
        if numbers
        else []
    )
    report: dict[int, schemas.ImportRow] = {}
    candidates = []
    for sheet_row in rows:
        row = sheet_row.row
        worker_id = found.get(sheet_row.id_number) if sheet_row.problem is None else None
        if sheet_row.problem is not None:
            report[row] = schemas.ImportRow(
                row_number=row, status="refused", failures=[sheet_row.problem]
            )
        elif worker_id is None:
            report[row] = schemas.ImportRow(
                row_number=row,
                status="refused",
                failures=[
                    schemas.RuleFailure(
                        rule="worker_exists",
                        message="no registered worker has this identity number",
                    )
                ],
            )
        else:
            candidates.append(Candidate(members=[worker_id], row=row))
    if candidates:
        _, done = await register(
            same_session(session), registry, token, event_id, candidates, principal
        )
        for candidate in done:
            assert candidate.row is not None
            if candidate.entry is None:
                report[candidate.row] = schemas.ImportRow(
                    row_number=candidate.row, status="refused", failures=candidate.failures
                )
            else:
                waiting = candidate.entry.status is EntryStatus.waitlisted
                report[candidate.row] = schemas.ImportRow(
                    row_number=candidate.row,
                    status="waitlisted" if waiting else "created",
                    entry_id=candidate.entry.id,
                )
    ordered = [report[r.row] for r in rows]
    return schemas.ImportReport(
        created=sum(r.status == "created" for r in ordered),
        waitlisted=sum(r.status == "waitlisted" for r in ordered),
        refused=sum(r.status == "refused" for r in ordered),
        rows=ordered,
    )


async def batch_get(
    session: AsyncSession, ids: list[uuid.UUID], scope: EntryScope
) -> list[schemas.Entry]:
    """The entries the caller may see among `ids`; the others are left out exactly like ids
    that do not exist."""
    entries = (await session.scalars(select(Entry).where(Entry.id.in_(ids), scope.clause()))).all()
    return await present_many(session, list(entries))


async def admit(
    session: AsyncSession,
    registry: RegistryClient,
    token: str,
    event: Event,
    competition: Competition,
    worker_id: uuid.UUID,
    principal: Principal,
) -> Entry:
    """An approved entry for a worker the event's pathway places (an accepted nomination, a
    direct place), whatever the registration window: the event's eligibility rules are still
    checked against the registry, and any failure is a 422 naming each failed rule (the
    caller's transaction then writes nothing). A full event is a 409: a placed worker does not
    wait on the waitlist."""
    candidate = Candidate(members=[worker_id])
    facts, missing = await fetch_facts(registry, token, [candidate])
    evaluate(event, competition, candidate, facts, missing)
    if candidate.failures:
        raise failures_problem(candidate)
    item = _place_item(event, competition, candidate, True, facts[worker_id], principal)
    [row] = await take_places(session, [item])
    _apply_place(event, competition, candidate, item, row, principal)
    if candidate.entry is None:
        raise failures_problem(candidate)
    if candidate.entry.status is EntryStatus.waitlisted:
        raise Conflict(
            f"The event is full ({event.capacity} places): raise its capacity first.",
            errors=[FieldError(field="capacity", message="no place left")],
        )
    return candidate.entry
