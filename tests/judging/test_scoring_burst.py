"""Score entry under a burst: the first marks of many judges at once freeze the scheme exactly
once, and the rules still hold once marks flow (conflicts from the judge's record as it is now,
locks, versions, a mentorship begun after the first marks), whichever way the service
answers them."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import func, select

from services.judging.marking.schemas import SCHEME_EXAMPLE
from shared.models.judging import JudgeAssignment, ScoreHistory
from shared.models.registry.mentoring import MentorshipStatus
from tests.conftest import Services, assert_problem
from tests.judging.fast_paths import settings  # noqa: F401 - every test both ways
from tests.judging.helpers import (
    audit_count,
    create_judge,
    enterprise,
    login,
    mentorship,
    panel,
    stage_with_entries,
    sub_of,
    worker,
)
from tests.judging.test_scoring import FULL, put, scored_panel, solve, submit


async def test_first_marks_at_once_freeze_the_scheme_once(
    services: Services, admin_headers: dict[str, str]
) -> None:
    p = await scored_panel(services, admin_headers, entries=2, judges=3)
    sheets = [(j, e) for j in range(3) for e in p.stage.entries]
    answers = await asyncio.gather(*(put(services, p, j, e, FULL) for j, e in sheets))
    assert [a.status_code for a in answers] == [200] * len(sheets), [a.text for a in answers]
    assert {a.headers["etag"] for a in answers} == {'"1"'}
    scheme = await services.judging.get(
        f"/v1/stages/{p.stage_id}/marking-schemes/current", headers=admin_headers
    )
    assert scheme.json()["frozen"] is True
    assert await audit_count(services, "marking_scheme.freeze") == 1
    assert await audit_count(services, "scores.upsert") == len(sheets)

    # Racing changes of one sheet with the same If-Match: exactly one wins, the other is 412.
    entry = p.stage.entries[0]
    a, b = await asyncio.gather(
        put(services, p, 0, entry, [{"aspect_code": "B2.1", "value": 3}], '"1"'),
        put(services, p, 0, entry, [{"aspect_code": "B2.1", "value": 1}], '"1"'),
    )
    assert sorted([a.status_code, b.status_code]) == [200, 412], (a.text, b.text)
    winner = a if a.status_code == 200 else b
    assert winner.headers["etag"] == '"2"'
    # Unchanged marks change nothing: same version, no history, no audit row.
    same = await put(services, p, 0, entry, FULL[:1], '"2"')
    assert same.status_code == 200, same.text
    assert same.headers["etag"] == '"2"'
    submitted = await services.judging.post(
        f"/v1/stages/{p.stage_id}/scores/{p.codes[entry]}:submit",
        headers={**p.headers[0], "if-match": '"2"'},
    )
    assert submitted.status_code == 200, submitted.text
    assert submitted.headers["etag"] == '"3"'
    assert all(m["submitted_at"] for m in submitted.json()["marks"])
    again = await submit(services, p, 0, entry)  # idempotent
    assert again.status_code == 200
    assert again.headers["etag"] == '"3"'
    async with services.apps["judging"].state.sessionmaker() as s:
        actions = dict(
            (
                await s.execute(
                    select(ScoreHistory.action, func.count())
                    .where(ScoreHistory.stage_id == p.stage_id)
                    .group_by(ScoreHistory.action)
                )
            ).all()
        )
        version = await s.scalar(
            select(JudgeAssignment.sheet_version).where(
                JudgeAssignment.stage_id == p.stage_id,
                JudgeAssignment.judge_id == uuid.UUID(p.judges[0]["id"]),
                JudgeAssignment.blind_code == p.codes[entry],
            )
        )
    assert actions == {"created": 3 * len(sheets), "changed": 1, "submitted": 3}
    assert version == 3
    assert await audit_count(services, "scores.submit") == 1


async def test_a_judge_moved_to_the_competitors_city_is_refused_once_marks_flow(
    services: Services, admin_headers: dict[str, str]
) -> None:
    # Entries from Zibo (370300), judges from Jinan: no conflict at assignment.
    p = await panel(services, admin_headers, entries=1, judges=2, scheme=SCHEME_EXAMPLE)
    assert (await solve(services, admin_headers, p.stage_id, k=2)).status_code == 200
    entry = p.stage.entries[0]
    for index in range(2):
        assert (await put(services, p, index, entry, FULL)).status_code == 200
    # Judge 0's record now says Zibo: at a provincial competition that is a conflict.
    judge = p.judges[0]
    read = await services.judging.get(f"/v1/judges/{judge['id']}", headers=admin_headers)
    moved = await services.judging.patch(
        f"/v1/judges/{judge['id']}",
        json={"locality_code": "370300"},
        headers={**admin_headers, "If-Match": read.headers["etag"]},
    )
    assert moved.status_code == 200, moved.text
    change = [{"aspect_code": "B2.1", "value": 3}]
    refused = assert_problem(await put(services, p, 0, entry, change, '"1"'), 403)
    assert "same_locality" in refused["detail"]
    assert_problem(await submit(services, p, 0, entry), 403)
    # The other judge is unaffected.
    assert (await put(services, p, 1, entry, change, '"1"')).status_code == 200
    assert (await submit(services, p, 1, entry)).status_code == 200


async def test_locked_marks_refuse_changes_once_marks_flow(
    services: Services, admin_headers: dict[str, str]
) -> None:
    p = await scored_panel(services, admin_headers, entries=1, judges=2)
    entry = p.stage.entries[0]
    for judge in range(2):
        assert (await put(services, p, judge, entry, FULL[:2])).status_code == 200
    locked = await services.judging.post(
        f"/v1/stages/{p.stage_id}/scores:lock",
        json={"allow_unsubmitted": True},
        headers=admin_headers,
    )
    assert locked.status_code == 200, locked.text
    # A locked mark, and a new mark in a locked stage: 409 naming them; nothing changes.
    assert (
        "A1.1" in assert_problem(await put(services, p, 0, entry, FULL[:1], '"1"'), 409)["detail"]
    )
    assert_problem(await put(services, p, 1, entry, FULL[2:], '"1"'), 409)
    read = await services.judging.get(
        f"/v1/stages/{p.stage_id}/scores/{p.codes[entry]}", headers=p.headers[1]
    )
    assert read.headers["etag"] == '"1"'
    assert len(read.json()["marks"]) == 2


async def test_a_mentorship_begun_once_marks_flow_blocks_a_worker_judge(
    services: Services, admin_headers: dict[str, str]
) -> None:
    home = await enterprise(services, "370100")
    other = await enterprise(services, "370300")
    judge_worker = await worker(services, enterprise_id=home.id, locality_code="370100")
    competitors = [
        await worker(services, enterprise_id=other.id, locality_code="370300") for _ in range(2)
    ]
    stage = await stage_with_entries(
        services,
        admin_headers,
        [
            {"worker_id": c.id, "enterprise_id": other.id, "locality_code": "370300"}
            for c in competitors
        ],
    )
    headers = await login(services, f"judge.{uuid.uuid4().hex[:6]}", "judge")
    await create_judge(
        services,
        admin_headers,
        kind="worker",
        worker_id=str(judge_worker.id),
        name=None,
        employer_name=None,
        locality_code=None,
        account_sub=await sub_of(services, headers),
    )
    saved = await services.judging.post(
        f"/v1/stages/{stage.stage_id}/marking-schemes", json=SCHEME_EXAMPLE, headers=admin_headers
    )
    assert saved.status_code == 201, saved.text
    assert (await solve(services, admin_headers, stage.stage_id, k=1)).status_code == 200
    mapping = await services.competitions.get(
        f"/v1/stages/{stage.stage_id}/blind-codes:mapping", headers=admin_headers
    )
    codes = {uuid.UUID(m["entry_id"]): m["blind_code"] for m in mapping.json()}
    urls = [f"/v1/stages/{stage.stage_id}/scores/{codes[e]}" for e in stage.entries]
    for target in urls:
        marked = await services.judging.put(target, json={"marks": FULL}, headers=headers)
        assert marked.status_code == 200, marked.text

    # The judge becomes the first competitor's mentor: that entry is closed to them now.
    await mentorship(services, judge_worker.id, competitors[0].id, MentorshipStatus.active)
    change = {"marks": [{"aspect_code": "B2.1", "value": 3}]}
    refused = await services.judging.put(
        urls[0], json=change, headers={**headers, "if-match": '"1"'}
    )
    assert "mentor" in assert_problem(refused, 403)["detail"]
    assert_problem(await services.judging.post(f"{urls[0]}:submit", headers=headers), 403)
    changed = await services.judging.put(
        urls[1], json=change, headers={**headers, "if-match": '"1"'}
    )
    assert changed.status_code == 200, changed.text
    assert (await services.judging.post(f"{urls[1]}:submit", headers=headers)).status_code == 200
