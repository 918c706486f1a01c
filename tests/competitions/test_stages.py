"""Stages: rules and components, seeding, advancement rules and overrides, blind codes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import func, select

from shared.errors import Conflict, RuleViolation
from shared.models.competitions import (
    Advancement,
    EntryStatus,
    Event,
    Stage,
    StageEntry,
)
from shared.models.infra import AuditLog, OutboxEvent
from tests.conftest import (
    Services,
    assert_problem,
    bearer,
    create_account,
    get_token,
    matching,
)
from tests.factories import make_competition, make_entry, make_event

FIRST = {
    "name": "市级初赛",
    "seq": 1,
    "components": [
        {"component": "theory", "weight": 30},
        {"component": "practical", "weight": 70},
    ],
    "advancement_rule": "top_n",
    "advancement_value": 3,
    "starts_on": "2026-10-10",
    "ends_on": "2026-10-11",
}
FINAL = {
    "name": "省级决赛",
    "seq": 2,
    "components": [{"component": "practical", "weight": 100}],
}


@dataclass
class Setup:
    event_id: uuid.UUID
    competition_id: uuid.UUID
    #: Entries in creation order (approved).
    entries: list[uuid.UUID] = field(default_factory=list)
    workers: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)


async def setup_event(
    services: Services, localities: list[str], *, extra_statuses: bool = False
) -> Setup:
    """A Jinan competition with one event and approved entries from the given localities."""
    async with services.apps["competitions"].state.sessionmaker() as s, s.begin():
        competition = await make_competition(
            s, organiser_locality_code="370100", level="city", name="2026年济南市数控车工竞赛"
        )
        event = await make_event(s, competition)
        out = Setup(event_id=event.id, competition_id=competition.id)
        for code in localities:
            entry = await make_entry(s, event, locality_code=code)
            out.entries.append(entry.id)
            assert entry.worker_id is not None
            out.workers[entry.id] = entry.worker_id
        if extra_statuses:
            await make_entry(s, event, status=EntryStatus.pending)
            await make_entry(s, event, status=EntryStatus.withdrawn)
            checked_in = await make_entry(s, event, status=EntryStatus.checked_in)
            out.entries.append(checked_in.id)
    return out


async def count(services: Services, model: Any, *where: Any) -> int:
    async with services.apps["competitions"].state.sessionmaker() as session:
        stmt = select(func.count()).select_from(model)
        for clause in where:
            stmt = stmt.where(clause)
        return int(await session.scalar(stmt) or 0)


async def organiser(services: Services, name: str, locality: str) -> dict[str, str]:
    await create_account(services, name, "organiser", locality_code=locality)
    return bearer(await get_token(services, name))


async def account(services: Services, name: str, role: str) -> dict[str, str]:
    await create_account(services, name, role)
    return bearer(await get_token(services, name))


async def machine(services: Services, admin: dict[str, str], scope: str) -> dict[str, str]:
    created = await services.registry.post(
        "/v1/machine-clients", json={"name": f"judging {scope}", "scopes": [scope]}, headers=admin
    )
    assert created.status_code == 201, created.text
    token = await services.registry.post(
        "/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": created.json()["client_id"],
            "client_secret": created.json()["client_secret"],
        },
    )
    return bearer(token.json()["access_token"])


async def two_stages(
    services: Services,
    headers: dict[str, str],
    setup: Setup,
    rule: str = "top_n",
    value: float = 3,
) -> tuple[str, str]:
    first = await services.competitions.post(
        f"/v1/events/{setup.event_id}/stages",
        json={**FIRST, "advancement_rule": rule, "advancement_value": value},
        headers=headers,
    )
    assert first.status_code == 201, first.text
    final = await services.competitions.post(
        f"/v1/events/{setup.event_id}/stages", json=FINAL, headers=headers
    )
    assert final.status_code == 201, final.text
    seeded = await services.competitions.post(
        f"/v1/stages/{first.json()['id']}/entries:seed", headers=headers
    )
    assert seeded.status_code == 200, seeded.text
    return first.json()["id"], final.json()["id"]


def ranking(entries: list[uuid.UUID], ranks: list[int], scores: list[float]) -> list[Any]:
    return [
        {"entry_id": str(e), "rank": r, "score": s}
        for e, r, s in zip(entries, ranks, scores, strict=True)
    ]


async def advance(
    services: Services, headers: dict[str, str], stage_id: str, next_id: str, ranked: list[Any]
) -> Any:
    return await services.competitions.put(
        f"/v1/stages/{stage_id}/advancement",
        json={"next_stage_id": next_id, "ranking": ranked},
        headers=headers,
    )


# --- stages -------------------------------------------------------------------------------


async def test_create_list_get_and_patch_a_stage(
    services: Services, admin_headers: dict[str, str]
) -> None:
    setup = await setup_event(services, [])
    headers = await organiser(services, "jinan.org", "370100")
    created = await services.competitions.post(
        f"/v1/events/{setup.event_id}/stages", json=FIRST, headers=headers
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "planned"
    assert body["advancement_value"] == 3
    assert body["competition_id"] == str(setup.competition_id)
    assert created.headers["location"] == f"/v1/stages/{body['id']}"
    final = await services.competitions.post(
        f"/v1/events/{setup.event_id}/stages", json=FINAL, headers=headers
    )
    assert final.status_code == 201, final.text
    listed = await services.competitions.get(f"/v1/events/{setup.event_id}/stages", headers=headers)
    assert [s["seq"] for s in listed.json()["items"]] == [1, 2]

    got = await services.competitions.get(f"/v1/stages/{body['id']}", headers=headers)
    assert got.headers["etag"] == '"1"'
    patched = await services.competitions.patch(
        f"/v1/stages/{body['id']}",
        json={"advancement_rule": "top_percent", "advancement_value": 25},
        headers={**headers, "if-match": '"1"'},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["advancement_rule"] == "top_percent"
    assert patched.headers["etag"] == '"2"'
    stale = await services.competitions.patch(
        f"/v1/stages/{body['id']}", json={"name": "初赛"}, headers={**headers, "if-match": '"1"'}
    )
    assert_problem(stale, 412)
    missing = await services.competitions.patch(
        f"/v1/stages/{body['id']}", json={"name": "初赛"}, headers=headers
    )
    assert assert_problem(missing, 428)["current_etag"] == '"2"'
    # The first stage is followed by another: its rule cannot be removed.
    cleared = await services.competitions.patch(
        f"/v1/stages/{body['id']}",
        json={"advancement_rule": None},
        headers={**headers, "if-match": '"2"'},
    )
    assert assert_problem(cleared, 422)["errors"][0]["field"] == "advancement_rule"
    actions = await count(services, AuditLog, AuditLog.entity_id == body["id"])
    assert actions == 2  # create and one update


async def test_components_validation(services: Services, admin_headers: dict[str, str]) -> None:
    setup = await setup_event(services, [])
    url = f"/v1/events/{setup.event_id}/stages"
    bad = [
        [{"component": "theory", "weight": 30}, {"component": "practical", "weight": 60}],
        [{"component": "theory", "weight": 50}, {"component": "theory", "weight": 50}],
        [{"component": "singing", "weight": 100}],
        [],
    ]
    for components in bad:
        response = await services.competitions.post(
            url, json={**FIRST, "components": components}, headers=admin_headers
        )
        body = assert_problem(response, 422)
        assert str(body["errors"][0]["field"]).startswith("components"), body
    sums = await services.competitions.post(
        url, json={**FIRST, "components": bad[0]}, headers=admin_headers
    )
    assert "sum to 100" in str(sums.json()["detail"])
    twice = await services.competitions.post(
        url, json={**FIRST, "components": bad[1]}, headers=admin_headers
    )
    assert "theory" in str(twice.json()["detail"])
    assert await count(services, Stage) == 0


async def test_rule_values_seq_and_last_stage(
    services: Services, admin_headers: dict[str, str]
) -> None:
    setup = await setup_event(services, [])
    url = f"/v1/events/{setup.event_id}/stages"
    for rule, value in [
        ("top_n", 0),
        ("top_n", 2.5),
        ("top_n_per_locality", 0),
        ("top_percent", 0),
        ("top_percent", 101),
        ("min_score", -1),
        ("top_n", None),
    ]:
        response = await services.competitions.post(
            url,
            json={**FIRST, "advancement_rule": rule, "advancement_value": value},
            headers=admin_headers,
        )
        body = assert_problem(response, 422)
        assert body["errors"][0]["field"] == "advancement_value", (rule, value)
    dates = await services.competitions.post(
        url, json={**FIRST, "ends_on": "2026-10-01"}, headers=admin_headers
    )
    assert assert_problem(dates, 422)["errors"][0]["field"] == "ends_on"
    assert await count(services, Stage) == 0

    # A final stage may go without a rule...
    final = await services.competitions.post(url, json={**FINAL, "seq": 2}, headers=admin_headers)
    assert final.status_code == 201
    # ...but not a stage placed before it, and seqs are unique.
    no_rule = await services.competitions.post(url, json={**FINAL, "seq": 1}, headers=admin_headers)
    assert assert_problem(no_rule, 422)["errors"][0]["field"] == "advancement_rule"
    clash = await services.competitions.post(url, json={**FIRST, "seq": 2}, headers=admin_headers)
    assert "seq 2" in str(assert_problem(clash, 409)["detail"])
    after_open = await services.competitions.post(
        url, json={**FINAL, "seq": 3}, headers=admin_headers
    )
    assert "no advancement rule" in str(assert_problem(after_open, 409)["detail"])
    assert await count(services, Stage) == 1
    missing = await services.competitions.post(
        f"/v1/events/{uuid.uuid4()}/stages", json=FIRST, headers=admin_headers
    )
    assert_problem(missing, 404)


async def test_stage_writes_refused_to_other_roles(
    services: Services, admin_headers: dict[str, str]
) -> None:
    setup = await setup_event(services, ["370100"])
    stage = (
        await services.competitions.post(
            f"/v1/events/{setup.event_id}/stages", json=FIRST, headers=admin_headers
        )
    ).json()
    qingdao = await organiser(services, "qingdao.org", "370200")
    worker = await account(services, "wang.wei", "worker")
    judge = await account(services, "judge.li", "judge")
    for headers in (qingdao, worker, judge):
        url = f"/v1/events/{setup.event_id}/stages"
        assert_problem(
            await services.competitions.post(url, json={**FIRST, "seq": 5}, headers=headers), 403
        )
        assert_problem(
            await services.competitions.patch(
                f"/v1/stages/{stage['id']}", json={"name": "改名"}, headers=headers
            ),
            403,
        )
        for path in ("entries:seed", "blind-codes", "lock"):
            assert_problem(
                await services.competitions.post(
                    f"/v1/stages/{stage['id']}/{path}", headers=headers
                ),
                403,
            )
        assert_problem(
            await services.competitions.post(
                f"/v1/stages/{stage['id']}/advancement-overrides",
                json={"entry_id": str(setup.entries[0]), "include": True, "reason": "理由充分"},
                headers=headers,
            ),
            403,
        )
        assert_problem(await advance(services, headers, stage["id"], str(uuid.uuid4()), []), 403)
    # The worker does not read stage entries either; nothing changed.
    assert_problem(
        await services.competitions.get(f"/v1/stages/{stage['id']}/stage-entries", headers=worker),
        403,
    )
    # The organiser in scope may not lock a stage: only judging (or an admin) does.
    jinan = await organiser(services, "jinan.org", "370100")
    assert_problem(
        await services.competitions.post(f"/v1/stages/{stage['id']}/lock", headers=jinan), 403
    )
    assert await count(services, StageEntry) == 0
    assert await count(services, Stage) == 1
    got = await services.competitions.get(f"/v1/stages/{stage['id']}", headers=admin_headers)
    assert got.json()["name"] == FIRST["name"]
    assert got.json()["status"] == "planned"


# --- seeding ------------------------------------------------------------------------------


async def test_seed_is_idempotent_and_first_stage_only(
    services: Services, admin_headers: dict[str, str]
) -> None:
    setup = await setup_event(services, ["370100", "370200"], extra_statuses=True)
    first, final = await two_stages(services, admin_headers, setup)
    assert await count(services, StageEntry, StageEntry.stage_id == uuid.UUID(first)) == 3
    # A late approval: seeding again adds only it.
    async with services.apps["competitions"].state.sessionmaker() as s, s.begin():
        event = await s.get(Event, setup.event_id)
        assert event is not None
        await make_entry(s, event)
    again = await services.competitions.post(
        f"/v1/stages/{first}/entries:seed", headers=admin_headers
    )
    assert again.json() == {"stage_id": first, "added": 1, "total": 4}
    third = await services.competitions.post(
        f"/v1/stages/{first}/entries:seed", headers=admin_headers
    )
    assert third.json()["added"] == 0
    later = await services.competitions.post(
        f"/v1/stages/{final}/entries:seed", headers=admin_headers
    )
    assert_problem(later, 409)
    assert await count(services, StageEntry) == 4


# --- advancement rules --------------------------------------------------------------------


async def test_top_n_with_ties_at_the_boundary(
    services: Services, admin_headers: dict[str, str]
) -> None:
    setup = await setup_event(services, ["370100"] * 5)
    first, final = await two_stages(services, admin_headers, setup, "top_n", 3)
    e = setup.entries
    ranked = ranking(e, [1, 2, 3, 3, 5], [95, 90, 88, 88, 80])
    response = await advance(services, admin_headers, first, final, ranked)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body["qualified_entry_ids"]) == {str(x) for x in e[:4]}
    assert body["qualified_entry_ids"][:2] == [str(e[0]), str(e[1])]
    # The next stage has the qualifiers, active; this stage's entries carry rank and status.
    next_entries = await services.competitions.get(
        f"/v1/stages/{final}/stage-entries", headers=admin_headers
    )
    assert {x["entry_id"] for x in next_entries.json()["items"]} == {str(x) for x in e[:4]}
    assert {x["status"] for x in next_entries.json()["items"]} == {"active"}
    mine = await services.competitions.get(
        f"/v1/stages/{first}/stage-entries", headers=admin_headers
    )
    by_entry = {x["entry_id"]: x for x in mine.json()["items"]}
    assert by_entry[str(e[3])]["status"] == "advanced"
    assert by_entry[str(e[3])]["rank"] == 3
    assert by_entry[str(e[4])]["status"] == "eliminated"
    assert by_entry[str(e[4])]["score"] == 80
    stage = await services.competitions.get(f"/v1/stages/{first}", headers=admin_headers)
    assert stage.json()["status"] == "advanced"
    record = await services.competitions.get(
        f"/v1/stages/{first}/advancement", headers=admin_headers
    )
    assert record.json() == body
    worker = await account(services, "wang.wei", "worker")
    assert_problem(
        await services.competitions.get(f"/v1/stages/{first}/advancement", headers=worker), 403
    )
    # The event for outside systems.
    async with services.apps["competitions"].state.sessionmaker() as session:
        events = (
            await session.scalars(select(OutboxEvent).where(OutboxEvent.type == "stage.advanced"))
        ).all()
    assert len(events) == 1
    assert events[0].payload["data"] == {
        "stage_id": first,
        "next_stage_id": final,
        "event_id": str(setup.event_id),
        "competition_id": str(setup.competition_id),
        "organiser_locality_code": "370100",
        "qualified_count": 4,
    }
    # The rule is fixed now.
    current = await matching(services.competitions, f"/v1/stages/{first}", admin_headers)
    refused = await services.competitions.patch(
        f"/v1/stages/{first}", json={"advancement_value": 4}, headers=current
    )
    assert "advancement_value" in str(assert_problem(refused, 409)["detail"])
    renamed = await services.competitions.patch(
        f"/v1/stages/{first}", json={"name": "市级初赛（复核）"}, headers=current
    )
    assert renamed.status_code == 200


async def test_top_n_per_locality_applies_regional_quotas(
    services: Services, admin_headers: dict[str, str]
) -> None:
    # Jinan 3 entries, Qingdao 3, Zibo 2; N = 2 per locality.
    localities = ["370100", "370200", "370100", "370300", "370200", "370100", "370200", "370300"]
    setup = await setup_event(services, localities)
    first, final = await two_stages(services, admin_headers, setup, "top_n_per_locality", 2)
    e = setup.entries
    # Global ranks 1..8 in entry order: Jinan e0,e2 (e5 third); Qingdao e1,e4 (e6 third);
    # Zibo e3,e7 (both, though ranked 4th and 8th overall).
    ranked = ranking(e, list(range(1, 9)), [99, 98, 97, 96, 95, 94, 93, 92])
    response = await advance(services, admin_headers, first, final, ranked)
    assert response.status_code == 201, response.text
    qualified = set(response.json()["qualified_entry_ids"])
    assert qualified == {str(e[i]) for i in (0, 2, 1, 4, 3, 7)}
    assert str(e[5]) not in qualified
    assert str(e[6]) not in qualified
    assert await count(services, StageEntry, StageEntry.stage_id == uuid.UUID(final)) == 6


async def test_top_n_per_locality_ties_at_the_quota(
    services: Services, admin_headers: dict[str, str]
) -> None:
    setup = await setup_event(services, ["370100", "370100", "370100", "370200"])
    first, final = await two_stages(services, admin_headers, setup, "top_n_per_locality", 1)
    e = setup.entries
    ranked = ranking(e, [1, 1, 3, 4], [90, 90, 80, 70])
    response = await advance(services, admin_headers, first, final, ranked)
    assert set(response.json()["qualified_entry_ids"]) == {str(e[0]), str(e[1]), str(e[3])}


async def test_top_percent_rounds_up(services: Services, admin_headers: dict[str, str]) -> None:
    setup = await setup_event(services, ["370100"] * 7)
    first, final = await two_stages(services, admin_headers, setup, "top_percent", 30)
    e = setup.entries
    # 30 % of 7 = 2.1: three places.
    ranked = ranking(e, list(range(1, 8)), [90, 85, 80, 75, 70, 65, 60])
    response = await advance(services, admin_headers, first, final, ranked)
    assert response.json()["qualified_entry_ids"] == [str(x) for x in e[:3]]


async def test_min_score(services: Services, admin_headers: dict[str, str]) -> None:
    setup = await setup_event(services, ["370100"] * 4)
    first, final = await two_stages(services, admin_headers, setup, "min_score", 80)
    e = setup.entries
    ranked = ranking(e, [1, 2, 3, 4], [92.5, 80, 79.999, 60])
    response = await advance(services, admin_headers, first, final, ranked)
    assert response.json()["qualified_entry_ids"] == [str(e[0]), str(e[1])]


async def test_include_and_exclude_overrides(
    services: Services, admin_headers: dict[str, str]
) -> None:
    setup = await setup_event(services, ["370100"] * 5)
    jinan = await organiser(services, "jinan.org", "370100")
    first, final = await two_stages(services, jinan, setup, "top_n", 2)
    e = setup.entries
    url = f"/v1/stages/{first}/advancement-overrides"
    include = await services.competitions.post(
        url,
        json={"entry_id": str(e[4]), "include": True, "reason": "设备故障，仲裁后晋级"},
        headers=jinan,
    )
    assert include.status_code == 201, include.text
    exclude = await services.competitions.post(
        url, json={"entry_id": str(e[1]), "include": False, "reason": "违规操作"}, headers=jinan
    )
    assert exclude.status_code == 201
    no_reason = await services.competitions.post(
        url, json={"entry_id": str(e[2]), "include": True}, headers=jinan
    )
    assert assert_problem(no_reason, 422)["errors"][0]["field"] == "reason"
    stranger = await services.competitions.post(
        url, json={"entry_id": str(uuid.uuid4()), "include": True, "reason": "理由"}, headers=jinan
    )
    assert assert_problem(stranger, 422)["errors"][0]["field"] == "entry_id"
    listed = await services.competitions.get(url, headers=jinan)
    assert [o["include"] for o in listed.json()] == [True, False]
    audits = await count(services, AuditLog, AuditLog.action == "stage.advancement_override")
    assert audits == 2

    ranked = ranking(e, [1, 2, 3, 4, 5], [95, 90, 85, 80, 75])
    response = await advance(services, jinan, first, final, ranked)
    body = response.json()
    assert body["qualified_entry_ids"] == [str(e[0]), str(e[4])]
    assert body["included_by_override"] == [str(e[4])]
    assert body["excluded_by_override"] == [str(e[1])]
    entries = await services.competitions.get(
        f"/v1/stages/{final}/stage-entries", headers=admin_headers
    )
    flags = {x["entry_id"]: x["by_override"] for x in entries.json()["items"]}
    assert flags == {str(e[0]): False, str(e[4]): True}
    # Overrides are closed once the stage is advanced.
    late = await services.competitions.post(
        url, json={"entry_id": str(e[2]), "include": True, "reason": "补录"}, headers=jinan
    )
    assert_problem(late, 409)


async def test_advancement_is_idempotent_and_final(
    services: Services, admin_headers: dict[str, str]
) -> None:
    setup = await setup_event(services, ["370100"] * 3)
    first, final = await two_stages(services, admin_headers, setup, "top_n", 1)
    judging = await machine(services, admin_headers, "internal")
    e = setup.entries
    ranked = ranking(e, [1, 2, 3], [90, 80, 70])
    applied = await advance(services, judging, first, final, ranked)
    assert applied.status_code == 201, applied.text
    # The same ranking in another order and with equal numbers is the same request.
    replay = await advance(
        services, judging, first, final, [ranked[2], {**ranked[0], "score": 90.0}, ranked[1]]
    )
    assert replay.status_code == 200
    assert replay.json() == applied.json()
    assert await count(services, Advancement) == 1
    assert await count(services, StageEntry, StageEntry.stage_id == uuid.UUID(final)) == 1
    assert await count(services, OutboxEvent, OutboxEvent.type == "stage.advanced") == 1
    different = await advance(services, judging, first, final, ranking(e, [1, 2, 3], [70, 80, 90]))
    assert "different ranking" in str(assert_problem(different, 409)["detail"])
    assert await count(services, StageEntry, StageEntry.stage_id == uuid.UUID(final)) == 1
    # A machine client without `internal` may not apply advancement.
    reader = await machine(services, admin_headers, "competitions:read")
    assert_problem(await advance(services, reader, first, final, ranked), 403)


async def test_ranking_validation(services: Services, admin_headers: dict[str, str]) -> None:
    setup = await setup_event(services, ["370100"] * 3)
    first, final = await two_stages(services, admin_headers, setup, "top_n", 1)
    e = setup.entries
    stranger = uuid.uuid4()
    unknown = await advance(
        services,
        admin_headers,
        first,
        final,
        ranking([e[0], stranger, e[1]], [1, 2, 3], [90, 80, 70]),
    )
    body = assert_problem(unknown, 422)
    assert body["unknown_entry_ids"] == [str(stranger)]
    assert body["errors"][0]["field"] == "ranking[1].entry_id"
    twice = await advance(
        services, admin_headers, first, final, ranking([e[0], e[0]], [1, 2], [90, 80])
    )
    assert_problem(twice, 422)
    # The next stage must be a later stage of the same event.
    backwards = await advance(services, admin_headers, final, first, [])
    assert_problem(backwards, 409)  # the final stage has no rule
    itself = await advance(services, admin_headers, first, first, ranking(e, [1, 2, 3], [3, 2, 1]))
    assert assert_problem(itself, 422)["errors"][0]["field"] == "next_stage_id"
    other = await setup_event(services, [])
    elsewhere = (
        await services.competitions.post(
            f"/v1/events/{other.event_id}/stages", json=FINAL, headers=admin_headers
        )
    ).json()
    foreign = await advance(
        services, admin_headers, first, elsewhere["id"], ranking(e, [1, 2, 3], [3, 2, 1])
    )
    assert_problem(foreign, 422)
    # Nothing changed.
    assert await count(services, Advancement) == 0
    assert await count(services, StageEntry, StageEntry.stage_id == uuid.UUID(final)) == 0
    stage = await services.competitions.get(f"/v1/stages/{first}", headers=admin_headers)
    assert stage.json()["status"] == "planned"
    assert_problem(
        await services.competitions.get(f"/v1/stages/{first}/advancement", headers=admin_headers),
        404,
    )


# --- blind codes --------------------------------------------------------------------------


async def test_blind_codes_hidden_until_judging_locks(
    services: Services, admin_headers: dict[str, str]
) -> None:
    setup = await setup_event(services, ["370100"] * 12)
    jinan = await organiser(services, "jinan.org", "370100")
    qingdao = await organiser(services, "qingdao.org", "370200")
    judge = await account(services, "judge.li", "judge")
    first, _ = await two_stages(services, jinan, setup)
    assigned = await services.competitions.post(f"/v1/stages/{first}/blind-codes", headers=jinan)
    assert assigned.json() == {"stage_id": first, "assigned": 12, "total": 12, "workstations": True}
    url = f"/v1/stages/{first}/stage-entries"
    items = (await services.competitions.get(url, headers=admin_headers)).json()["items"]
    codes = [x["blind_code"] for x in items]
    assert len(set(codes)) == 12
    assert all(len(c) == 6 and set(c) <= set("ACDEFHJKLMNPRTUVWXY3479") for c in codes)
    assert sorted(x["workstation_no"] for x in items) == list(range(1, 13))
    assert {x["entry_id"] for x in items} == {str(x) for x in setup.entries}
    # Idempotent: codes are kept.
    again = await services.competitions.post(f"/v1/stages/{first}/blind-codes", headers=jinan)
    assert again.json()["assigned"] == 0
    after = (await services.competitions.get(url, headers=admin_headers)).json()["items"]
    assert [(x["id"], x["blind_code"], x["workstation_no"]) for x in after] == [
        (x["id"], x["blind_code"], x["workstation_no"]) for x in items
    ]

    # Before the lock, judges and organisers see codes only; the mapping is for admins.
    for headers in (jinan, judge):
        seen = (await services.competitions.get(url, headers=headers)).json()["items"]
        assert {x["blind_code"] for x in seen} == set(codes)
        assert all(x["entry_id"] is None and x["worker_id"] is None for x in seen)
        assert_problem(
            await services.competitions.get(
                f"/v1/stages/{first}/blind-codes:mapping", headers=headers
            ),
            403,
        )
    assert_problem(await services.competitions.get(url, headers=qingdao), 403)
    mapping = await services.competitions.get(
        f"/v1/stages/{first}/blind-codes:mapping", headers=admin_headers
    )
    assert {m["blind_code"]: m["entry_id"] for m in mapping.json()} == {
        x["blind_code"]: x["entry_id"] for x in items
    }
    assert mapping.json()[0]["worker_id"] == str(
        setup.workers[uuid.UUID(mapping.json()[0]["entry_id"])]
    )

    # Judging locks the stage: the mapping is revealed to organisers and on the listing.
    judging = await machine(services, admin_headers, "internal")
    locked = await services.competitions.post(f"/v1/stages/{first}/lock", headers=judging)
    assert locked.json()["status"] == "judged"
    relocked = await services.competitions.post(f"/v1/stages/{first}/lock", headers=judging)
    assert relocked.status_code == 200
    for headers in (jinan, judge):
        seen = (await services.competitions.get(url, headers=headers)).json()["items"]
        assert {x["blind_code"]: x["entry_id"] for x in seen} == {
            x["blind_code"]: x["entry_id"] for x in items
        }
    revealed = await services.competitions.get(
        f"/v1/stages/{first}/blind-codes:mapping", headers=jinan
    )
    assert revealed.json() == mapping.json()
    for headers in (judge, qingdao):
        assert_problem(
            await services.competitions.get(
                f"/v1/stages/{first}/blind-codes:mapping", headers=headers
            ),
            403,
        )
    # Codes no longer change.
    assert_problem(
        await services.competitions.post(f"/v1/stages/{first}/blind-codes", headers=jinan), 409
    )


async def test_blind_codes_without_practical_have_no_workstations(
    services: Services, admin_headers: dict[str, str]
) -> None:
    setup = await setup_event(services, ["370100"] * 3)
    stage = await services.competitions.post(
        f"/v1/events/{setup.event_id}/stages",
        json={**FINAL, "seq": 1, "components": [{"component": "theory", "weight": 100}]},
        headers=admin_headers,
    )
    stage_id = stage.json()["id"]
    await services.competitions.post(f"/v1/stages/{stage_id}/entries:seed", headers=admin_headers)
    assigned = await services.competitions.post(
        f"/v1/stages/{stage_id}/blind-codes", headers=admin_headers
    )
    assert assigned.json()["workstations"] is False
    items = (
        await services.competitions.get(
            f"/v1/stages/{stage_id}/stage-entries", headers=admin_headers
        )
    ).json()["items"]
    assert [x["workstation_no"] for x in items] == [None, None, None]
    assert all(x["blind_code"] for x in items)


async def test_judging_reaches_advancement_through_its_client(
    services: Services, admin_headers: dict[str, str]
) -> None:
    setup = await setup_event(services, ["370100"] * 3)
    first, final = await two_stages(services, admin_headers, setup, "top_n", 2)
    judging = await machine(services, admin_headers, "internal")
    token = judging["authorization"].removeprefix("Bearer ")
    client = services.apps["judging"].state.clients.competitions
    locked = await client.lock_stage(first, token=token)
    assert locked["status"] == "judged"
    ranked = ranking(setup.entries, [1, 2, 3], [90, 80, 70])
    with pytest.raises(RuleViolation):
        await client.apply_advancement(first, next_stage_id=first, ranking=ranked, token=token)
    record = await client.apply_advancement(first, next_stage_id=final, ranking=ranked, token=token)
    assert len(record["qualified_entry_ids"]) == 2
    again = await client.apply_advancement(first, next_stage_id=final, ranking=ranked, token=token)
    assert again == record
    with pytest.raises(Conflict):
        await client.apply_advancement(first, next_stage_id=final, ranking=ranked[:2], token=token)
