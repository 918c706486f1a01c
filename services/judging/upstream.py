"""What the judging service reads from the other services, over HTTP only (DESIGN.md section 2).

`Upstream` bundles the typed clients and this service's own machine token: stage, event and
competition facts, the entries behind a stage's blind codes, workers and mentorships are read on
the service's own behalf (scope `internal`), whoever triggered the request.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from shared import outbox
from shared.clients import CompetitionsClient, RegistryClient
from shared.clients.service_token import ServiceToken
from shared.errors import DownstreamError, NotFound
from shared.models.competitions import CompetitionLevel, StageStatus


@dataclass(frozen=True)
class StageInfo:
    id: uuid.UUID
    name: str
    status: StageStatus
    components: list[dict[str, Any]]
    event_id: uuid.UUID
    occupation: str
    competition_id: uuid.UUID
    level: CompetitionLevel
    organiser_locality_code: str
    organiser_enterprise_id: uuid.UUID | None
    #: The competition's kind and year (talent files show results by level and year;
    #: statistics group finalists and winners by both).
    competition_kind: str = ""
    year: int | None = None

    def scope(self) -> dict[str, str]:
        """What webhook subscriptions filter on, for the data of an event about this stage."""
        return outbox.competition_scope(
            competition_id=self.competition_id,
            organiser_locality_code=self.organiser_locality_code,
            event_id=self.event_id,
            stage_id=self.id,
        )


@dataclass(frozen=True)
class EntryFacts:
    """One entry of a stage as conflict checks need it."""

    stage_entry_id: uuid.UUID
    entry_id: uuid.UUID
    blind_code: str | None
    locality_code: str
    worker_ids: frozenset[uuid.UUID]
    enterprise_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)


@dataclass
class Upstream:
    competitions: CompetitionsClient
    registry: RegistryClient
    service_token: ServiceToken
    local_conflict_levels: frozenset[CompetitionLevel]
    #: {stage_id: (monotonic time read, stage)}, shared by the requests of one app.
    stage_cache: dict[uuid.UUID, tuple[float, StageInfo]] = field(default_factory=dict)
    stage_locks: dict[uuid.UUID, asyncio.Lock] = field(default_factory=dict)

    async def token(self) -> str:
        token: str = await self.service_token.get()
        return token

    async def stage(self, stage_id: uuid.UUID, *, max_age: float | None = None) -> StageInfo:
        """The stage with its event and competition, or 404 naming the stage.

        With `max_age`, a copy read by this app at most that many seconds ago may answer: for
        the hot paths (a judge's marks) that need only what does not change while a stage is
        judged (level, occupation, organiser), never its status."""
        if max_age is None:
            info = await self._stage(stage_id)
            self.stage_cache[stage_id] = (time.monotonic(), info)
            return info
        cached = self.stage_cache.get(stage_id)
        if cached is not None and time.monotonic() - cached[0] <= max_age:
            return cached[1]
        # One read per stage at a time: a burst of judges must not become a burst of calls.
        async with self.stage_locks.setdefault(stage_id, asyncio.Lock()):
            cached = self.stage_cache.get(stage_id)
            if cached is not None and time.monotonic() - cached[0] <= max_age:
                return cached[1]
            info = await self._stage(stage_id)
            self.stage_cache[stage_id] = (time.monotonic(), info)
            return info

    async def _stage(self, stage_id: uuid.UUID) -> StageInfo:
        token = await self.token()
        stage = await self.competitions.get_stage(str(stage_id), token=token)
        if stage is None:
            raise NotFound(f"No stage with id {stage_id}.")
        event = await self.competitions.get_event(stage["event_id"], token=token)
        competition = await self.competitions.get_competition(stage["competition_id"], token=token)
        if event is None or competition is None:
            raise DownstreamError(
                f"The competitions service lost the event or competition of stage {stage_id}.",
                status=502,
                service="competitions",
            )
        enterprise = competition.get("organiser_enterprise_id")
        return StageInfo(
            id=stage_id,
            name=stage["name"],
            status=StageStatus(stage["status"]),
            components=[
                {"component": c["component"], "weight": c["weight"]} for c in stage["components"]
            ],
            event_id=uuid.UUID(stage["event_id"]),
            occupation=event["occupation"],
            competition_id=uuid.UUID(stage["competition_id"]),
            level=CompetitionLevel(competition["level"]),
            organiser_locality_code=competition["organiser_locality_code"],
            organiser_enterprise_id=uuid.UUID(enterprise) if enterprise else None,
            competition_kind=competition["kind"],
            year=competition.get("year"),
        )

    async def stage_entries(self, stage_id: uuid.UUID) -> list[EntryFacts]:
        """Every entry of the stage with its members, their enterprises and its locality: three
        batched calls whatever the size of the stage."""
        token = await self.token()
        rows = await self.competitions.list_stage_entries(str(stage_id), token=token)
        ids = [r["entry_id"] for r in rows if r.get("entry_id")]
        if len(ids) != len(rows):
            raise DownstreamError(
                "The competitions service hid the entries of the stage from this service.",
                status=502,
                service="competitions",
            )
        entries = await self.competitions.batch_get_entries(ids, token=token) if ids else {}
        members: dict[str, set[uuid.UUID]] = {}
        for entry_id, entry in entries.items():
            ids_ = {uuid.UUID(m["worker_id"]) for m in entry.get("members", [])}
            if entry.get("worker_id"):
                ids_.add(uuid.UUID(entry["worker_id"]))
            members[entry_id] = ids_
        all_workers = sorted({w for ws in members.values() for w in ws})
        workers, _ = (
            await self.registry.batch_get_workers(all_workers, token=token)
            if all_workers
            else ({}, [])
        )
        out = []
        for row in rows:
            if row["entry_id"] not in entries:
                continue
            entry = entries[row["entry_id"]]
            worker_ids = members[row["entry_id"]]
            enterprises = {
                uuid.UUID(w["enterprise_id"])
                for wid in worker_ids
                if (w := workers.get(wid)) and w.get("enterprise_id")
            }
            if entry.get("enterprise_id"):
                enterprises.add(uuid.UUID(entry["enterprise_id"]))
            out.append(
                EntryFacts(
                    stage_entry_id=uuid.UUID(row["id"]),
                    entry_id=uuid.UUID(row["entry_id"]),
                    blind_code=row.get("blind_code"),
                    locality_code=entry["locality_code"],
                    worker_ids=frozenset(worker_ids),
                    enterprise_ids=frozenset(enterprises),
                )
            )
        return out

    async def entry_by_blind_code(self, stage_id: uuid.UUID, code: str) -> uuid.UUID | None:
        """The entry behind a blind code of the stage (None when no entry has it)."""
        rows = await self.competitions.list_stage_entries(str(stage_id), token=await self.token())
        for row in rows:
            if row.get("blind_code") == code and row.get("entry_id"):
                return uuid.UUID(row["entry_id"])
        return None

    async def relations(self, worker_id: uuid.UUID) -> dict[uuid.UUID, tuple[str, str]]:
        """The workers a judge mentors or mentored (value `mentor`) and was mentored by
        (`apprentice`), from active or completed mentorships: {worker: (role, status)}."""
        token = await self.token()
        out: dict[uuid.UUID, tuple[str, str]] = {}
        # Both directions at once: one registry round trip of waiting instead of two.
        mentees, mentors = await asyncio.gather(
            self.registry.list_mentorships(token=token, mentor_id=worker_id),
            self.registry.list_mentorships(token=token, apprentice_id=worker_id),
        )
        for m in mentees:
            if m["status"] in ("active", "completed"):
                out[uuid.UUID(m["apprentice"]["id"])] = ("mentor", m["status"])
        for m in mentors:
            if m["status"] in ("active", "completed"):
                out[uuid.UUID(m["mentor"]["id"])] = ("apprentice", m["status"])
        return out

    async def workers(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
        found, _ = await self.registry.batch_get_workers(ids, token=await self.token())
        return found

    async def entries(self, ids: list[uuid.UUID]) -> dict[str, dict[str, Any]]:
        return await self.competitions.batch_get_entries(
            [str(i) for i in ids], token=await self.token()
        )

    async def locality_exists(self, code: str) -> bool:
        return await self.registry.get_locality(code, token=await self.token()) is not None


def upstream_for(app: Any) -> Upstream:
    """The app's clients and machine token, for requests and for the app's own loops."""
    settings = app.state.settings
    return Upstream(
        competitions=app.state.clients.competitions,
        registry=app.state.clients.registry,
        service_token=app.state.service_token,
        local_conflict_levels=frozenset(settings.judge_local_conflict_levels),
        stage_cache=_app_dict(app, "stage_cache"),
        stage_locks=_app_dict(app, "stage_locks"),
    )


async def get_upstream(request: Request) -> Upstream:
    # async: a plain `def` dependency would run in FastAPI's thread pool, a thread hop per
    # request for a few attribute reads.
    return upstream_for(request.app)


def _app_dict(app: Any, name: str) -> Any:
    """A dict kept on the app (one per process), created on first use."""
    found = getattr(app.state, name, None)
    if found is None:
        found = {}
        setattr(app.state, name, found)
    return found


UpstreamDep = Annotated[Upstream, Depends(get_upstream)]
