"""Judge analytics: severity against the panel (checked by hand), Krippendorff's alpha (checked
against the textbook formula computed here, and a value worked out by hand), the PNG box plot,
and judges kept out."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from shared.models.judging import AspectType, MarkingAspect, MarkingScheme, Score
from tests.conftest import Services, assert_problem
from tests.judging.helpers import create_judge, login, stage_with_entries, worker

#: aspect -> entry -> judge -> level. A: judges disagree; B: they agree; M: a measurement.
MARKS: dict[str, dict[int, dict[int, float]]] = {
    "A1.1": {0: {0: 1, 1: 2, 2: 3}, 1: {0: 0, 1: 2, 2: 2}, 2: {0: 1, 1: 3}, 3: {0: 2}},
    "A1.2": {0: {0: 2, 1: 2, 2: 2}, 1: {0: 1, 1: 1, 2: 1}},
    "B1.1": {0: {0: 5}, 1: {1: 10}},
}


def interval_alpha(units: list[list[float]]) -> float:
    """Krippendorff's alpha for interval data from its definition, 1 - D_o / D_e, over the
    values of units with at least two of them (ordered pairs, squared differences)."""
    pairable = [u for u in units if len(u) >= 2]
    values = [v for u in pairable for v in u]
    n = len(values)
    observed = (
        sum(
            sum((a - b) ** 2 for a, b in itertools.permutations(u, 2)) / (len(u) - 1)
            for u in pairable
        )
        / n
    )
    expected = sum((a - b) ** 2 for a, b in itertools.permutations(values, 2)) / (n * (n - 1))
    return 1 - observed / expected


async def _world(services: Services, admin_headers: dict[str, str]) -> tuple[uuid.UUID, list[Any]]:
    workers = [await worker(services) for _ in range(4)]
    stage = await stage_with_entries(
        services, admin_headers, [{"worker_id": w.id} for w in workers]
    )
    rows = (
        await services.competitions.get(
            f"/v1/stages/{stage.stage_id}/stage-entries", headers=admin_headers
        )
    ).json()["items"]
    by_entry = {uuid.UUID(r["entry_id"]): r for r in rows}
    stage_entries = [by_entry[e] for e in stage.entries]
    judges = [
        await create_judge(services, admin_headers, name=name)
        for name in ("甲评委", "乙评委", "丙评委")
    ]
    now = datetime.now(UTC)
    async with services.apps["judging"].state.sessionmaker() as s, s.begin():
        scheme = MarkingScheme(
            id=uuid.uuid4(),
            stage_id=stage.stage_id,
            version=1,
            title="评分标准",
            components=[{"component": "practical", "weight": 100}],
            criteria=[],
            total=Decimal(100),
            created_by="test",
        )
        s.add(scheme)
        await s.flush()
        aspects = {}
        for code in MARKS:
            judgement = code.startswith("A")
            aspects[code] = MarkingAspect(
                id=uuid.uuid4(),
                scheme_id=scheme.id,
                code=code,
                component="practical",
                type=AspectType.judgement if judgement else AspectType.measurement,
                description=f"aspect {code}",
                max_mark=Decimal(10),
                descriptors=["差", "中", "良", "优"] if judgement else None,
            )
            s.add(aspects[code])
        await s.flush()
        for code, entries in MARKS.items():
            for e, marks in entries.items():
                for j, value in marks.items():
                    s.add(
                        Score(
                            stage_id=stage.stage_id,
                            stage_entry_id=uuid.UUID(stage_entries[e]["id"]),
                            entry_id=stage.entries[e],
                            blind_code=stage_entries[e]["blind_code"],
                            judge_id=uuid.UUID(judges[j]["id"]),
                            aspect_id=aspects[code].id,
                            scheme_id=scheme.id,
                            value=Decimal(str(value)),
                            submitted_at=now,
                        )
                    )
        # A draft mark is not analysed.
        s.add(
            Score(
                stage_id=stage.stage_id,
                stage_entry_id=uuid.UUID(stage_entries[3]["id"]),
                entry_id=stage.entries[3],
                blind_code=stage_entries[3]["blind_code"],
                judge_id=uuid.UUID(judges[2]["id"]),
                aspect_id=aspects["A1.1"].id,
                scheme_id=scheme.id,
                value=Decimal(0),
            )
        )
    return stage.stage_id, judges


async def test_severity_and_agreement(services: Services, admin_headers: dict[str, str]) -> None:
    stage_id, judges = await _world(services, admin_headers)
    response = await services.judging.get(
        f"/v1/stages/{stage_id}/analytics/judges",
        params={"level": "interval"},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    by_id = {j["judge_id"]: j for j in body["judges"]}
    first, second, third = (by_id[j["id"]] for j in judges)
    # By hand (A1.1 entry means 2, 4/3, 2; A1.2 all agree; entry 4 has one mark):
    # first: (-1 - 4/3 - 1 + 0 + 0) / 5; second: (0 + 2/3 + 1 + 0 + 0) / 5;
    # third: (1 + 2/3 + 0 + 0) / 4.
    assert first["mean_deviation"] == pytest.approx(-2 / 3, abs=1e-4)
    assert first["count"] == 5
    assert first["tendency"] == "severe"
    assert first["marks"] == 7  # 4 + 2 judgement marks, 1 measurement
    assert second["mean_deviation"] == pytest.approx(1 / 3, abs=1e-4)
    assert second["tendency"] == "lenient"
    assert third["mean_deviation"] == pytest.approx(5 / 12, abs=1e-4)
    assert third["count"] == 4

    aspects = {a["code"]: a for a in body["aspects"]}
    assert set(aspects) == {"A1.1", "A1.2"}  # judgement aspects only
    units = [list(m.values()) for m in MARKS["A1.1"].values()]
    assert aspects["A1.1"]["alpha"] == pytest.approx(interval_alpha(units), abs=1e-6)
    # Worked by hand: D_o = 22/8, D_e = 120/56, alpha = 1 - 154/120 = -17/60.
    assert aspects["A1.1"]["alpha"] == pytest.approx(-17 / 60, abs=1e-6)
    assert aspects["A1.1"]["entries"] == 3
    assert aspects["A1.1"]["judges"] == 3
    assert aspects["A1.2"]["alpha"] == pytest.approx(1.0)

    ordinal = await services.judging.get(
        f"/v1/stages/{stage_id}/analytics/judges", headers=admin_headers
    )
    assert ordinal.json()["level_of_measurement"] == "ordinal"
    alpha = {a["code"]: a["alpha"] for a in ordinal.json()["aspects"]}
    assert -1 <= alpha["A1.1"] < 0.5
    assert alpha["A1.2"] == pytest.approx(1.0)


async def test_plot_and_who_may_see(services: Services, admin_headers: dict[str, str]) -> None:
    stage_id, _judges = await _world(services, admin_headers)
    png = await services.judging.get(
        f"/v1/stages/{stage_id}/analytics/judges.png", headers=admin_headers
    )
    assert png.status_code == 200, png.text
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png.content) > 5000

    judge = await login(services, "judge1", "judge")
    elsewhere = await login(services, "org-zibo", "organiser", locality_code="370300")
    for headers in (judge, elsewhere):
        for path in ("judges", "judges.png"):
            assert_problem(
                await services.judging.get(
                    f"/v1/stages/{stage_id}/analytics/{path}", headers=headers
                ),
                403,
            )
    assert_problem(
        await services.judging.get(
            f"/v1/stages/{stage_id}/analytics/judges",
            params={"level": "ratio"},
            headers=admin_headers,
        ),
        422,
    )
