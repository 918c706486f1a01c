"""Declared conflicts by blind code: judges know entries only by code, so they declare by code
within a stage of theirs; the answer never reveals the entry behind the code."""

from __future__ import annotations

import uuid

from tests.conftest import Services, assert_problem
from tests.judging.helpers import audit_count, create_judge, login, sub_of
from tests.judging.test_conflicts import kinds, world


async def _codes(
    services: Services, admin_headers: dict[str, str], stage_id: uuid.UUID
) -> dict[uuid.UUID, str]:
    mapping = await services.competitions.get(
        f"/v1/stages/{stage_id}/blind-codes:mapping", headers=admin_headers
    )
    assert mapping.status_code == 200, mapping.text
    return {uuid.UUID(m["entry_id"]): m["blind_code"] for m in mapping.json()}


async def test_a_judge_declares_by_blind_code_without_learning_the_entry(
    services: Services, admin_headers: dict[str, str]
) -> None:
    w = await world(services, admin_headers)
    codes = await _codes(services, admin_headers, w.stage.stage_id)
    stranger = w.entries["stranger"]
    url = f"/v1/judges/{w.judge['id']}/declared-conflicts"
    body = {
        "stage_id": str(w.stage.stage_id),
        "blind_code": codes[stranger],
        "reason": "该选手为本人表弟",
    }
    declared = await services.judging.post(url, json=body, headers=w.judge_headers)
    assert declared.status_code == 201, declared.text
    shown = declared.json()
    assert (shown["blind_code"], shown["stage_id"], shown["entry_id"], shown["worker_id"]) == (
        codes[stranger],
        str(w.stage.stage_id),
        None,
        None,
    )
    assert shown["declared_by_role"] == "judge"
    assert await audit_count(services, "judge.conflict.declare") == 1

    # The conflict applies to the entry behind the code, as one declared by entry id.
    conflicts = await services.judging.get(
        f"/v1/judges/{w.judge['id']}/conflicts",
        params={"stage_id": str(w.stage.stage_id)},
        headers=admin_headers,
    )
    assert kinds(conflicts.json())[str(stranger)] == ["declared"]
    # Listed for the judge by code only; admins see the entry.
    mine = await services.judging.get(url, headers=w.judge_headers)
    assert [(d["blind_code"], d["entry_id"]) for d in mine.json()] == [(codes[stranger], None)]
    admins = await services.judging.get(url, headers=admin_headers)
    assert [d["entry_id"] for d in admins.json()] == [str(stranger)]

    # Declared again, by code or by the entry's id: 409 naming the field given, not the entry.
    again = assert_problem(
        await services.judging.post(url, json=body, headers=w.judge_headers), 409
    )
    assert again["field"] == "blind_code"
    by_id = await services.judging.post(
        url, json={"entry_id": str(stranger), "reason": "重复申报"}, headers=admin_headers
    )
    assert_problem(by_id, 409)


async def test_declaring_by_code_refusals_name_the_field(
    services: Services, admin_headers: dict[str, str]
) -> None:
    w = await world(services, admin_headers)
    codes = await _codes(services, admin_headers, w.stage.stage_id)
    stage = str(w.stage.stage_id)
    code = codes[w.entries["stranger"]]
    url = f"/v1/judges/{w.judge['id']}/declared-conflicts"
    cases = [
        ({"stage_id": stage, "blind_code": "ZZZZZZ"}, 422, ["blind_code"]),
        ({"blind_code": code}, 422, ["stage_id"]),
        ({"stage_id": stage}, 422, ["blind_code"]),
        (
            {"stage_id": stage, "blind_code": code, "worker_id": str(w.workers["stranger"])},
            422,
            ["worker_id", "blind_code"],
        ),
        ({}, 422, ["worker_id"]),
        ({"stage_id": str(uuid.uuid4()), "blind_code": code}, 404, None),
    ]
    for extra, status, fields in cases:
        problem = assert_problem(
            await services.judging.post(
                url, json={"reason": "申报回避", **extra}, headers=w.judge_headers
            ),
            status,
        )
        if fields is not None:
            assert [e["field"] for e in problem["errors"]] == fields, problem

    # A judge of another occupation has no business in this stage's codes; nor has an organiser
    # who covers the judge (Jinan) but not the stage (the province's competition).
    welder_headers = await login(services, "judge.welder", "judge")
    welder = await create_judge(
        services,
        admin_headers,
        occupations=["焊工"],
        account_sub=await sub_of(services, welder_headers),
    )
    assert_problem(
        await services.judging.post(
            f"/v1/judges/{welder['id']}/declared-conflicts",
            json={"stage_id": stage, "blind_code": code, "reason": "申报回避"},
            headers=welder_headers,
        ),
        403,
    )
    jinan = await login(services, "jinan.org", "organiser", locality_code="370100")
    assert_problem(
        await services.judging.post(
            url, json={"stage_id": stage, "blind_code": code, "reason": "申报回避"}, headers=jinan
        ),
        403,
    )
    # The province's organisers manage the stage: they may declare by code for the judge.
    province = await login(services, "sd.org", "organiser", locality_code="370000")
    ok = await services.judging.post(
        url,
        json={"stage_id": stage, "blind_code": code, "reason": "举报：赛前辅导"},
        headers=province,
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["entry_id"] is None
    assert await audit_count(services, "judge.conflict.declare") == 1
