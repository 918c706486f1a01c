"""Who may manage what in the judging service (shared by its domain areas).

`covers` (re-exported from `shared.scope`) is the one organiser-scope rule of every service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from services.judging.upstream import StageInfo, UpstreamDep
from shared.auth.deps import AdminOrOrganiser
from shared.auth.principal import Principal, Role
from shared.errors import Forbidden, NotFound
from shared.models.competitions import CompetitionLevel, StageStatus
from shared.models.judging import Judge
from shared.scope import covers, describe, scope_loader

__all__ = [
    "EventInfo",
    "ManagedEvent",
    "ManagedStage",
    "check_judge_manager",
    "check_judge_reader",
    "check_stage_manager",
    "covers",
    "is_internal",
    "is_own",
    "reveal",
]


def is_own(principal: Principal, judge: Judge) -> bool:
    return principal.role is Role.judge and judge.account_sub == principal.sub


def check_judge_manager(principal: Principal, judge: Judge) -> None:
    if not covers(principal, judge.locality_code, judge.enterprise_id):
        raise Forbidden(
            f"Your scope ({_scope(principal)}) does not cover judges of locality "
            f"{judge.locality_code}."
        )


def check_judge_reader(principal: Principal, judge: Judge) -> None:
    """Managers of the judge, and the judge themselves."""
    if is_own(principal, judge):
        return
    if principal.role is Role.judge:
        raise Forbidden("A judge may read only their own record.")
    check_judge_manager(principal, judge)


def is_internal(principal: Principal) -> bool:
    return principal.role is Role.integration and principal.has_scope("internal")


def check_stage_manager(principal: Principal, stage: StageInfo, *, service: bool = False) -> None:
    """Admins and organisers covering the stage's competition (and, where `service`, our own
    services)."""
    if service and is_internal(principal):
        return
    if principal.role in (Role.admin, Role.organiser) and covers(
        principal, stage.organiser_locality_code, stage.organiser_enterprise_id
    ):
        return
    raise Forbidden(
        f"Your scope ({_scope(principal)}) does not cover the competition of stage {stage.id}."
    )


_scope = describe


@scope_loader("stage")
async def _managed_stage(
    upstream: UpstreamDep, principal: AdminOrOrganiser, stage_id: uuid.UUID
) -> StageInfo:
    """The stage, for admins and the organisers covering its competition (404, 403 otherwise)."""
    stage = await upstream.stage(stage_id)
    check_stage_manager(principal, stage)
    return stage


#: A route's `stage_id`, resolved and checked for a manager of its competition.
ManagedStage = Annotated[StageInfo, Depends(_managed_stage)]


@dataclass(frozen=True)
class EventInfo:
    """An event of a competition, with what judging needs of the competition."""

    id: uuid.UUID
    name: str
    occupation: str
    competition_id: uuid.UUID
    competition_name: str
    level: CompetitionLevel
    year: int
    organiser_locality_code: str
    organiser_enterprise_id: uuid.UUID | None


@scope_loader("event")
async def _managed_event(
    upstream: UpstreamDep, principal: AdminOrOrganiser, event_id: uuid.UUID
) -> EventInfo:
    """The event, for admins and the organisers covering its competition (404, 403
    otherwise)."""
    token = await upstream.token()
    event = await upstream.competitions.get_event(str(event_id), token=token)
    if event is None:
        raise NotFound(f"No event with id {event_id}.")
    competition = await upstream.competitions.get_competition(event["competition_id"], token=token)
    if competition is None:
        raise NotFound(f"No event with id {event_id}.")
    enterprise = competition.get("organiser_enterprise_id")
    info = EventInfo(
        id=event_id,
        name=event["name"],
        occupation=event["occupation"],
        competition_id=uuid.UUID(competition["id"]),
        competition_name=competition["name"],
        level=CompetitionLevel(competition["level"]),
        year=int(competition["year"]),
        organiser_locality_code=competition["organiser_locality_code"],
        organiser_enterprise_id=uuid.UUID(enterprise) if enterprise else None,
    )
    if not covers(principal, info.organiser_locality_code, info.organiser_enterprise_id):
        raise Forbidden(
            f"Your scope ({_scope(principal)}) does not cover the competition of event {event_id}."
        )
    return info


#: A route's `event_id`, resolved and checked for a manager of its competition.
ManagedEvent = Annotated[EventInfo, Depends(_managed_event)]


def reveal(principal: Principal, stage: StageInfo) -> bool:
    """As the competitions service: entries behind blind codes only for admins and our services
    until the stage is judged."""
    return (
        principal.role is Role.admin
        or is_internal(principal)
        or stage.status in (StageStatus.judged, StageStatus.advanced)
    )
