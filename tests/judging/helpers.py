"""Set-ups shared by the judging tests: registry workers and mentorships, a competition stage
with entries (inserted directly into the neighbouring services' tables), accounts and judges."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select

from shared.models.competitions import CompetitionLevel
from shared.models.infra import AuditLog
from shared.models.registry import Enterprise, Worker
from shared.models.registry.mentoring import Mentorship, MentorshipKind, MentorshipStatus
from tests.conftest import Services, bearer, create_account, get_token
from tests.factories import make_competition, make_enterprise, make_entry, make_event, make_worker

COMPONENTS = [
    {"component": "theory", "weight": 30},
    {"component": "practical", "weight": 70},
]


async def enterprise(services: Services, locality_code: str = "370100") -> Enterprise:
    async with services.apps["registry"].state.sessionmaker() as s, s.begin():
        return await make_enterprise(s, locality_code=locality_code)


async def worker(services: Services, **overrides: Any) -> Worker:
    app = services.apps["registry"]
    async with app.state.sessionmaker() as s, s.begin():
        return await make_worker(s, app.state.cipher, **overrides)


async def mentorship(
    services: Services, mentor: uuid.UUID, apprentice: uuid.UUID, status: MentorshipStatus
) -> None:
    async with services.apps["registry"].state.sessionmaker() as s, s.begin():
        s.add(
            Mentorship(
                mentor_id=mentor,
                apprentice_id=apprentice,
                kind=MentorshipKind.master_apprentice,
                goals="掌握数控车床编程",
                planned_start_date=date(2025, 1, 1),
                planned_end_date=date(2025, 12, 31),
                status=status,
            )
        )


@dataclass
class StageSetup:
    stage_id: uuid.UUID
    competition_id: uuid.UUID
    event_id: uuid.UUID
    #: Entry ids in the order given.
    entries: list[uuid.UUID] = field(default_factory=list)


async def stage_with_entries(
    services: Services,
    admin_headers: dict[str, str],
    entries: list[dict[str, Any]] = (),  # type: ignore[assignment]  # read-only default
    *,
    level: CompetitionLevel = CompetitionLevel.provincial,
    organiser_locality_code: str = "370000",
    components: list[dict[str, Any]] | None = None,
) -> StageSetup:
    """A competition of `level` with one event (数控车工), the entries (make_entry overrides)
    approved, and one stage seeded with them (through the competitions API)."""
    async with services.apps["competitions"].state.sessionmaker() as s, s.begin():
        competition = await make_competition(
            s, level=level, organiser_locality_code=organiser_locality_code
        )
        event = await make_event(s, competition)
        ids = [(await make_entry(s, event, **e)).id for e in entries]
    response = await services.competitions.post(
        f"/v1/events/{event.id}/stages",
        json={"name": "决赛", "seq": 1, "components": components or COMPONENTS},
        headers=admin_headers,
    )
    assert response.status_code == 201, response.text
    stage_id = uuid.UUID(response.json()["id"])
    if ids:
        seeded = await services.competitions.post(
            f"/v1/stages/{stage_id}/entries:seed", headers=admin_headers
        )
        assert seeded.status_code == 200, seeded.text
        codes = await services.competitions.post(
            f"/v1/stages/{stage_id}/blind-codes", headers=admin_headers
        )
        assert codes.status_code == 200, codes.text
    return StageSetup(stage_id, competition.id, event.id, ids)


async def login(services: Services, username: str, role: str, **scope: Any) -> dict[str, str]:
    await create_account(services, username, role, **scope)
    return bearer(await get_token(services, username))


async def sub_of(services: Services, headers: dict[str, str]) -> str:
    response = await services.judging.get("/v1/me", headers=headers)
    assert response.status_code == 200, response.text
    sub: str = response.json()["sub"]
    return sub


EXPERT: dict[str, Any] = {
    "kind": "expert",
    "name": "刘海峰",
    "employer_name": "山东大学机械工程学院",
    "locality_code": "370100",
    "occupations": ["数控车工"],
    "qualification": "provincial_judge",
}


async def create_judge(
    services: Services, headers: dict[str, str], **overrides: Any
) -> dict[str, Any]:
    body = {**EXPERT, **overrides}
    response = await services.judging.post("/v1/judges", json=body, headers=headers)
    assert response.status_code == 201, response.text
    judge: dict[str, Any] = response.json()
    return judge


async def audit_count(services: Services, action: str) -> int:
    async with services.apps["judging"].state.sessionmaker() as s:
        return int(
            await s.scalar(
                select(func.count()).select_from(AuditLog).where(AuditLog.action == action)
            )
            or 0
        )


@dataclass
class Panel:
    """A stage with entries, judges (each with an account) and, optionally, a marking scheme."""

    stage: StageSetup
    #: Judge records, in creation order.
    judges: list[dict[str, Any]]
    #: Headers of each judge's account, same order.
    headers: list[dict[str, str]]
    usernames: list[str]
    #: entry id -> blind code
    codes: dict[uuid.UUID, str] = field(default_factory=dict)

    @property
    def stage_id(self) -> uuid.UUID:
        return self.stage.stage_id


async def panel(
    services: Services,
    admin_headers: dict[str, str],
    *,
    entries: int,
    judges: int,
    entry_locality: str = "370300",
    judge_localities: list[str] | None = None,
    scheme: dict[str, Any] | None = None,
) -> Panel:
    """`entries` entries (from `entry_locality`) and `judges` expert judges of 数控车工 (from
    Jinan unless `judge_localities`), each linked to a judge account; a scheme when given."""
    stage = await stage_with_entries(
        services,
        admin_headers,
        [{"locality_code": entry_locality} for _ in range(entries)],
        organiser_locality_code="370100",
    )
    records, headers, names = [], [], []
    for i in range(judges):
        name = f"judge{i}.{uuid.uuid4().hex[:6]}"
        h = await login(services, name, "judge")
        locality = (judge_localities or [])[i] if judge_localities else "370100"
        records.append(
            await create_judge(
                services,
                admin_headers,
                name=f"评委{i}",
                locality_code=locality,
                account_sub=await sub_of(services, h),
            )
        )
        headers.append(h)
        names.append(name)
    mapping = await services.competitions.get(
        f"/v1/stages/{stage.stage_id}/blind-codes:mapping", headers=admin_headers
    )
    assert mapping.status_code == 200, mapping.text
    codes = {uuid.UUID(m["entry_id"]): m["blind_code"] for m in mapping.json()}
    if scheme is not None:
        saved = await services.judging.post(
            f"/v1/stages/{stage.stage_id}/marking-schemes", json=scheme, headers=admin_headers
        )
        assert saved.status_code == 201, saved.text
    return Panel(stage, records, headers, names, codes)


async def declare(
    services: Services, admin_headers: dict[str, str], judge_id: str, entry_id: uuid.UUID
) -> None:
    response = await services.judging.post(
        f"/v1/judges/{judge_id}/declared-conflicts",
        json={"entry_id": str(entry_id), "reason": "选手系评委亲属"},
        headers=admin_headers,
    )
    assert response.status_code == 201, response.text


async def solve(
    services: Services, headers: dict[str, str], stage_id: uuid.UUID, **body: Any
) -> Any:
    return await services.judging.post(
        f"/v1/stages/{stage_id}/assignments:solve", json=body, headers=headers
    )


async def all_assignments(
    services: Services, headers: dict[str, str], stage_id: uuid.UUID
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 200}
        if cursor:
            params["cursor"] = cursor
        response = await services.judging.get(
            f"/v1/stages/{stage_id}/assignments", params=params, headers=headers
        )
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        cursor = response.json()["next_cursor"]
        if not cursor:
            return items
