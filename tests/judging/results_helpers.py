"""Set-ups for the results tests: a stage with a two-aspect scheme (theory: one measurement
aspect of 30; practical: one aspect of 70, measurement or judgement), and locked scores seeded
straight into the judging tables (the computation tests need exact marks from many judges; the
appeal test goes through the score endpoints instead)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from shared.models.judging import Judge, JudgeKind, QualificationLevel, Score, StageScoreLock
from tests.conftest import Services
from tests.judging.helpers import stage_with_entries

DESCRIPTORS = ["不合格", "基本达到", "达到要求", "优秀"]


def two_aspect_scheme(practical: str = "judgement") -> dict[str, Any]:
    practical_aspect: dict[str, Any] = {
        "description": "零件加工质量",
        "component": "practical",
        "type": practical,
        "max_mark": 70,
    }
    if practical == "judgement":
        practical_aspect["descriptors"] = DESCRIPTORS
    return {
        "title": "数控车工决赛评分标准",
        "components": [
            {"component": "theory", "weight": 30},
            {"component": "practical", "weight": 70},
        ],
        "criteria": [
            {
                "name": "理论知识",
                "sub_criteria": [
                    {
                        "name": "理论考试",
                        "aspects": [
                            {
                                "description": "理论试卷得分",
                                "component": "theory",
                                "type": "measurement",
                                "max_mark": 30,
                            }
                        ],
                    }
                ],
            },
            {"name": "实操", "sub_criteria": [{"name": "加工", "aspects": [practical_aspect]}]},
        ],
    }


@dataclass
class Seeded:
    stage_id: uuid.UUID
    #: In the order of the given entries: (stage entry id, entry id, blind code).
    entries: list[tuple[uuid.UUID, uuid.UUID, str]]
    theory: uuid.UUID  # aspect ids
    practical: uuid.UUID
    judges: list[uuid.UUID]

    def code(self, i: int) -> str:
        return self.entries[i][2]


async def seeded_stage(
    services: Services,
    admin_headers: dict[str, str],
    marks: Sequence[Sequence[tuple[float, float]]],
    *,
    practical: str = "judgement",
    workers: list[uuid.UUID] | None = None,
) -> Seeded:
    """marks[entry][judge] = (theory mark, practical value); every score locked, the panel
    locked and the stage marked judged in competitions."""
    n_judges = len(marks[0])
    setup = await stage_with_entries(
        services,
        admin_headers,
        [{"worker_id": w} for w in workers] if workers else [{} for _ in marks],
        organiser_locality_code="370100",
    )
    stage_id = setup.stage_id
    saved = await services.judging.post(
        f"/v1/stages/{stage_id}/marking-schemes",
        json=two_aspect_scheme(practical),
        headers=admin_headers,
    )
    assert saved.status_code == 201, saved.text
    scheme = saved.json()
    theory = uuid.UUID(scheme["criteria"][0]["sub_criteria"][0]["aspects"][0]["id"])
    practical_id = uuid.UUID(scheme["criteria"][1]["sub_criteria"][0]["aspects"][0]["id"])
    listed = await services.competitions.get(
        f"/v1/stages/{stage_id}/stage-entries", params={"limit": 200}, headers=admin_headers
    )
    assert listed.status_code == 200, listed.text
    by_entry = {
        uuid.UUID(r["entry_id"]): (uuid.UUID(r["id"]), r["blind_code"])
        for r in listed.json()["items"]
    }
    entries = [(by_entry[e][0], e, by_entry[e][1]) for e in setup.entries]
    now = datetime.now(UTC)
    async with services.apps["judging"].state.sessionmaker() as s, s.begin():
        judges = [
            Judge(
                id=uuid.uuid4(),
                kind=JudgeKind.expert,
                name=f"评委{j}",
                employer_name="山东大学",
                locality_code="370100",
                occupations=["数控车工"],
                qualification=QualificationLevel.provincial_judge,
                created_by="test",
            )
            for j in range(n_judges)
        ]
        s.add_all(judges)
        await s.flush()
        for (stage_entry_id, entry_id, code), per_judge in zip(entries, marks, strict=True):
            for judge, (t, p) in zip(judges, per_judge, strict=True):
                for aspect, value in ((theory, t), (practical_id, p)):
                    s.add(
                        Score(
                            stage_id=stage_id,
                            stage_entry_id=stage_entry_id,
                            entry_id=entry_id,
                            blind_code=code,
                            judge_id=judge.id,
                            aspect_id=aspect,
                            scheme_id=uuid.UUID(scheme["id"]),
                            value=value,
                            submitted_at=now,
                            locked_at=now,
                        )
                    )
        s.add(StageScoreLock(stage_id=stage_id, locked_by="test", reason="organiser"))
    locked = await services.competitions.post(f"/v1/stages/{stage_id}/lock", headers=admin_headers)
    assert locked.status_code == 200, locked.text
    return Seeded(stage_id, entries, theory, practical_id, [j.id for j in judges])


async def close_appeal_window(services: Services, stage_id: uuid.UUID) -> None:
    """Time travel: the provisional version's appeal deadline moves into the past."""
    async with services.apps["judging"].state.sessionmaker() as s, s.begin():
        await s.execute(
            text(
                "UPDATE stage_results SET appeal_deadline = now() - interval '1 minute' "
                "WHERE stage_id = :s AND status = 'provisional'"
            ),
            {"s": stage_id},
        )


async def put_rules(
    services: Services, headers: dict[str, str], stage_id: uuid.UUID, **rules: Any
) -> dict[str, Any]:
    # The one concurrency rule: send the ETag read (428 without it once rules were saved).
    current = await services.judging.get(f"/v1/stages/{stage_id}/result-rules", headers=headers)
    assert current.status_code == 200, current.text
    response = await services.judging.put(
        f"/v1/stages/{stage_id}/result-rules",
        json=rules,
        headers={**headers, "If-Match": current.headers["ETag"]},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def compute(
    services: Services, headers: dict[str, str], stage_id: uuid.UUID
) -> dict[str, Any]:
    response = await services.judging.post(
        f"/v1/stages/{stage_id}/results:compute", headers=headers
    )
    assert response.status_code == 201, response.text
    version = response.json()["version"]
    full = await services.judging.get(f"/v1/stages/{stage_id}/results/{version}", headers=headers)
    assert full.status_code == 200, full.text
    body: dict[str, Any] = full.json()
    return body


def by_entry(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["stage_entry_id"]: e for e in result["entries"]}
