"""End to end through the HTTP APIs: judges score through the score endpoints, results are
published, an appeal is upheld, the reopened marks are re-scored, the ranking changes, the
leaderboard (cached) and its live stream follow, and finalising sends the ranking to the
competitions service for advancement."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from tests.conftest import (
    Services,
    assert_problem,
    bearer,
    create_account,
    get_token,
    matching,
)
from tests.judging.helpers import audit_count, create_judge, login, stage_with_entries, sub_of
from tests.judging.results_helpers import close_appeal_window, two_aspect_scheme


async def _score(
    services: Services,
    headers: dict[str, str],
    stage_id: uuid.UUID,
    code: str,
    theory: float,
    practical: float,
) -> None:
    url = f"/v1/stages/{stage_id}/scores/{code}"
    sheet = await services.judging.put(
        url,
        json={
            "marks": [
                {"aspect_code": "A1.1", "value": theory},
                {"aspect_code": "B1.1", "value": practical},
            ]
        },
        headers=headers,
    )
    assert sheet.status_code == 200, sheet.text
    submitted = await services.judging.post(url + ":submit", headers=headers)
    assert submitted.status_code == 200, submitted.text


def _events(body: str) -> list[dict[str, Any]]:
    out = []
    for block in body.split("\n\n"):
        data = [line[6:] for line in block.splitlines() if line.startswith("data: ")]
        if data:
            out.append(json.loads("".join(data)))
    return out


async def test_an_upheld_appeal_changes_the_ranking(
    services: Services, admin_headers: dict[str, str]
) -> None:
    worker_a, worker_b = uuid.uuid4(), uuid.uuid4()
    setup = await stage_with_entries(
        services,
        admin_headers,
        [
            {"worker_id": worker_a, "locality_code": "370300"},
            {"worker_id": worker_b, "locality_code": "370300"},
        ],
        organiser_locality_code="370100",
    )
    sid = setup.stage_id
    # A later stage and an advancement rule: the top 1 goes on.
    rule = await services.competitions.patch(
        f"/v1/stages/{sid}",
        json={"advancement_rule": "top_n", "advancement_value": 1},
        headers=await matching(services.competitions, f"/v1/stages/{sid}", admin_headers),
    )
    assert rule.status_code == 200, rule.text
    later = await services.competitions.post(
        f"/v1/events/{setup.event_id}/stages",
        json={"name": "省赛", "seq": 2, "components": [{"component": "practical", "weight": 100}]},
        headers=admin_headers,
    )
    assert later.status_code == 201, later.text
    scheme = await services.judging.post(
        f"/v1/stages/{sid}/marking-schemes",
        json=two_aspect_scheme("measurement"),
        headers=admin_headers,
    )
    assert scheme.status_code == 201, scheme.text
    practical_aspect = scheme.json()["criteria"][1]["sub_criteria"][0]["aspects"][0]["id"]

    judges = []
    for i in range(3):
        headers = await login(services, f"judge{i}.appeal", "judge")
        await create_judge(
            services, admin_headers, name=f"评委{i}", account_sub=await sub_of(services, headers)
        )
        judges.append(headers)
    solved = await services.judging.post(
        f"/v1/stages/{sid}/assignments:solve", json={"k": 3}, headers=admin_headers
    )
    assert solved.status_code in (200, 201), solved.text
    mapping = await services.competitions.get(
        f"/v1/stages/{sid}/stage-entries", headers=admin_headers
    )
    code = {uuid.UUID(r["entry_id"]): r["blind_code"] for r in mapping.json()["items"]}
    code_a, code_b = code[setup.entries[0]], code[setup.entries[1]]
    for headers in judges:
        await _score(services, headers, sid, code_a, 25, 60)  # 85
        await _score(services, headers, sid, code_b, 28, 55)  # 83
    locked = await services.judging.post(
        f"/v1/stages/{sid}/scores:lock", json={}, headers=admin_headers
    )
    assert locked.status_code == 200, locked.text

    # The arbitration panel: an organiser of the competition's locality named in the rules.
    await create_account(services, "arbiter.jn", "organiser", locality_code="370100")
    arbiter = bearer(await get_token(services, "arbiter.jn"))
    other_organiser = await login(services, "other.jn", "organiser", locality_code="370100")
    rules = await services.judging.put(
        f"/v1/stages/{sid}/result-rules",
        json={"arbiters": [await sub_of(services, arbiter)], "appeal_window_minutes": 120},
        headers=admin_headers,
    )
    assert rules.status_code == 200, rules.text

    url = f"/v1/stages/{sid}/results"
    assert (await services.judging.post(url + ":compute", headers=admin_headers)).status_code == 201
    published = await services.judging.post(url + ":publish-provisional", headers=admin_headers)
    assert published.status_code == 200, published.text

    board = await services.judging.get(f"/v1/stages/{sid}/leaderboard")
    assert board.status_code == 200, board.text
    assert [e["blind_code"] for e in board.json()["entries"]] == [code_a, code_b]
    assert board.json()["entries"][0]["entry_id"] == str(setup.entries[0])  # decoded
    assert board.json()["status"] == "provisional"
    assert "max-age" in board.headers["cache-control"]
    tag = board.headers["etag"]
    not_modified = await services.judging.get(
        f"/v1/stages/{sid}/leaderboard", headers={"If-None-Match": tag}
    )
    assert not_modified.status_code == 304

    # A screen in the hall follows the live stream (it ends once the results are final).
    stream = asyncio.create_task(
        services.judging.get(f"/v1/stages/{sid}/leaderboard:stream", timeout=60)
    )
    await asyncio.sleep(0.2)

    # Competitor B appeals the practical mark; nobody else may appeal B's entry.
    appeal_body = {"aspect_ids": [practical_aspect], "reason": "实操尺寸复测应为满分附近"}
    await create_account(services, "worker.b", "worker", worker_id=worker_b)
    await create_account(services, "worker.x", "worker", worker_id=uuid.uuid4())
    worker_b_headers = bearer(await get_token(services, "worker.b"))
    stranger = bearer(await get_token(services, "worker.x"))
    assert_problem(
        await services.judging.post(
            f"/v1/stages/{sid}/appeals", json=appeal_body, headers=stranger
        ),
        403,
    )
    bad_aspect = await services.judging.post(
        f"/v1/stages/{sid}/appeals",
        json={**appeal_body, "aspect_ids": [str(uuid.uuid4())]},
        headers=worker_b_headers,
    )
    assert assert_problem(bad_aspect, 422)["errors"][0]["field"] == "aspect_ids[0]"
    filed = await services.judging.post(
        f"/v1/stages/{sid}/appeals", json=appeal_body, headers=worker_b_headers
    )
    assert filed.status_code == 201, filed.text
    appeal = filed.json()
    assert appeal["status"] == "pending"
    # The Location names the appeal: its filer and the panel read it; another worker gets 404.
    location = filed.headers["location"]
    assert location == f"/v1/appeals/{appeal['id']}"
    own = await services.judging.get(location, headers=worker_b_headers)
    assert own.status_code == 200, own.text
    assert own.json() == appeal
    assert own.headers["etag"] == '"1"'
    assert (await services.judging.get(location, headers=arbiter)).json()["id"] == appeal["id"]
    assert_problem(await services.judging.get(location, headers=stranger), 404)
    # An organiser covering the stage reads it too (deciding needs the arbiters' list).
    assert (await services.judging.get(location, headers=other_organiser)).status_code == 200
    mine = await services.judging.get(f"/v1/stages/{sid}/appeals", headers=worker_b_headers)
    assert [a["id"] for a in mine.json()["items"]] == [appeal["id"]]
    assert (await services.judging.get(f"/v1/stages/{sid}/appeals", headers=stranger)).json()[
        "items"
    ] == []

    # Only the panel decides: an organiser not named in the rules is refused.
    decision = {"outcome": "upheld", "reason": "复测确认记录有误，重新评分"}
    assert_problem(
        await services.judging.post(
            f"/v1/appeals/{appeal['id']}:decide", json=decision, headers=other_organiser
        ),
        403,
    )
    decided = await services.judging.post(
        f"/v1/appeals/{appeal['id']}:decide",
        json=decision,
        headers={**arbiter, "If-Match": '"1"'},
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "upheld"
    assert len(decided.json()["unlocked_score_ids"]) == 3  # the aspect, by every judge
    again = await services.judging.post(
        f"/v1/appeals/{appeal['id']}:decide", json=decision, headers=arbiter
    )
    assert_problem(again, 409)

    # Reopened marks: no computation until they are re-scored and locked again.
    reopened = assert_problem(
        await services.judging.post(url + ":compute", headers=admin_headers), 409
    )
    assert "not locked" in reopened["detail"]
    for headers in judges:
        sheet = await services.judging.get(f"/v1/stages/{sid}/scores/{code_b}", headers=headers)
        rescored = await services.judging.put(
            f"/v1/stages/{sid}/scores/{code_b}",
            json={"marks": [{"aspect_code": "B1.1", "value": 65}], "reason": "复议重评"},
            headers={**headers, "If-Match": sheet.headers["etag"]},
        )
        assert rescored.status_code == 200, rescored.text
        # Marks the appeal did not name stay locked.
        theory = await services.judging.put(
            f"/v1/stages/{sid}/scores/{code_b}",
            json={"marks": [{"aspect_code": "A1.1", "value": 30}]},
            headers={**headers, "If-Match": rescored.headers["etag"]},
        )
        assert_problem(theory, 409)
    relocked = await services.judging.post(
        f"/v1/appeals/{appeal['id']}:relock-scores", headers=arbiter
    )
    assert relocked.status_code == 200, relocked.text

    assert (await services.judging.post(url + ":compute", headers=admin_headers)).status_code == 201
    republished = await services.judging.post(url + ":publish-provisional", headers=admin_headers)
    assert republished.status_code == 200, republished.text
    assert republished.json()["version"] == 2

    # The cached board follows the new version at once: B (28 + 65 = 93) now leads.
    board2 = await services.judging.get(
        f"/v1/stages/{sid}/leaderboard", headers={"If-None-Match": tag}
    )
    assert board2.status_code == 200, board2.text
    assert board2.headers["etag"] != tag
    assert board2.json()["version"] == 2
    assert [(e["blind_code"], e["score"]) for e in board2.json()["entries"]] == [
        (code_b, 93.0),
        (code_a, 85.0),
    ]

    # The stream polls every second: give it time to send version 2 before it goes final.
    await asyncio.sleep(1.5)
    await close_appeal_window(services, sid)
    late = await services.judging.post(
        f"/v1/stages/{sid}/appeals", json=appeal_body, headers=worker_b_headers
    )
    assert "closed" in assert_problem(late, 409)["detail"]
    final = await services.judging.post(url + ":finalise", headers=admin_headers)
    assert final.status_code == 200, final.text
    assert final.json()["status"] == "final"

    # Competitions received the ranking: B goes on to the next stage.
    advancement = await services.competitions.get(
        f"/v1/stages/{sid}/advancement", headers=admin_headers
    )
    assert advancement.status_code == 200, advancement.text
    assert advancement.json()["qualified_entry_ids"] == [str(setup.entries[1])]

    # The stream sent the first board, the re-published one and the final one, then ended.
    streamed = await asyncio.wait_for(stream, timeout=30)
    assert streamed.status_code == 200
    assert streamed.headers["content-type"].startswith("text/event-stream")
    boards = _events(streamed.text)
    assert [(b["version"], b["status"]) for b in boards] == [
        (1, "provisional"),
        (2, "provisional"),
        (2, "final"),
    ]
    assert boards[1]["entries"][0]["blind_code"] == code_b
    assert await audit_count(services, "appeal.decide") == 1
    assert await audit_count(services, "results.finalise") == 1
