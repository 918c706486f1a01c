"""Judges: workers or experts, scope of organisers, a judge's own record, If-Match."""

from __future__ import annotations

import uuid

from tests.conftest import Services, assert_problem, matching
from tests.judging.helpers import (
    EXPERT,
    audit_count,
    create_judge,
    enterprise,
    login,
    sub_of,
    worker,
)


async def test_expert_judge_crud_with_if_match(
    services: Services, admin_headers: dict[str, str]
) -> None:
    body = {**EXPERT, "availability": [{"start": "2026-10-08", "end": "2026-10-12"}]}
    created = await services.judging.post(
        "/v1/judges", json=body, headers={**admin_headers, "Idempotency-Key": "judge-create-1"}
    )
    assert created.status_code == 201, created.text
    judge = created.json()
    assert created.headers["location"] == f"/v1/judges/{judge['id']}"
    assert judge["kind"] == "expert"
    assert judge["worker_id"] is None
    assert judge["employer_name"] == "山东大学机械工程学院"
    assert judge["availability"] == [{"start": "2026-10-08", "end": "2026-10-12"}]
    assert judge["version"] == 1
    replay = await services.judging.post(
        "/v1/judges", json=body, headers={**admin_headers, "Idempotency-Key": "judge-create-1"}
    )
    assert replay.json()["id"] == judge["id"]
    assert await audit_count(services, "judge.create") == 1

    got = await services.judging.get(f"/v1/judges/{judge['id']}", headers=admin_headers)
    assert got.status_code == 200
    assert got.headers["etag"] == '"1"'

    patched = await services.judging.patch(
        f"/v1/judges/{judge['id']}",
        json={"qualification": "national_judge", "occupations": ["数控车工", "数控铣工"]},
        headers={**admin_headers, "If-Match": '"1"'},
    )
    assert patched.status_code == 200, patched.text
    assert patched.headers["etag"] == '"2"'
    assert patched.json()["qualification"] == "national_judge"
    assert await audit_count(services, "judge.update") == 1

    stale = await services.judging.patch(
        f"/v1/judges/{judge['id']}",
        json={"qualification": "city_judge"},
        headers={**admin_headers, "If-Match": '"1"'},
    )
    assert_problem(stale, 412)
    again = await services.judging.get(f"/v1/judges/{judge['id']}", headers=admin_headers)
    assert again.json()["qualification"] == "national_judge"
    assert await audit_count(services, "judge.update") == 1

    for field in ("kind", "worker_id"):
        fixed = await services.judging.patch(
            f"/v1/judges/{judge['id']}",
            json={field: None},
            headers={**admin_headers, "If-Match": '"2"'},
        )
        assert assert_problem(fixed, 422)["errors"][0]["field"] == field
    cleared = await services.judging.patch(
        f"/v1/judges/{judge['id']}",
        json={"locality_code": None},
        headers={**admin_headers, "If-Match": '"2"'},
    )
    assert assert_problem(cleared, 422)["errors"][0]["field"] == "locality_code"


async def test_worker_judge_takes_facts_from_the_registry(
    services: Services, admin_headers: dict[str, str]
) -> None:
    firm = await enterprise(services, "370200")
    w = await worker(services, enterprise_id=firm.id, locality_code="370200")
    judge = await create_judge(
        services,
        admin_headers,
        kind="worker",
        worker_id=str(w.id),
        name=None,
        employer_name=None,
        locality_code=None,
    )
    assert judge["name"] == w.name
    assert judge["enterprise_id"] == str(firm.id)
    assert judge["locality_code"] == "370200"

    duplicate = await services.judging.post(
        "/v1/judges",
        json={"kind": "worker", "worker_id": str(w.id), **_rest()},
        headers=admin_headers,
    )
    assert assert_problem(duplicate, 409)["field"] == "worker_id"

    unknown = await services.judging.post(
        "/v1/judges",
        json={"kind": "worker", "worker_id": str(uuid.uuid4()), **_rest()},
        headers=admin_headers,
    )
    assert assert_problem(unknown, 422)["errors"][0]["field"] == "worker_id"
    assert await audit_count(services, "judge.create") == 1


def _rest() -> dict[str, object]:
    return {"occupations": ["数控车工"], "qualification": "city_judge"}


async def test_invalid_judges_are_refused_naming_the_field(
    services: Services, admin_headers: dict[str, str]
) -> None:
    cases = [
        ({**EXPERT, "employer_name": None}, "employer_name"),
        ({**EXPERT, "locality_code": None}, "locality_code"),
        ({"kind": "worker", **_rest()}, "worker_id"),
        ({**EXPERT, "worker_id": str(uuid.uuid4())}, "worker_id"),
        ({**EXPERT, "locality_code": "379900"}, "locality_code"),  # the registry knows none
        ({**EXPERT, "locality_code": "37010"}, "locality_code"),
        ({**EXPERT, "occupations": []}, "occupations"),
        ({**EXPERT, "qualification": "world_judge"}, "qualification"),
        (
            {
                **EXPERT,
                "availability": [
                    {"start": "2026-10-01", "end": "2026-10-06"},
                    {"start": "2026-10-05", "end": "2026-10-08"},
                ],
            },
            "availability",
        ),
        (
            {**EXPERT, "availability": [{"start": "2026-10-05", "end": "2026-10-01"}]},
            "availability[0]",
        ),
    ]
    for body, field in cases:
        response = await services.judging.post("/v1/judges", json=body, headers=admin_headers)
        problem = assert_problem(response, 422)
        assert problem["errors"][0]["field"] == field, (field, problem)
    listed = await services.judging.get("/v1/judges", headers=admin_headers)
    assert listed.json()["items"] == []


async def test_account_link_is_unique_and_maps_a_judge_token(
    services: Services, admin_headers: dict[str, str]
) -> None:
    judge_headers = await login(services, "judge.liu", "judge")
    sub = await sub_of(services, judge_headers)
    mine = await create_judge(services, admin_headers, account_sub=sub)
    other = await create_judge(services, admin_headers, name="王立新")

    taken = await services.judging.post(
        "/v1/judges", json={**EXPERT, "account_sub": sub}, headers=admin_headers
    )
    assert assert_problem(taken, 409)["field"] == "account_sub"
    relink = await services.judging.patch(
        f"/v1/judges/{other['id']}",
        json={"account_sub": sub},
        headers=await matching(services.judging, f"/v1/judges/{other['id']}", admin_headers),
    )
    assert_problem(relink, 409)

    me = await services.judging.get("/v1/judges/me", headers=judge_headers)
    assert me.status_code == 200, me.text
    assert me.json()["id"] == mine["id"]
    own = await services.judging.get(f"/v1/judges/{mine['id']}", headers=judge_headers)
    assert own.status_code == 200
    assert_problem(
        await services.judging.get(f"/v1/judges/{other['id']}", headers=judge_headers), 403
    )
    listed = await services.judging.get("/v1/judges", headers=judge_headers)
    assert [j["id"] for j in listed.json()["items"]] == [mine["id"]]
    assert_problem(
        await services.judging.patch(
            f"/v1/judges/{mine['id']}", json={"name": "刘某"}, headers=judge_headers
        ),
        403,
    )
    assert_problem(await services.judging.get("/v1/judges/me", headers=admin_headers), 403)
    unlinked = await login(services, "judge.nobody", "judge")
    assert_problem(await services.judging.get("/v1/judges/me", headers=unlinked), 404)


async def test_organisers_manage_judges_of_their_scope_only(
    services: Services, admin_headers: dict[str, str]
) -> None:
    jinan = await login(services, "jinan.org", "organiser", locality_code="370100")
    qingdao = await login(services, "qd.org", "organiser", locality_code="370200")
    worker_headers = await login(services, "some.worker", "worker")

    in_scope = await create_judge(services, jinan, locality_code="370100")
    assert in_scope["created_by"] == await sub_of(services, jinan)
    refused = await services.judging.post("/v1/judges", json=EXPERT, headers=qingdao)
    assert_problem(refused, 403)
    qd_judge = await create_judge(services, qingdao, locality_code="370200", name="青岛专家")

    assert_problem(await services.judging.get(f"/v1/judges/{in_scope['id']}", headers=qingdao), 403)
    before = (await services.judging.get(f"/v1/judges/{in_scope['id']}", headers=jinan)).json()
    assert_problem(
        await services.judging.patch(
            f"/v1/judges/{in_scope['id']}", json={"name": "改名"}, headers=qingdao
        ),
        403,
    )
    # Nor may an organiser move their judge out of their scope.
    assert_problem(
        await services.judging.patch(
            f"/v1/judges/{in_scope['id']}",
            json={"locality_code": "370200"},
            headers={**jinan, "If-Match": '"1"'},
        ),
        403,
    )
    after = (await services.judging.get(f"/v1/judges/{in_scope['id']}", headers=jinan)).json()
    assert after == before

    listed = await services.judging.get("/v1/judges", headers=jinan)
    assert [j["id"] for j in listed.json()["items"]] == [in_scope["id"]]
    everyone = await services.judging.get("/v1/judges", headers=admin_headers)
    assert {j["id"] for j in everyone.json()["items"]} == {in_scope["id"], qd_judge["id"]}

    for response in (
        await services.judging.post("/v1/judges", json=EXPERT, headers=worker_headers),
        await services.judging.get("/v1/judges", headers=worker_headers),
        await services.judging.get(f"/v1/judges/{in_scope['id']}", headers=worker_headers),
    ):
        assert_problem(response, 403)
    assert_problem(await services.judging.get("/v1/judges"), 401)


async def test_list_filters_and_pages(services: Services, admin_headers: dict[str, str]) -> None:
    a = await create_judge(services, admin_headers, occupations=["数控车工"])
    b = await create_judge(
        services, admin_headers, occupations=["焊工"], qualification="national_judge"
    )
    c = await create_judge(services, admin_headers, occupations=["焊工"], locality_code="370200")
    welders = await services.judging.get(
        "/v1/judges", params={"occupation": "焊工"}, headers=admin_headers
    )
    assert [j["id"] for j in welders.json()["items"]] == [b["id"], c["id"]]
    national = await services.judging.get(
        "/v1/judges", params={"qualification": "national_judge"}, headers=admin_headers
    )
    assert [j["id"] for j in national.json()["items"]] == [b["id"]]
    qingdao = await services.judging.get(
        "/v1/judges", params={"locality_code": "370200"}, headers=admin_headers
    )
    assert [j["id"] for j in qingdao.json()["items"]] == [c["id"]]
    first = await services.judging.get("/v1/judges", params={"limit": 2}, headers=admin_headers)
    page = first.json()
    second = await services.judging.get(
        "/v1/judges", params={"limit": 2, "cursor": page["next_cursor"]}, headers=admin_headers
    )
    ids = [j["id"] for j in page["items"]] + [j["id"] for j in second.json()["items"]]
    assert ids == [a["id"], b["id"], c["id"]]
    assert second.json()["next_cursor"] is None
    missing = await services.judging.get(f"/v1/judges/{uuid.uuid4()}", headers=admin_headers)
    assert_problem(missing, 404)


async def test_delete_a_judge(services: Services, admin_headers: dict[str, str]) -> None:
    jinan = await login(services, "jinan.org", "organiser", locality_code="370100")
    qingdao = await login(services, "qd.org", "organiser", locality_code="370200")
    judge = await create_judge(services, jinan)
    other = await create_judge(services, admin_headers, name="王立新")
    declared = await services.judging.post(
        f"/v1/judges/{judge['id']}/declared-conflicts",
        json={"worker_id": str((await worker(services)).id), "reason": "亲属"},
        headers=jinan,
    )
    assert declared.status_code == 201, declared.text
    url = f"/v1/judges/{judge['id']}"
    assert_problem(await services.judging.delete(url, headers=qingdao), 403)
    assert_problem(await services.judging.delete(url, headers={**jinan, "If-Match": '"7"'}), 412)
    assert (await services.judging.get(url, headers=jinan)).status_code == 200
    deleted = await services.judging.delete(url, headers={**jinan, "If-Match": '"1"'})
    assert deleted.status_code == 204, deleted.text
    assert_problem(await services.judging.get(url, headers=admin_headers), 404)
    assert_problem(await services.judging.delete(url, headers=admin_headers), 404)
    assert (
        await services.judging.get(f"/v1/judges/{other['id']}", headers=admin_headers)
    ).status_code == 200
    assert await audit_count(services, "judge.delete") == 1
