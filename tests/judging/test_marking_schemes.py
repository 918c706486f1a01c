"""Marking schemes: the rules (each refusal naming its path), versions, If-Match, freezing,
and who may read and write them."""

from __future__ import annotations

import asyncio
import copy
import uuid
from typing import Any

from services.judging.marking.schemas import SCHEME_EXAMPLE
from tests.conftest import Services, assert_problem
from tests.judging.helpers import audit_count, login, stage_with_entries

DESCRIPTORS = ["不合格", "基本达到", "达到要求", "优秀"]


def scheme(**overrides: Any) -> dict[str, Any]:
    body = copy.deepcopy(SCHEME_EXAMPLE)
    body.update(overrides)
    return body


def aspect(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """criteria[c].sub_criteria[s].aspects[a] given as "c.s.a"."""
    c, s, a = (int(i) for i in path.split("."))
    found: dict[str, Any] = body["criteria"][c]["sub_criteria"][s]["aspects"][a]
    return found


async def _stage(services: Services, admin_headers: dict[str, str], **kw: Any) -> uuid.UUID:
    setup = await stage_with_entries(
        services, admin_headers, organiser_locality_code="370100", **kw
    )
    return setup.stage_id


async def test_versions_current_and_if_match(
    services: Services, admin_headers: dict[str, str]
) -> None:
    stage_id = await _stage(services, admin_headers)
    url = f"/v1/stages/{stage_id}/marking-schemes"
    assert_problem(await services.judging.get(url + "/current", headers=admin_headers), 404)

    first = await services.judging.post(url, json=scheme(), headers=admin_headers)
    assert first.status_code == 201, first.text
    v1 = first.json()
    assert v1["version"] == 1
    assert first.headers["location"] == f"{url}/versions/1"
    assert v1["total"] == 100
    assert v1["component_marks"] == {"theory": 30, "practical": 70}
    assert [c["code"] for c in v1["criteria"]] == ["A", "B"]
    assert [s["code"] for s in v1["criteria"][1]["sub_criteria"]] == ["B1", "B2"]
    judged = v1["criteria"][1]["sub_criteria"][1]["aspects"][0]
    assert judged["code"] == "B2.1"
    assert judged["type"] == "judgement"
    assert len(judged["descriptors"]) == 4
    assert v1["criteria"][1]["max_mark"] == 70
    assert v1["frozen"] is False

    second_body = scheme(title="数控车工市级初赛评分标准（修订）")
    stale_none = await services.judging.post(
        url, json=second_body, headers={**admin_headers, "If-Match": '"0"'}
    )
    assert_problem(stale_none, 412)
    second = await services.judging.post(
        url, json=second_body, headers={**admin_headers, "If-Match": '"1"'}
    )
    assert second.status_code == 201, second.text
    assert second.json()["version"] == 2
    stale = await services.judging.post(
        url, json=scheme(title="并发的另一次修改"), headers={**admin_headers, "If-Match": '"1"'}
    )
    assert_problem(stale, 412)

    current = await services.judging.get(url + "/current", headers=admin_headers)
    assert current.json()["version"] == 2
    assert current.headers["etag"] == '"2"'
    old = await services.judging.get(url + "/versions/1", headers=admin_headers)
    assert old.json()["title"] == SCHEME_EXAMPLE["title"]
    assert old.json()["criteria"] == v1["criteria"]  # aspect ids kept per version
    assert_problem(await services.judging.get(url + "/versions/3", headers=admin_headers), 404)
    listed = await services.judging.get(url, headers=admin_headers)
    assert [v["version"] for v in listed.json()["items"]] == [1, 2]
    assert await audit_count(services, "marking_scheme.save") == 2


async def test_each_rule_is_refused_naming_the_path(
    services: Services, admin_headers: dict[str, str]
) -> None:
    stage_id = await _stage(services, admin_headers)
    url = f"/v1/stages/{stage_id}/marking-schemes"

    def mutate(change: Any) -> dict[str, Any]:
        body = scheme()
        change(body)
        return body

    def set_(path: str, **values: Any) -> Any:
        return lambda body: aspect(path, body).update(values)

    def pop(path: str, key: str) -> Any:
        return lambda body: aspect(path, body).pop(key)

    cases: list[tuple[dict[str, Any], str, str]] = [
        # The practical aspects total 65, not 70: named at the criterion holding them.
        (
            mutate(set_("1.0.0", max_mark=55, allowed_values=[0, 55])),
            "criteria[1]",
            "its practical aspects total 65; all the practical aspects total 65, but the "
            "practical weight is 70",
        ),
        (
            mutate(lambda b: b.update(components=[{"component": "practical", "weight": 100}])),
            "components",
            "theory is missing: give the stage's components (theory 30, practical 70)",
        ),
        (
            mutate(lambda b: b.update(components=[{"component": "practical", "weight": 100}])),
            "components[0].weight",
            "the stage weighs practical 70",
        ),
        (
            mutate(
                lambda b: b.update(
                    components=[
                        {"component": "practical", "weight": 70},
                        {"component": "practical", "weight": 70},
                    ]
                )
            ),
            "components[1].component",
            "practical is given twice",
        ),
        (
            mutate(
                lambda b: b.update(
                    components=[
                        {"component": "theory", "weight": 40},
                        {"component": "practical", "weight": 60},
                    ]
                )
            ),
            "components[0].weight",
            "the stage weighs theory 30",
        ),
        (
            mutate(set_("0.0.0", component="defence")),
            "criteria[0].sub_criteria[0].aspects[0].component",
            "not a component",
        ),
        (
            mutate(pop("1.1.0", "descriptors")),
            "criteria[1].sub_criteria[1].aspects[0].descriptors",
            "required",
        ),
        (
            mutate(set_("1.1.0", descriptors=DESCRIPTORS[:3])),
            "criteria[1].sub_criteria[1].aspects[0].descriptors",
            "exactly 4",
        ),
        (
            mutate(set_("1.1.0", descriptors=["差", "中", " ", "优"])),
            "criteria[1].sub_criteria[1].aspects[0].descriptors[2]",
            "blank",
        ),
        (
            mutate(set_("1.1.0", allowed_values=[0, 10])),
            "criteria[1].sub_criteria[1].aspects[0].allowed_values",
            "0-3 scale",
        ),
        (
            mutate(set_("1.0.0", allowed_values=[0, 30])),
            "criteria[1].sub_criteria[0].aspects[0].allowed_values",
            "highest allowed value",
        ),
        (
            mutate(set_("1.0.0", allowed_values=[0, 61])),
            "criteria[1].sub_criteria[0].aspects[0].allowed_values",
            "between 0 and max_mark",
        ),
        (
            mutate(set_("1.0.0", allowed_values=[0, 60, 60])),
            "criteria[1].sub_criteria[0].aspects[0].allowed_values",
            "distinct",
        ),
        (
            mutate(set_("0.0.0", descriptors=DESCRIPTORS)),
            "criteria[0].sub_criteria[0].aspects[0].descriptors",
            "only judgement",
        ),
        (
            mutate(lambda b: b["criteria"][1].update(max_mark=60)),
            "criteria[1].max_mark",
            "its aspects total 70",
        ),
        (
            mutate(lambda b: b["criteria"][1]["sub_criteria"][0].update(max_mark=50)),
            "criteria[1].sub_criteria[0].max_mark",
            "its aspects total 60",
        ),
        # Theory aspects worth 40 and practical 60, totalling 100 against weights 30/70.
        (
            mutate(
                lambda b: (
                    aspect("0.0.0", b).update(max_mark=40),
                    aspect("1.0.0", b).update(max_mark=50, allowed_values=[0, 50]),
                    b["criteria"][1].pop("max_mark"),
                )
            ),
            "criteria[0]",
            "its theory aspects total 40; all the theory aspects total 40, but the theory "
            "weight is 30",
        ),
        (
            mutate(set_("1.0.0", max_mark=0)),
            "criteria[1].sub_criteria[0].aspects[0].max_mark",
            "greater than 0",
        ),
        (
            mutate(set_("1.0.0", type="estimate")),
            "criteria[1].sub_criteria[0].aspects[0].type",
            "",
        ),
        (mutate(lambda b: b.update(criteria=[])), "criteria", ""),
    ]
    for body, field, message in cases:
        response = await services.judging.post(url, json=body, headers=admin_headers)
        problem = assert_problem(response, 422)
        errors: dict[str, str] = {}
        for error in problem["errors"]:
            errors[error["field"]] = errors.get(error["field"], "") + " | " + error["message"]
        assert field in errors, (field, problem)
        assert message in errors[field], (message, errors[field])
    assert_problem(await services.judging.get(url + "/current", headers=admin_headers), 404)
    assert await audit_count(services, "marking_scheme.save") == 0


async def test_a_practical_only_stage(services: Services, admin_headers: dict[str, str]) -> None:
    stage_id = await _stage(
        services, admin_headers, components=[{"component": "practical", "weight": 100}]
    )
    body = {
        "title": "实操评分",
        "components": [{"component": "practical", "weight": 100}],
        "criteria": [
            {
                "name": "加工",
                "sub_criteria": [
                    {
                        "name": "精度",
                        "aspects": [
                            {
                                "description": f"尺寸{i}",
                                "component": "practical",
                                "type": "measurement",
                                "max_mark": 12.5,
                            }
                            for i in range(8)
                        ],
                    }
                ],
            }
        ],
    }
    response = await services.judging.post(
        f"/v1/stages/{stage_id}/marking-schemes", json=body, headers=admin_headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["component_marks"] == {"practical": 100}


async def test_freezing_stops_new_versions(
    services: Services, admin_headers: dict[str, str]
) -> None:
    stage_id = await _stage(services, admin_headers)
    url = f"/v1/stages/{stage_id}/marking-schemes"
    assert_problem(await services.judging.post(url + "/freeze", headers=admin_headers), 409)
    await services.judging.post(url, json=scheme(), headers=admin_headers)

    frozen = await services.judging.post(url + "/freeze", headers=admin_headers)
    assert frozen.status_code == 200, frozen.text
    assert frozen.json()["frozen"] is True
    assert frozen.json()["version"] == 1
    again = await services.judging.post(url + "/freeze", headers=admin_headers)
    assert again.json()["frozen_at"] == frozen.json()["frozen_at"]
    assert await audit_count(services, "marking_scheme.freeze") == 1

    refused = await services.judging.post(url, json=scheme(), headers=admin_headers)
    assert "frozen" in assert_problem(refused, 409)["detail"]
    listed = await services.judging.get(url, headers=admin_headers)
    assert [v["version"] for v in listed.json()["items"]] == [1]
    assert await audit_count(services, "marking_scheme.save") == 1


async def test_who_may_read_and_write_schemes(
    services: Services, admin_headers: dict[str, str]
) -> None:
    stage_id = await _stage(services, admin_headers)  # a Jinan competition
    url = f"/v1/stages/{stage_id}/marking-schemes"
    jinan = await login(services, "jinan.org", "organiser", locality_code="370100")
    qingdao = await login(services, "qd.org", "organiser", locality_code="370200")
    judge = await login(services, "judge.li", "judge")
    worker_headers = await login(services, "a.worker", "worker")

    saved = await services.judging.post(url, json=scheme(), headers=jinan)
    assert saved.status_code == 201, saved.text
    for headers in (qingdao, judge, worker_headers):
        assert_problem(await services.judging.post(url, json=scheme(), headers=headers), 403)
        assert_problem(await services.judging.post(url + "/freeze", headers=headers), 403)
    for headers in (qingdao, worker_headers):
        assert_problem(await services.judging.get(url + "/current", headers=headers), 403)
        assert_problem(await services.judging.get(url, headers=headers), 403)
    for headers in (jinan, judge, admin_headers):
        current = await services.judging.get(url + "/current", headers=headers)
        assert current.status_code == 200, current.text
        assert current.json()["version"] == 1
    assert_problem(await services.judging.get(url + "/current"), 401)

    unknown = f"/v1/stages/{uuid.uuid4()}/marking-schemes"
    assert_problem(await services.judging.post(unknown, json=scheme(), headers=admin_headers), 404)
    assert_problem(await services.judging.get(unknown + "/current", headers=admin_headers), 404)
    assert await audit_count(services, "marking_scheme.save") == 1


async def test_concurrent_saves_get_distinct_versions(
    services: Services, admin_headers: dict[str, str]
) -> None:
    stage_id = await _stage(services, admin_headers)
    url = f"/v1/stages/{stage_id}/marking-schemes"
    # Four editors save over the same version (none yet: If-Match "0"): exactly one wins, the
    # others are told the scheme changed since they read it.
    responses = await asyncio.gather(
        *(
            services.judging.post(
                url,
                json=scheme(title=f"并发保存 {i}"),
                headers={**admin_headers, "if-match": '"0"'},
            )
            for i in range(4)
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 412, 412, 412]
    winner = next(r for r in responses if r.status_code == 201)
    assert winner.json()["version"] == 1
    # Each later save over the version it read gets the next version.
    etag = winner.headers["etag"]
    for version in (2, 3):
        saved = await services.judging.post(
            url, json=scheme(title=f"第{version}版"), headers={**admin_headers, "if-match": etag}
        )
        assert saved.status_code == 201, saved.text
        assert saved.json()["version"] == version
        etag = saved.headers["etag"]
