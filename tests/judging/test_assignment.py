"""Judge assignment: conflict-free, balanced (max - min load <= 1), infeasibility explained,
stored with its run, replaced only before scores, judges seeing blind codes only."""

from __future__ import annotations

import random
import uuid
from collections import Counter

from sqlalchemy import func, select

from shared.models.infra import OutboxEvent
from shared.models.judging import JudgeAssignmentRun
from tests.conftest import Services, assert_problem
from tests.judging.helpers import (
    all_assignments,
    audit_count,
    create_judge,
    declare,
    login,
    panel,
    solve,
)


async def test_balanced_conflict_free_assignment_of_a_generated_stage(
    services: Services, admin_headers: dict[str, str]
) -> None:
    # 23 entries x k=3 over 5 judges: 69 = 5 x 13 + 4, so loads must be 14, 14, 14, 14, 13.
    p = await panel(services, admin_headers, entries=23, judges=5)
    rng = random.Random(7)
    conflicts: set[tuple[str, uuid.UUID]] = set()
    for entry_id in rng.sample(p.stage.entries, 8):
        judge = rng.choice(p.judges)
        await declare(services, admin_headers, judge["id"], entry_id)
        conflicts.add((judge["id"], entry_id))
    # A judge of another occupation is not in the default pool.
    other = await create_judge(services, admin_headers, name="焊工评委", occupations=["焊工"])

    dry = await solve(services, admin_headers, p.stage_id, k=3, dry_run=True)
    assert dry.status_code == 200, dry.text
    assert dry.json()["run"]["dry_run"] is True
    assert await all_assignments(services, admin_headers, p.stage_id) == []

    response = await solve(services, admin_headers, p.stage_id, k=3)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["run"]["solver_status"] == "OPTIMAL"
    assert body["balanced"] is True
    assert sorted(load["load"] for load in body["loads"]) == [13, 14, 14, 14, 14]
    assert (body["run"]["load_min"], body["run"]["load_max"]) == (13, 14)
    assert {load["judge_id"] for load in body["loads"]} == {j["id"] for j in p.judges}

    pairs = await all_assignments(services, admin_headers, p.stage_id)
    assert len(pairs) == 69
    per_entry = Counter(a["entry_id"] for a in pairs)
    assert set(per_entry.values()) == {3}
    assert set(per_entry) == {str(e) for e in p.stage.entries}
    assert not {(a["judge_id"], uuid.UUID(a["entry_id"])) for a in pairs} & conflicts
    assert other["id"] not in {a["judge_id"] for a in pairs}
    per_judge = Counter(a["judge_id"] for a in pairs)
    assert max(per_judge.values()) - min(per_judge.values()) <= 1
    assert all(a["blind_code"] == p.codes[uuid.UUID(a["entry_id"])] for a in pairs)

    # The judge sees blind codes only.
    mine = await services.judging.get("/v1/judges/me/assignments", headers=p.headers[0])
    assert mine.status_code == 200, mine.text
    items = mine.json()["items"]
    assert len(items) == per_judge[p.judges[0]["id"]]
    assert all(set(i) == {"stage_id", "blind_code", "submitted_at", "etag"} for i in items)
    assert {i["blind_code"] for i in items} == {
        a["blind_code"] for a in pairs if a["judge_id"] == p.judges[0]["id"]
    }

    # Organisers see pairs without entry ids until the stage is judged; judges not at all.
    jinan = await login(services, "jinan.org", "organiser", locality_code="370100")
    listed = await services.judging.get(
        f"/v1/stages/{p.stage_id}/assignments", params={"limit": 5}, headers=jinan
    )
    assert listed.status_code == 200, listed.text
    assert {a["entry_id"] for a in listed.json()["items"]} == {None}
    assert_problem(
        await services.judging.get(f"/v1/stages/{p.stage_id}/assignments", headers=p.headers[0]),
        403,
    )
    assert_problem(await solve(services, p.headers[0], p.stage_id, k=1), 403)
    qingdao = await login(services, "qd.org", "organiser", locality_code="370200")
    assert_problem(await solve(services, qingdao, p.stage_id, k=1), 403)

    # Re-solving (no score yet) replaces; audit, outbox and runs record each stored solve.
    again = await solve(services, jinan, p.stage_id, k=2)
    assert again.status_code == 200, again.text
    assert len(await all_assignments(services, admin_headers, p.stage_id)) == 46
    assert await audit_count(services, "assignment.solve") == 2
    async with services.apps["judging"].state.sessionmaker() as s:
        events = await s.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.type == "assignments.created")
        )
        runs = await s.scalar(select(func.count()).select_from(JudgeAssignmentRun))
    assert events == 2
    assert runs == 3


async def test_infeasible_assignment_names_the_entries_and_why(
    services: Services, admin_headers: dict[str, str]
) -> None:
    # Provincial stage: a judge from the competitors' city (Zibo) has a locality conflict.
    p = await panel(
        services,
        admin_headers,
        entries=4,
        judges=3,
        entry_locality="370300",
        judge_localities=["370300", "370100", "370200"],
    )
    first = p.stage.entries[0]
    await declare(services, admin_headers, p.judges[1]["id"], first)

    response = await solve(services, admin_headers, p.stage_id, k=2)
    body = assert_problem(response, 422)
    short = {e["blind_code"]: e for e in body["entries"]}
    assert set(short) == {p.codes[first]}
    entry = short[p.codes[first]]
    assert entry["eligible_judges"] == 1
    assert entry["needed"] == 2
    assert entry["removed_by"] == {"declared": 1, "same_locality": 1}
    assert body["errors"][0]["field"] == "k"
    assert "1 of 4 entries cannot get 2 judges" in body["detail"]
    # Nothing was stored.
    assert await all_assignments(services, admin_headers, p.stage_id) == []

    # k = 1 is feasible, and the conflicted pairs are avoided.
    ok = await solve(services, admin_headers, p.stage_id, k=1)
    assert ok.status_code == 200, ok.text
    pairs = await all_assignments(services, admin_headers, p.stage_id)
    assert p.judges[0]["id"] not in {a["judge_id"] for a in pairs}
    assert (p.judges[1]["id"], str(first)) not in {(a["judge_id"], a["entry_id"]) for a in pairs}
    assert ok.json()["balanced"] is False  # the Zibo judge can take nothing: 0, 2, 2


async def test_a_pool_and_a_date(services: Services, admin_headers: dict[str, str]) -> None:
    p = await panel(services, admin_headers, entries=3, judges=2)
    away = await create_judge(
        services,
        admin_headers,
        name="出差评委",
        availability=[{"start": "2026-10-01", "end": "2026-10-05"}],
    )
    present = await create_judge(
        services,
        admin_headers,
        name="在岗评委",
        availability=[{"start": "2026-10-08", "end": "2026-10-12"}],
    )
    dated = await solve(services, admin_headers, p.stage_id, k=1, on_date="2026-10-10")
    assert dated.status_code == 200, dated.text
    assert [load["judge_id"] for load in dated.json()["loads"]] == [present["id"]]

    pool = [away["id"], present["id"]]
    chosen = await solve(services, admin_headers, p.stage_id, k=2, judge_ids=pool)
    assert chosen.status_code == 200, chosen.text
    assert {a["judge_id"] for a in await all_assignments(services, admin_headers, p.stage_id)} == {
        away["id"],
        present["id"],
    }
    welder = await create_judge(services, admin_headers, name="焊工评委", occupations=["焊工"])
    wrong = await solve(services, admin_headers, p.stage_id, k=1, judge_ids=[welder["id"]])
    assert assert_problem(wrong, 422)["errors"][0]["field"] == "judge_ids"
    unknown = await solve(services, admin_headers, p.stage_id, k=1, judge_ids=[str(uuid.uuid4())])
    assert_problem(unknown, 422)
    bad = await solve(services, admin_headers, p.stage_id, k=0, extra=True)
    fields = {e["field"] for e in assert_problem(bad, 422)["errors"]}
    assert {"k", "extra"} <= fields
