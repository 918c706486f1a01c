"""Conflicts of interest: enterprise, locality (by level), mentorship both ways, declared ones;
per judge and per stage; who may see and declare them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from shared.models.competitions import CompetitionLevel
from shared.models.registry.mentoring import MentorshipStatus
from tests.conftest import Services, assert_problem
from tests.judging.helpers import (
    StageSetup,
    audit_count,
    create_judge,
    enterprise,
    login,
    mentorship,
    stage_with_entries,
    sub_of,
    worker,
)


@dataclass
class World:
    stage: StageSetup
    judge: dict[str, Any]
    judge_headers: dict[str, str]
    #: name -> entry id
    entries: dict[str, uuid.UUID]
    #: name -> competitor worker id
    workers: dict[str, uuid.UUID]


async def world(
    services: Services,
    admin_headers: dict[str, str],
    *,
    level: CompetitionLevel = CompetitionLevel.provincial,
) -> World:
    """A Jinan worker judge at enterprise `home` and a stage with one entry per situation."""
    home = await enterprise(services, "370100")
    other = await enterprise(services, "370300")
    judge_worker = await worker(services, enterprise_id=home.id, locality_code="370100")
    names = ["colleague", "neighbour", "apprentice", "mentor", "stranger", "proposed", "teammate"]
    competitors = {
        "colleague": await worker(services, enterprise_id=home.id, locality_code="370200"),
        "neighbour": await worker(services, enterprise_id=other.id, locality_code="370100"),
        "apprentice": await worker(services, enterprise_id=other.id, locality_code="370300"),
        "mentor": await worker(services, enterprise_id=other.id, locality_code="370300"),
        "stranger": await worker(services, enterprise_id=other.id, locality_code="370300"),
        "proposed": await worker(services, enterprise_id=other.id, locality_code="370300"),
        # The entry names another enterprise, but its competitor works at the judge's.
        "teammate": await worker(services, enterprise_id=home.id, locality_code="370300"),
    }
    await mentorship(
        services, judge_worker.id, competitors["apprentice"].id, MentorshipStatus.completed
    )
    await mentorship(services, competitors["mentor"].id, judge_worker.id, MentorshipStatus.active)
    # Proposed and terminated mentorships are no relation.
    await mentorship(
        services, judge_worker.id, competitors["proposed"].id, MentorshipStatus.proposed
    )
    await mentorship(
        services, competitors["stranger"].id, judge_worker.id, MentorshipStatus.terminated
    )
    entry_enterprise = {"colleague": home.id, "teammate": other.id}
    stage = await stage_with_entries(
        services,
        admin_headers,
        [
            {
                "worker_id": competitors[n].id,
                "enterprise_id": entry_enterprise.get(n, other.id),
                "locality_code": competitors[n].locality_code,
            }
            for n in names
        ],
        level=level,
    )
    judge_headers = await login(services, "judge.zhang", "judge")
    judge = await create_judge(
        services,
        admin_headers,
        kind="worker",
        worker_id=str(judge_worker.id),
        name=None,
        employer_name=None,
        locality_code=None,
        account_sub=await sub_of(services, judge_headers),
    )
    return World(
        stage=stage,
        judge=judge,
        judge_headers=judge_headers,
        entries=dict(zip(names, stage.entries, strict=True)),
        workers={n: w.id for n, w in competitors.items()},
    )


def kinds(body: dict[str, Any], key: str = "entry_id") -> dict[str, list[str]]:
    return {str(c[key]): sorted(r["kind"] for r in c["reasons"]) for c in body["conflicts"]}


async def test_automatic_conflicts_of_a_judge(
    services: Services, admin_headers: dict[str, str]
) -> None:
    w = await world(services, admin_headers)
    response = await services.judging.get(
        f"/v1/judges/{w.judge['id']}/conflicts",
        params={"stage_id": str(w.stage.stage_id)},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["entries_checked"] == 7
    e = w.entries
    assert kinds(body) == {
        str(e["colleague"]): ["same_enterprise"],
        str(e["neighbour"]): ["same_locality"],
        str(e["apprentice"]): ["mentor"],
        str(e["mentor"]): ["apprentice"],
        str(e["teammate"]): ["same_enterprise"],
    }
    assert all(c["blind_code"] for c in body["conflicts"])
    reasons = {str(c["entry_id"]): c["reasons"] for c in body["conflicts"]}
    assert "completed" in reasons[str(e["apprentice"])][0]["detail"]
    assert "active" in reasons[str(e["mentor"])][0]["detail"]

    # The judge sees their own conflicts by blind code only, as judges see entries.
    own = await services.judging.get(
        f"/v1/judges/{w.judge['id']}/conflicts",
        params={"stage_id": str(w.stage.stage_id)},
        headers=w.judge_headers,
    )
    assert own.status_code == 200, own.text
    assert {c["entry_id"] for c in own.json()["conflicts"]} == {None}
    assert kinds(own.json(), "blind_code") == kinds(body, "blind_code")


async def test_locality_conflicts_follow_the_configured_levels(
    services: Services, admin_headers: dict[str, str]
) -> None:
    w = await world(services, admin_headers, level=CompetitionLevel.city)
    url = f"/v1/judges/{w.judge['id']}/conflicts"
    params = {"stage_id": str(w.stage.stage_id)}
    city = await services.judging.get(url, params=params, headers=admin_headers)
    assert str(w.entries["neighbour"]) not in kinds(city.json())

    settings = services.apps["judging"].state.settings
    settings.judge_local_conflict_levels = [CompetitionLevel.city, CompetitionLevel.provincial]
    configured = await services.judging.get(url, params=params, headers=admin_headers)
    assert kinds(configured.json())[str(w.entries["neighbour"])] == ["same_locality"]


async def test_declared_conflicts_by_the_judge_and_an_organiser(
    services: Services, admin_headers: dict[str, str]
) -> None:
    w = await world(services, admin_headers)
    url = f"/v1/judges/{w.judge['id']}/declared-conflicts"
    by_judge = await services.judging.post(
        url,
        json={"worker_id": str(w.workers["stranger"]), "reason": "选手系本人表弟"},
        headers=w.judge_headers,
    )
    assert by_judge.status_code == 201, by_judge.text
    assert by_judge.json()["declared_by_role"] == "judge"
    jinan = await login(services, "jinan.org", "organiser", locality_code="370100")
    by_organiser = await services.judging.post(
        url,
        json={"entry_id": str(w.entries["proposed"]), "reason": "举报：曾为该选手赛前培训"},
        headers=jinan,
    )
    assert by_organiser.status_code == 201, by_organiser.text
    assert by_organiser.json()["declared_by_role"] == "organiser"
    assert await audit_count(services, "judge.conflict.declare") == 2

    response = await services.judging.get(
        f"/v1/judges/{w.judge['id']}/conflicts",
        params={"stage_id": str(w.stage.stage_id)},
        headers=admin_headers,
    )
    found = kinds(response.json())
    assert found[str(w.entries["stranger"])] == ["declared"]
    assert found[str(w.entries["proposed"])] == ["declared"]
    listed = await services.judging.get(url, headers=w.judge_headers)
    assert [d["id"] for d in listed.json()] == [by_judge.json()["id"], by_organiser.json()["id"]]
    # The judge learns that an organiser declared a conflict, and why, but not the entry: an
    # entry id leads to the competitor behind a blind code. Its managers see it.
    assert [d["entry_id"] for d in listed.json()] == [None, None]
    assert listed.json()[1]["reason"] == "举报：曾为该选手赛前培训"
    managed = await services.judging.get(url, headers=jinan)
    assert [d["entry_id"] for d in managed.json()] == [None, str(w.entries["proposed"])]

    # Refusals change nothing.
    refusals = [
        (
            {"worker_id": str(w.workers["stranger"]), "reason": "重复申报"},
            w.judge_headers,
            409,
            None,
        ),
        (
            {
                "worker_id": str(w.workers["stranger"]),
                "entry_id": str(w.entries["stranger"]),
                "reason": "两者都给",
            },
            w.judge_headers,
            422,
            None,
        ),
        ({"worker_id": str(uuid.uuid4()), "reason": "查无此人"}, w.judge_headers, 422, "worker_id"),
        ({"entry_id": str(uuid.uuid4()), "reason": "查无此报名"}, admin_headers, 422, "entry_id"),
        (
            {"worker_id": str(w.judge["worker_id"]), "reason": "本人"},
            w.judge_headers,
            422,
            "worker_id",
        ),
    ]
    for body, headers, status, field in refusals:
        problem = assert_problem(
            await services.judging.post(url, json=body, headers=headers), status
        )
        if field:
            assert problem["errors"][0]["field"] == field
    qingdao = await login(services, "qd.org", "organiser", locality_code="370200")
    other_judge = await login(services, "judge.other", "judge")
    worker_headers = await login(services, "a.worker", "worker")
    for headers in (qingdao, other_judge, worker_headers):
        refused = await services.judging.post(
            url, json={"worker_id": str(w.workers["colleague"]), "reason": "越权"}, headers=headers
        )
        assert_problem(refused, 403)
        assert_problem(await services.judging.get(url, headers=headers), 403)
    assert await audit_count(services, "judge.conflict.declare") == 2
    listed = await services.judging.get(url, headers=admin_headers)
    assert len(listed.json()) == 2


async def test_stage_conflicts_for_every_judge(
    services: Services, admin_headers: dict[str, str]
) -> None:
    w = await world(services, admin_headers)
    # An expert of another city and enterprise: no conflict; a welder: not checked.
    await create_judge(services, admin_headers, locality_code="370500", name="东营专家")
    await create_judge(services, admin_headers, occupations=["焊工"], locality_code="370100")
    # An expert from Jinan: the neighbour's city at a provincial competition.
    jinan_expert = await create_judge(services, admin_headers, name="济南专家")

    response = await services.judging.get(
        f"/v1/stages/{w.stage.stage_id}/conflicts", headers=admin_headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["occupation"] == "数控车工"
    assert body["judges_checked"] == 3
    assert body["entries_checked"] == 7
    pairs = {
        (c["judge_id"], c["entry_id"]): [r["kind"] for r in c["reasons"]] for c in body["conflicts"]
    }
    assert pairs == {
        (w.judge["id"], str(w.entries["colleague"])): ["same_enterprise"],
        (w.judge["id"], str(w.entries["neighbour"])): ["same_locality"],
        (w.judge["id"], str(w.entries["apprentice"])): ["mentor"],
        (w.judge["id"], str(w.entries["mentor"])): ["apprentice"],
        (w.judge["id"], str(w.entries["teammate"])): ["same_enterprise"],
        (jinan_expert["id"], str(w.entries["neighbour"])): ["same_locality"],
    }


async def test_who_may_see_conflicts(services: Services, admin_headers: dict[str, str]) -> None:
    w = await world(services, admin_headers)
    jinan = await login(services, "jinan.org", "organiser", locality_code="370100")
    province = await login(services, "sd.org", "organiser", locality_code="370000")
    other_judge = await login(services, "judge.other", "judge")
    worker_headers = await login(services, "a.worker", "worker")
    judge_url = f"/v1/judges/{w.judge['id']}/conflicts"
    params = {"stage_id": str(w.stage.stage_id)}
    stage_url = f"/v1/stages/{w.stage.stage_id}/conflicts"

    # The competition is the province's: its organisers see, a city's do not.
    ok = await services.judging.get(stage_url, headers=province)
    assert ok.status_code == 200, ok.text
    assert {c["entry_id"] for c in ok.json()["conflicts"]} == {None}  # codes only
    assert (
        await services.judging.get(judge_url, params=params, headers=province)
    ).status_code == 200
    for headers in (jinan, other_judge, worker_headers):
        assert_problem(await services.judging.get(judge_url, params=params, headers=headers), 403)
    for headers in (jinan, w.judge_headers, worker_headers):
        assert_problem(await services.judging.get(stage_url, headers=headers), 403)

    assert_problem(
        await services.judging.get(
            judge_url, params={"stage_id": str(uuid.uuid4())}, headers=admin_headers
        ),
        404,
    )
    assert_problem(
        await services.judging.get(f"/v1/stages/{uuid.uuid4()}/conflicts", headers=admin_headers),
        404,
    )
    assert_problem(
        await services.judging.get(
            f"/v1/judges/{uuid.uuid4()}/conflicts", params=params, headers=admin_headers
        ),
        404,
    )
    missing_param = await services.judging.get(judge_url, headers=admin_headers)
    assert assert_problem(missing_param, 422)["errors"][0]["field"] == "stage_id"
