"""Score entry: marks by blind code with If-Match versions and history, validation against the
scheme, conflicts re-checked at scoring time, the panel hidden until submission, disagreement
flags, sign-off by re-authentication, the panel lock and the appeal-only unlock."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from services.judging.marking.schemas import SCHEME_EXAMPLE
from services.judging.scoring import service as scoring_service
from services.judging.scoring.service import unlock_scores
from shared.models.infra import AuditLog, OutboxEvent
from shared.models.judging import Score, ScoreHistory
from tests.conftest import ADMIN_PASSWORD, Services, assert_problem
from tests.judging.fast_paths import settings  # noqa: F401 - every test both ways
from tests.judging.helpers import Panel, audit_count, declare, login, panel, solve

FULL = [
    {"aspect_code": "A1.1", "value": 24.5},
    {"aspect_code": "B1.1", "value": 60},
    {"aspect_code": "B2.1", "value": 2},
]


async def scored_panel(
    services: Services, admin_headers: dict[str, str], *, entries: int = 2, judges: int = 3
) -> Panel:
    """Every judge assigned to every entry (k = judges), the example scheme saved."""
    p = await panel(services, admin_headers, entries=entries, judges=judges, scheme=SCHEME_EXAMPLE)
    solved = await solve(services, admin_headers, p.stage_id, k=judges)
    assert solved.status_code == 200, solved.text
    return p


def url(p: Panel, entry: uuid.UUID, suffix: str = "") -> str:
    return f"/v1/stages/{p.stage_id}/scores/{p.codes[entry]}{suffix}"


async def put(
    services: Services,
    p: Panel,
    judge: int,
    entry: uuid.UUID,
    marks: list[dict[str, Any]],
    if_match: str | None = None,
) -> Any:
    headers = dict(p.headers[judge])
    if if_match is not None:
        headers["if-match"] = if_match
    return await services.judging.put(url(p, entry), json={"marks": marks}, headers=headers)


async def submit(services: Services, p: Panel, judge: int, entry: uuid.UUID) -> Any:
    return await services.judging.post(url(p, entry, ":submit"), headers=p.headers[judge])


async def sign(
    services: Services, p: Panel, who: int, caller: int, password: str = ADMIN_PASSWORD
) -> Any:
    """Judge `caller` signs off with the credentials of judge `who`."""
    return await services.judging.post(
        f"/v1/stages/{p.stage_id}/signoffs",
        json={"username": p.usernames[who], "password": password},
        headers=p.headers[caller],
    )


async def score_all(services: Services, p: Panel, values: dict[int, int]) -> None:
    """Each judge marks and submits every entry, with B2.1 = values[judge]."""
    for judge, b21 in values.items():
        for entry in p.stage.entries:
            marks = [*FULL[:2], {"aspect_code": "B2.1", "value": b21}]
            read = await services.judging.get(url(p, entry), headers=p.headers[judge])
            tag = read.headers["etag"] if read.json()["version"] else None
            assert (await put(services, p, judge, entry, marks, tag)).status_code == 200
            assert (await submit(services, p, judge, entry)).status_code == 200


async def test_marks_if_match_validation_and_history(
    services: Services, admin_headers: dict[str, str]
) -> None:
    p = await scored_panel(services, admin_headers)
    entry = p.stage.entries[0]
    scheme_url = f"/v1/stages/{p.stage_id}/marking-schemes/current"
    assert (await services.judging.get(scheme_url, headers=admin_headers)).json()["frozen"] is False

    # Bad marks are refused naming each, and change nothing (not even the freeze).
    bad = await put(
        services,
        p,
        0,
        entry,
        [
            {"aspect_code": "A1.1", "value": 31},
            {"aspect_code": "B1.1", "value": 30},
            {"aspect_code": "B2.1", "value": 2.5},
            {"aspect_code": "Z9.9", "value": 1},
        ],
    )
    errors = {e["field"]: e["message"] for e in assert_problem(bad, 422)["errors"]}
    assert errors == {
        "marks[0].value": "A1.1 is marked 0..30",
        "marks[1].value": "B1.1 allows only 0, 60",
        "marks[2].value": "B2.1 is a judgement aspect: an integer 0..3",
        "marks[3].aspect_code": "Z9.9 is not an aspect of the stage's marking scheme",
    }
    assert (await services.judging.get(scheme_url, headers=admin_headers)).json()["frozen"] is False

    first = await put(services, p, 0, entry, FULL[:2])
    assert first.status_code == 200, first.text
    assert first.headers["etag"] == '"1"'
    assert [m["value"] for m in first.json()["marks"]] == [24.5, 60]
    # The first mark froze the scheme.
    assert (await services.judging.get(scheme_url, headers=admin_headers)).json()["frozen"] is True

    assert_problem(await put(services, p, 0, entry, FULL), 428)
    stale = assert_problem(await put(services, p, 0, entry, FULL, if_match='"0"'), 412)
    assert stale["current_etag"] == '"1"'
    second = await put(
        services, p, 0, entry, [{"aspect_code": "A1.1", "value": 20}, FULL[2]], if_match='"1"'
    )
    assert second.status_code == 200, second.text
    assert second.headers["etag"] == '"2"'
    marks = {m["aspect_code"]: m for m in second.json()["marks"]}
    assert (marks["A1.1"]["value"], marks["A1.1"]["version"]) == (20, 2)
    assert (marks["B1.1"]["value"], marks["B1.1"]["version"]) == (60, 1)
    assert marks["B2.1"]["value"] == 2

    read = await services.judging.get(url(p, entry), headers=p.headers[0])
    assert read.status_code == 200, read.text
    assert read.headers["etag"] == '"2"'
    assert read.json()["marks"] == second.json()["marks"]

    async with services.apps["judging"].state.sessionmaker() as s:
        a11 = await s.scalar(
            select(Score).where(Score.judge_id == uuid.UUID(p.judges[0]["id"])).limit(1)
        )
        history = (
            await s.execute(
                select(ScoreHistory.action, ScoreHistory.old_value, ScoreHistory.new_value)
                .join(Score, Score.id == ScoreHistory.score_id)
                .where(Score.judge_id == uuid.UUID(p.judges[0]["id"]))
                .order_by(ScoreHistory.at, ScoreHistory.action)
            )
        ).all()
    assert a11 is not None
    assert sorted((a, o, n) for a, o, n in history if a == "changed") == [("changed", 24.5, 20)]
    assert sum(1 for a, *_ in history if a == "created") == 3
    assert await audit_count(services, "scores.upsert") == 2

    # Assignment can no longer be replaced once marks exist.
    assert_problem(await solve(services, admin_headers, p.stage_id, k=2), 409)


async def test_conflicted_or_unassigned_judges_are_refused(
    services: Services, admin_headers: dict[str, str]
) -> None:
    p = await panel(services, admin_headers, entries=3, judges=3, scheme=SCHEME_EXAMPLE)
    conflicted = p.stage.entries[0]
    await declare(services, admin_headers, p.judges[0]["id"], conflicted)
    assert (await solve(services, admin_headers, p.stage_id, k=2)).status_code == 200
    # Judge 0 was never assigned the entry they are conflicted with: 403 on read and write.
    assert (
        "not assigned" in assert_problem(await put(services, p, 0, conflicted, FULL), 403)["detail"]
    )

    # A conflict declared after the assignment blocks too.
    listed = await services.judging.get(
        f"/v1/stages/{p.stage_id}/assignments",
        params={"judge_id": p.judges[1]["id"], "limit": 200},
        headers=admin_headers,
    )
    target = uuid.UUID(listed.json()["items"][0]["entry_id"])
    ok = await put(services, p, 1, target, FULL[:1])
    assert ok.status_code == 200, ok.text
    declared = await services.judging.post(
        f"/v1/judges/{p.judges[1]['id']}/declared-conflicts",
        json={"entry_id": str(target), "reason": "赛后发现选手系本人学生"},
        headers=p.headers[1],
    )
    assert declared.status_code == 201, declared.text
    refused = assert_problem(await put(services, p, 1, target, FULL, if_match='"1"'), 403)
    assert "conflict of interest" in refused["detail"]
    assert "declared" in refused["detail"]
    assert_problem(await services.judging.get(url(p, target), headers=p.headers[1]), 403)
    # Organisers cannot enter marks; unknown codes are 403 like unassigned ones.
    assert_problem(
        await services.judging.put(url(p, target), json={"marks": FULL}, headers=admin_headers),
        403,
    )
    assert_problem(
        await services.judging.put(
            f"/v1/stages/{p.stage_id}/scores/ZZZZZZ", json={"marks": FULL}, headers=p.headers[2]
        ),
        403,
    )


async def test_others_marks_hidden_until_submission(
    services: Services, admin_headers: dict[str, str]
) -> None:
    p = await scored_panel(services, admin_headers, entries=1, judges=2)
    entry = p.stage.entries[0]
    assert (await put(services, p, 1, entry, FULL)).status_code == 200
    assert (await put(services, p, 0, entry, FULL[:2])).status_code == 200

    hidden = assert_problem(
        await services.judging.get(url(p, entry, "/panel"), headers=p.headers[0]), 403
    )
    assert "Submit your own marks" in hidden["detail"]
    missing = assert_problem(await submit(services, p, 0, entry), 422)
    assert [(e["field"], e["message"]) for e in missing["errors"]] == [
        ("marks", "B2.1 has no mark")
    ]

    assert (await put(services, p, 0, entry, FULL[2:], if_match='"1"')).status_code == 200
    done = await submit(services, p, 0, entry)
    assert done.status_code == 200, done.text
    assert done.json()["submitted_at"] is not None
    assert done.headers["etag"] == '"3"'
    shown = await services.judging.get(url(p, entry, "/panel"), headers=p.headers[0])
    assert shown.status_code == 200, shown.text
    judges = {j["judge_id"]: j for j in shown.json()["judges"]}
    assert set(judges) == {p.judges[0]["id"], p.judges[1]["id"]}
    assert judges[p.judges[1]["id"]]["submitted_at"] is None
    assert len(judges[p.judges[1]["id"]]["marks"]) == 3
    # Judge 1 has not submitted: still hidden from them.
    assert_problem(await services.judging.get(url(p, entry, "/panel"), headers=p.headers[1]), 403)


async def test_judgement_marks_more_than_one_apart_are_flagged_until_rescored(
    services: Services, admin_headers: dict[str, str]
) -> None:
    p = await scored_panel(services, admin_headers, entries=2, judges=3)
    first, second = p.stage.entries
    flags_url = f"/v1/stages/{p.stage_id}/score-flags"
    await score_all(services, p, {0: 1, 1: 2})
    # Judge 2 marks 3 on the first entry: 1 vs 3 is more than 1 apart; a draft does not count.
    marks = [*FULL[:2], {"aspect_code": "B2.1", "value": 3}]
    assert (await put(services, p, 2, first, marks)).status_code == 200
    assert (await services.judging.get(flags_url, headers=admin_headers)).json()["flags"] == []
    assert (await submit(services, p, 2, first)).status_code == 200
    assert (await put(services, p, 2, second, FULL)).status_code == 200
    assert (await submit(services, p, 2, second)).status_code == 200

    flagged = await services.judging.get(flags_url, headers=admin_headers)
    assert flagged.status_code == 200, flagged.text
    [flag] = flagged.json()["flags"]
    assert (flag["blind_code"], flag["aspect_code"], flag["spread"]) == (
        p.codes[first],
        "B2.1",
        2,
    )
    assert {v["judge_id"]: v["value"] for v in flag["values"]} == {
        p.judges[0]["id"]: 1,
        p.judges[1]["id"]: 2,
        p.judges[2]["id"]: 3,
    }
    # Measurement aspects are never flagged, whatever their spread.
    a11 = [{"aspect_code": "A1.1", "value": 0}]
    assert (await put(services, p, 0, second, a11, if_match='"2"')).status_code == 200
    assert len((await services.judging.get(flags_url, headers=admin_headers)).json()["flags"]) == 1

    # Re-score within 1 of the others: the flag clears.
    rescore = await put(
        services, p, 2, first, [{"aspect_code": "B2.1", "value": 2}], if_match='"2"'
    )
    assert rescore.status_code == 200, rescore.text
    assert (await services.judging.get(flags_url, headers=admin_headers)).json()["flags"] == []
    assert_problem(await services.judging.get(flags_url, headers=p.headers[0]), 403)


async def test_sign_off_locks_and_only_an_appeal_reopens(
    services: Services, admin_headers: dict[str, str]
) -> None:
    p = await scored_panel(services, admin_headers, entries=2, judges=2)
    entry = p.stage.entries[0]
    assert (await put(services, p, 0, entry, FULL)).status_code == 200
    unsubmitted = await sign(services, p, 0, 0)
    assert "not submitted" in assert_problem(unsubmitted, 409)["detail"]
    await score_all(services, p, {0: 2, 1: 2})

    wrong = await sign(services, p, 0, 0, password="not-it")
    assert "Re-authentication failed" in assert_problem(wrong, 403)["detail"]
    # Someone else's valid credentials do not sign for you.
    other = await sign(services, p, 1, 0)
    assert_problem(other, 403)

    signed = await sign(services, p, 0, 0)
    assert signed.status_code == 201, signed.text
    assert signed.json()["scores_locked"] == 6
    assert signed.json()["stage_locked"] is False
    current = (await services.judging.get(url(p, entry), headers=p.headers[0])).headers["etag"]
    locked = assert_problem(await put(services, p, 0, entry, FULL[:1], if_match=current), 409)
    assert "only an appeal can reopen it" in locked["detail"]
    # Judge 1 is not locked yet.
    current1 = (await services.judging.get(url(p, entry), headers=p.headers[1])).headers["etag"]
    changed = await put(
        services, p, 1, entry, [{"aspect_code": "A1.1", "value": 10}], if_match=current1
    )
    assert changed.status_code == 200, changed.text
    again = await sign(services, p, 0, 0)
    assert_problem(again, 409)

    last = await sign(services, p, 1, 1)
    assert last.status_code == 201, last.text
    assert last.json()["stage_locked"] is True
    stage = await services.competitions.get(f"/v1/stages/{p.stage_id}", headers=admin_headers)
    assert stage.json()["status"] == "judged"
    async with services.apps["judging"].state.sessionmaker() as s:
        events = await s.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.type == "scores.locked")
        )
        unlocked = await s.scalar(
            select(func.count()).select_from(Score).where(Score.locked_at.is_(None))
        )
    assert events == 1
    assert unlocked == 0
    assert_problem(
        await services.judging.post(
            f"/v1/stages/{p.stage_id}/scores:lock", json={}, headers=admin_headers
        ),
        409,
    )
    listed = await services.judging.get(
        f"/v1/stages/{p.stage_id}/scores",
        params={"judge_id": p.judges[1]["id"], "aspect_code": "A1.1"},
        headers=admin_headers,
    )
    assert listed.status_code == 200, listed.text
    assert sorted(i["value"] for i in listed.json()["items"]) == [10, 24.5]
    assert all(i["locked_at"] for i in listed.json()["items"])

    # An upheld appeal (the appeals flow calls unlock_scores) reopens exactly the named mark.
    target = next(i for i in listed.json()["items"] if i["blind_code"] == p.codes[entry])
    async with services.apps["judging"].state.sessionmaker() as s, s.begin():
        await unlock_scores(s, p.stage_id, [uuid.UUID(target["id"])], "arbiter", "申诉成立")
    current1 = (await services.judging.get(url(p, entry), headers=p.headers[1])).headers["etag"]
    reopened = await put(
        services, p, 1, entry, [{"aspect_code": "A1.1", "value": 12}], if_match=current1
    )
    assert reopened.status_code == 200, reopened.text
    still = await put(
        services,
        p,
        1,
        entry,
        [{"aspect_code": "B2.1", "value": 1}],
        if_match=reopened.headers["etag"],
    )
    assert_problem(still, 409)


async def test_organiser_locks_the_panel(services: Services, admin_headers: dict[str, str]) -> None:
    p = await scored_panel(services, admin_headers, entries=1, judges=2)
    entry = p.stage.entries[0]
    lock_url = f"/v1/stages/{p.stage_id}/scores:lock"
    jinan = await login(services, "jinan.org", "organiser", locality_code="370100")
    await score_all(services, p, {0: 1})
    assert (await put(services, p, 1, entry, FULL)).status_code == 200
    pending = assert_problem(await services.judging.post(lock_url, json={}, headers=jinan), 409)
    assert p.codes[entry] in pending["detail"]
    assert_problem(await services.judging.post(lock_url, json={}, headers=p.headers[0]), 403)

    locked = await services.judging.post(lock_url, json={"allow_unsubmitted": True}, headers=jinan)
    assert locked.status_code == 200, locked.text
    assert locked.json()["scores_locked"] == 6
    assert locked.json()["reason"] == "organiser"
    assert_problem(await put(services, p, 1, entry, FULL, if_match='"1"'), 409)
    assert_problem(await services.judging.post(lock_url, json={}, headers=jinan), 409)
    stage = await services.competitions.get(f"/v1/stages/{p.stage_id}", headers=admin_headers)
    assert stage.json()["status"] == "judged"


async def test_both_paths_write_the_same_rows(
    services: Services,
    admin_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same marks give the same audit rows (one redaction, in Python), history and answer
    on the fast path and on the general path; with the fast path off, the general one answers
    every write, and with it on, it answers none of the usual ones."""
    general: list[str] = []
    for name in ("put_sheet", "submit_sheet"):
        real = getattr(scoring_service, name)

        async def spy(*args: Any, _real: Any = real, _name: str = name, **kw: Any) -> Any:
            general.append(_name)
            return await _real(*args, **kw)

        monkeypatch.setattr(scoring_service, name, spy)
    p = await scored_panel(services, admin_headers)
    entry = p.stage.entries[0]
    first = await put(services, p, 0, entry, FULL)
    assert first.status_code == 200, first.text
    second = await put(services, p, 0, entry, [{"aspect_code": "A1.1", "value": 20}], '"1"')
    assert second.status_code == 200, second.text
    submitted = await services.judging.post(
        url(p, entry, ":submit"), headers={**p.headers[0], "if-match": '"2"'}
    )
    assert submitted.status_code == 200, submitted.text
    assert submitted.headers["etag"] == '"3"'
    fast = services.apps["judging"].state.settings.score_fast_path
    assert general == ([] if fast else ["put_sheet", "put_sheet", "submit_sheet"])
    async with services.apps["judging"].state.sessionmaker() as s:
        rows = (
            await s.execute(
                select(AuditLog.action, AuditLog.actor_role, AuditLog.before, AuditLog.after)
                .where(
                    AuditLog.action.in_(["scores.upsert", "scores.submit", "marking_scheme.freeze"])
                )
                .order_by(AuditLog.id)
            )
        ).all()
        history = (
            await s.execute(
                select(ScoreHistory.action, ScoreHistory.old_value, ScoreHistory.new_value)
                .where(ScoreHistory.stage_id == p.stage_id)
                .order_by(ScoreHistory.at, ScoreHistory.action, ScoreHistory.new_value)
            )
        ).all()
    code = p.codes[entry]
    assert [tuple(r) for r in rows] == [
        (
            "marking_scheme.freeze",
            "judge",
            {"version": 1, "frozen": False},
            {"version": 1, "frozen": True},
        ),
        ("scores.upsert", "judge", None, {"A1.1": "24.5", "B1.1": "60", "B2.1": "2", "version": 1}),
        (
            "scores.upsert",
            "judge",
            {"A1.1": "24.5", "B1.1": "60", "B2.1": "2"},
            {"A1.1": "20", "version": 2},
        ),
        ("scores.submit", "judge", None, {"blind_code": code, "version": 3}),
    ]
    assert sorted(
        (a, float(o) if o is not None else None, float(n)) for a, o, n in history
    ) == sorted(
        [
            ("created", None, 24.5),
            ("created", None, 60.0),
            ("created", None, 2.0),
            ("changed", 24.5, 20.0),
            ("submitted", 20.0, 20.0),
            ("submitted", 60.0, 60.0),
            ("submitted", 2.0, 2.0),
        ]
    )
