"""Registry statistics through HTTP, each figure compared with SQL written here over the same
rows: workers by the grade they held (a stock), registrations and grade changes (flows), the
activity measures, trends with year-on-year change, suppression, scope, and the summaries kept
by triggers equal to a rebuild from scratch after a realistic flow."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text, update

from shared.models.registry import (
    AchievementStage,
    Enterprise,
    GradeChange,
    GradeSource,
    HonourGrant,
    HonourSource,
    Industry,
    InnovationAchievement,
    Mentorship,
    MentorshipKind,
    MentorshipStatus,
    ProgrammeKind,
    ProgrammeStatus,
    Sex,
    SkillGrade,
    TechnologyArea,
    TrainingEnrolment,
    TrainingProgramme,
    Worker,
)
from shared.stats import periods as P
from shared.stats.rebuild import differences, fold
from tests.conftest import Services, assert_problem, bearer, create_account, get_token
from tests.factories import identity_number, make_enterprise, make_worker
from tests.statistics.helpers import cells, check_figure

THRESHOLD = 5
LOCALITIES = ["370102", "370103", "370100", "370202", "370211", "370300", "370303"]
GRADES = list(SkillGrade)
Headers = dict[str, str]


def months_ago(n: int, day: int = 10) -> date:
    today = P.today()
    index = P.month_index(today) - n
    return date(index // 12, index % 12 + 1, min(day, 28))


async def population(services: Services, seed: int = 7, n: int = 160) -> dict[str, Any]:
    """Workers registered over the last 40 months with grade histories, in three cities and
    their counties, three enterprises; a few retired."""
    rng = random.Random(seed)
    app = services.apps["registry"]
    async with app.state.sessionmaker() as session, session.begin():
        enterprises = [
            await make_enterprise(
                session, locality_code="370100", industry=Industry.high_end_equipment
            ),
            await make_enterprise(
                session, locality_code="370102", industry=Industry.new_generation_it
            ),
            await make_enterprise(session, locality_code="370200", industry=Industry.smart_ocean),
        ]
        for i in range(n):
            first = rng.randrange(0, 6)
            enterprise = rng.choice([*enterprises, None])
            registered = months_ago(rng.randrange(0, 40), rng.randrange(1, 28))
            # Strictly later dates, none in the future: the latest change is the grade held.
            days = [registered]
            for _ in range(rng.choice([0, 0, 1, 1, 2])):
                day = days[-1] + timedelta(days=rng.randrange(20, 400))
                if day > P.today():
                    break
                days.append(day)
            worker = await make_worker(
                session,
                app.state.cipher,
                grade=GRADES[first + len(days) - 1],
                locality_code=rng.choice(LOCALITIES),
                enterprise_id=enterprise.id if enterprise else None,
                sex=rng.choice(list(Sex)),
                birth_date=date(rng.randrange(1965, 2004), rng.randrange(1, 13), 1),
                occupation=rng.choice(["数控车工", "焊工"]),
                file_status="retired" if i % 23 == 0 else "active",
            )
            session.add(
                GradeChange(
                    worker_id=worker.id,
                    from_grade=None,
                    to_grade=GRADES[first],
                    effective_date=registered,
                    source=GradeSource.initial,
                )
            )
            for s, day in enumerate(days[1:]):
                session.add(
                    GradeChange(
                        worker_id=worker.id,
                        from_grade=GRADES[first + s],
                        to_grade=GRADES[first + s + 1],
                        effective_date=day,
                        source=rng.choice([GradeSource.certification, GradeSource.competition]),
                        source_ref=f"ref-{i}-{s}",
                    )
                )
    return {"enterprises": enterprises}


async def sql(services: Services, query: str, **params: Any) -> list[Any]:
    app = services.apps["registry"]
    async with app.state.sessionmaker() as session:
        return list((await session.execute(text(query), params)).all())


GRADE_AT = """
SELECT {group}, count(*) AS n
FROM workers w
JOIN LATERAL (
    SELECT g.to_grade FROM grade_changes g
    WHERE g.worker_id = w.id AND g.effective_date <= :end
    ORDER BY g.effective_date DESC, g.created_at DESC LIMIT 1
) AS g ON true
LEFT JOIN enterprises e ON e.id = w.enterprise_id
WHERE {where}
GROUP BY {group}
"""


async def workers_at(
    services: Services, end: date, group: str, where: str = "true", **params: Any
) -> dict[tuple[Any, ...], float]:
    """Workers by the grade of their latest change in effect at `end` (an independent way to
    the stock: no deltas)."""
    rows = await sql(services, GRADE_AT.format(group=group, where=where), end=end, **params)
    return {tuple(r[:-1]): float(r[-1]) for r in rows}


def period_end(key: str) -> date:
    p = P.parse(key)
    return P.month_start(p.last + 1) - timedelta(days=1)


@pytest.fixture
async def admin(services: Services) -> Headers:
    await create_account(services, "stats.admin", "admin")
    return bearer(await get_token(services, "stats.admin"))


async def test_workers_by_city_and_grade_match_sql_with_suppression(
    services: Services, admin: Headers
) -> None:
    await population(services)
    year = str(P.today().year)
    response = await services.registry.get(
        "/v1/statistics/figures",
        params={"measure": "workers", "by": "city,grade", "period": year},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    expected = await workers_at(
        services, period_end(year), "substr(w.locality_code, 1, 4) || '00', g.to_grade"
    )
    got = check_figure(body, expected, threshold=THRESHOLD)
    assert any(c["suppressed"] for c in got.values()), "the data should have small cells"
    assert got[(None, None)]["value"] == sum(expected.values())
    assert body["freshness"] is not None
    assert body["scope"]["label"] == "山东省"
    assert body["labels"]["grade"]["senior"] == "高级工"

    # A filter is a slice of the same table: the female cells are those of the sex x grade
    # table, so that "all" minus "female" cannot reveal a suppressed male cell.
    response = await services.registry.get(
        "/v1/statistics/figures",
        params={"measure": "workers", "by": "grade", "filter": "sex:female", "period": year},
        headers=admin,
    )
    female = response.json()
    expected_f = await workers_at(services, period_end(year), "g.to_grade", "w.sex = 'female'")
    check_figure(female, expected_f, threshold=THRESHOLD)
    full = (
        await services.registry.get(
            "/v1/statistics/figures",
            params={"measure": "workers", "by": "grade,sex", "period": year},
            headers=admin,
        )
    ).json()
    by_sex = cells(full)
    for key, cell in cells(female).items():
        assert cell["suppressed"] == by_sex[(key[0], "female")]["suppressed"]
        assert cell["value"] == by_sex[(key[0], "female")]["value"]


async def test_every_people_dimension_matches_sql(services: Services, admin: Headers) -> None:
    data = await population(services, seed=11)
    year = P.today().year
    end = period_end(str(year))
    cases = {
        "county": "w.locality_code",
        "industry": "coalesce(e.industry, 'unknown')",
        "sex": "w.sex",
        "occupation": "w.occupation",
        "file_status": "w.file_status",
        "file_type": "CASE WHEN g.to_grade = 'apprentice' THEN 'apprentice' ELSE 'technician' END",
        "age_band": f"""CASE WHEN {year} - extract(year FROM w.birth_date) < 25 THEN 'under_25'
                             WHEN {year} - extract(year FROM w.birth_date) < 35 THEN '25_34'
                             WHEN {year} - extract(year FROM w.birth_date) < 45 THEN '35_44'
                             WHEN {year} - extract(year FROM w.birth_date) < 55 THEN '45_54'
                             ELSE '55_plus' END""",
        "enterprise": "coalesce(CAST(w.enterprise_id AS text), 'unknown')",
    }
    for dim, expr in cases.items():
        response = await services.registry.get(
            "/v1/statistics/figures", params={"measure": "workers", "by": dim}, headers=admin
        )
        assert response.status_code == 200, (dim, response.text)
        check_figure(response.json(), await workers_at(services, end, expr), threshold=THRESHOLD)
    # An open-set filter restricts the rows read.
    ent = data["enterprises"][0].id
    response = await services.registry.get(
        "/v1/statistics/figures",
        params={"measure": "workers", "by": "grade", "filter": f"enterprise:{ent}"},
        headers=admin,
    )
    check_figure(
        response.json(),
        await workers_at(services, end, "g.to_grade", "w.enterprise_id = :e", e=ent),
        threshold=THRESHOLD,
    )


async def test_trends_are_stocks_and_flows_by_month_with_year_on_year(
    services: Services, admin: Headers
) -> None:
    await population(services, seed=3, n=120)
    now = P.current(P.Interval.month)
    response = await services.registry.get(
        "/v1/statistics/trends",
        params={"measure": "workers", "interval": "month", "by": "city"},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [p["key"] for p in body["periods"]][-1] == now.key
    assert len(body["periods"]) == 36
    series = {s["dims"]["city"]: s for s in body["series"]}
    for i, point in enumerate(series[None]["points"]):
        expected = await workers_at(services, period_end(point["period"]), "1")
        total = sum(expected.values())
        before = sum(
            (
                await workers_at(
                    services, period_end(P.parse(point["period"]).year_before().key), "1"
                )
            ).values()
        )
        for got, want in ((point["value"], total), (point["previous_year"], before)):
            # The total series is a margin: suppressed only when it counts 1-4 people.
            assert got == (None if 0 < want < THRESHOLD else want), point
        if point["value"] is not None and point["previous_year"] is not None:
            assert point["yoy_change"] == total - before
        else:
            assert point["yoy_change"] is None
        if i % 7 == 0:  # the city series too, on a sample of months
            by_city = await workers_at(
                services, period_end(point["period"]), "substr(w.locality_code, 1, 4) || '00'"
            )
            for city, s in series.items():
                if city is None:
                    continue
                p = s["points"][i]
                want = by_city.get((city,), 0)
                if p["suppressed"]:
                    assert want >= 0
                else:
                    assert p["value"] == want
                    assert not 0 < want < THRESHOLD

    flows = await services.registry.get(
        "/v1/statistics/trends",
        params={"measure": "workers_registered", "interval": "quarter"},
        headers=admin,
    )
    rows = await sql(
        services,
        """
        SELECT date_trunc('quarter', effective_date) AS q, count(*) FROM grade_changes
        WHERE source = 'initial' GROUP BY 1""",
    )
    by_quarter = {P.of_month(P.month_index(r[0]), P.Interval.quarter).key: r[1] for r in rows}
    for point in flows.json()["series"][0]["points"]:
        want = by_quarter.get(point["period"], 0)
        if point["suppressed"]:
            assert 0 < want < THRESHOLD or want >= THRESHOLD  # complementary allowed
        else:
            assert point["value"] == want

    changes = await services.registry.get(
        "/v1/statistics/figures",
        params={"measure": "grade_changes", "by": "source,grade", "period": str(now.year - 1)},
        headers=admin,
    )
    rows = await sql(
        services,
        """
        SELECT source, to_grade, count(*) FROM grade_changes
        WHERE source <> 'initial' AND extract(year FROM effective_date) = :y GROUP BY 1, 2""",
        y=now.year - 1,
    )
    check_figure(changes.json(), {(r[0], r[1]): r[2] for r in rows}, threshold=THRESHOLD)


async def test_scope_of_a_city_and_of_an_enterprise(services: Services, admin: Headers) -> None:
    data = await population(services, seed=5)
    await create_account(services, "jn.stats", "organiser", locality_code="370100")
    enterprise = data["enterprises"][2]
    await create_account(services, "ent.stats", "organiser", enterprise_id=enterprise.id)
    end = period_end(str(P.today().year))
    city = bearer(await get_token(services, "jn.stats"))
    body = (
        await services.registry.get(
            "/v1/statistics/figures", params={"measure": "workers", "by": "county"}, headers=city
        )
    ).json()
    assert body["scope"] == {"label": "济南市", "locality_code": "370100", "enterprise_id": None}
    check_figure(
        body,
        await workers_at(services, end, "w.locality_code", "w.locality_code LIKE '3701%'"),
        threshold=THRESHOLD,
    )
    assert all(c["dims"]["county"] in (None, "370100", "370102", "370103") for c in body["cells"])

    own = bearer(await get_token(services, "ent.stats"))
    body = (
        await services.registry.get(
            "/v1/statistics/figures", params={"measure": "workers", "by": "city"}, headers=own
        )
    ).json()
    check_figure(
        body,
        await workers_at(
            services,
            end,
            "substr(w.locality_code, 1, 4) || '00'",
            "w.enterprise_id = :e",
            e=enterprise.id,
        ),
        threshold=THRESHOLD,
    )
    # Workers, judges and machine clients without the scope are refused.
    await create_account(services, "judge.stats", "judge")
    judge = bearer(await get_token(services, "judge.stats"))
    assert_problem(
        await services.registry.get(
            "/v1/statistics/figures", params={"measure": "workers"}, headers=judge
        ),
        403,
    )


async def test_bad_requests_name_the_field(services: Services, admin: Headers) -> None:
    for params, field in [
        ({"measure": "nothing"}, "measure"),
        ({"measure": "competitions_held"}, "measure"),
        ({"measure": "workers", "by": "grade,prize"}, "by"),
        ({"measure": "workers", "by": "grade,grade"}, "by"),
        ({"measure": "workers", "period": "2025-13"}, "period"),
        ({"measure": "workers", "filter": "grade"}, "filter"),
        ({"measure": "workers", "filter": "grade:master"}, "grade"),
        ({"measure": "workers", "filter": "city:37"}, "city"),
        ({"measure": "workers", "filter": "enterprise:x"}, "enterprise"),
    ]:
        response = await services.registry.get(
            "/v1/statistics/figures", params=params, headers=admin
        )
        body = assert_problem(response, 422)
        assert field in [e["field"] for e in body["errors"]], (params, body)
    response = await services.registry.get(
        "/v1/statistics/trends",
        params={"measure": "workers", "interval": "quarter", "from": "2025-01", "to": "2025-Q3"},
        headers=admin,
    )
    assert "from" in [e["field"] for e in assert_problem(response, 422)["errors"]]


async def activity(services: Services, seed: int = 9) -> None:
    """Mentorships, programmes, enrolments with hours, honours and achievements over the last
    two years, then changes: pairs completed and terminated, a grant revoked, a worker moved to
    another city, an enterprise's industry changed."""
    rng = random.Random(seed)
    app = services.apps["registry"]
    data = await population(services, seed=seed, n=60)
    async with app.state.sessionmaker() as session, session.begin():
        workers = list((await session.execute(text("SELECT id FROM workers"))).scalars())
        apprentices = rng.sample(workers, 40)  # one active mentor each
        for apprentice in apprentices:
            mentor = rng.choice([w for w in workers if w != apprentice])
            start = months_ago(rng.randrange(1, 24))
            session.add(
                Mentorship(
                    mentor_id=mentor,
                    apprentice_id=apprentice,
                    kind=rng.choice(list(MentorshipKind)),
                    goals="数控加工",
                    planned_start_date=start,
                    planned_end_date=start + timedelta(days=365),
                    actual_start_date=start,
                    status=MentorshipStatus.active,
                )
            )
        programmes = []
        for i in range(6):
            start = months_ago(rng.randrange(1, 20))
            kind = rng.choice([k for k in ProgrammeKind if k is not ProgrammeKind.order_based])
            p = TrainingProgramme(
                kind=kind,
                title=f"培训{i}",
                locality_code=rng.choice(LOCALITIES),
                capacity=50,
                status=ProgrammeStatus.completed,
                starts_on=start,
                ends_on=start + timedelta(days=30),
                enrolled_count=0,
            )
            session.add(p)
            programmes.append(p)
        await session.flush()
        for i, w in enumerate(rng.sample(workers, 50)):
            p = rng.choice(programmes)
            session.add(
                TrainingEnrolment(
                    programme_id=p.id,
                    worker_id=w,
                    hours_credited=Decimal(rng.choice(["3.5", "8", "12.25"])) if i % 3 else None,
                    completed_at=datetime.now(UTC) - timedelta(days=rng.randrange(1, 500))
                    if i % 3
                    else None,
                )
            )
        for i, w in enumerate(rng.sample(workers, 30)):
            session.add(
                HonourGrant(
                    honour_code=rng.choice(["qilu_craftsman", "qilu_chief_technician"]),
                    worker_id=w,
                    granted_on=months_ago(rng.randrange(0, 24)),
                    source=HonourSource.nomination,
                    source_ref=f"n{i}",
                )
            )
        for i in range(12):
            session.add(
                InnovationAchievement(
                    title=f"成果{i}",
                    enterprise_id=rng.choice(data["enterprises"]).id,
                    technology_area=rng.choice(list(TechnologyArea)),
                    stage=rng.choice(list(AchievementStage)),
                )
            )
    async with app.state.sessionmaker() as session, session.begin():
        ids = list((await session.execute(text("SELECT id FROM mentorships"))).scalars())
        for i, mid in enumerate(ids[:20]):
            status = MentorshipStatus.completed if i % 2 else MentorshipStatus.terminated
            await session.execute(
                update(Mentorship)
                .where(Mentorship.id == mid)
                .values(status=status, actual_end_date=P.today())
            )
        await session.execute(
            text(
                "UPDATE honour_grants SET revoked_at = now(), revoked_by = 'x', "
                "revoke_reason = 'y' WHERE source_ref IN ('n1', 'n2', 'n3')"
            )
        )
        moved = workers[:5]
        await session.execute(
            update(Worker).where(Worker.id.in_(moved)).values(locality_code="370202")
        )
        await session.execute(
            update(Enterprise)
            .where(Enterprise.id == data["enterprises"][0].id)
            .values(industry=Industry.smart_ocean)
        )
        await session.execute(
            update(InnovationAchievement)
            .values(stage=AchievementStage.applied)
            .where(InnovationAchievement.title == "成果1")
        )


ACTIVITY_SQL = {
    "mentorships_started": """
        SELECT substr(w.locality_code, 1, 4) || '00', m.kind, count(*) FROM mentorships m
        JOIN workers w ON w.id = m.apprentice_id
        WHERE m.actual_start_date BETWEEN :start AND :end GROUP BY 1, 2""",
    "mentorships_completed": """
        SELECT substr(w.locality_code, 1, 4) || '00', m.kind, count(*) FROM mentorships m
        JOIN workers w ON w.id = m.apprentice_id WHERE m.status = 'completed'
        AND m.actual_end_date BETWEEN :start AND :end GROUP BY 1, 2""",
    "mentorships_active": """
        SELECT substr(w.locality_code, 1, 4) || '00', m.kind, count(*) FROM mentorships m
        JOIN workers w ON w.id = m.apprentice_id WHERE m.actual_start_date <= :end
        AND (m.actual_end_date IS NULL OR m.actual_end_date > :end) GROUP BY 1, 2""",
    "training_enrolments": """
        SELECT substr(w.locality_code, 1, 4) || '00', p.kind, count(*) FROM training_enrolments n
        JOIN training_programmes p ON p.id = n.programme_id JOIN workers w ON w.id = n.worker_id
        WHERE n.status = 'enrolled'
        AND CAST(n.created_at AT TIME ZONE 'Asia/Shanghai' AS date) BETWEEN :start AND :end
        GROUP BY 1, 2""",
    "training_hours": """
        SELECT substr(w.locality_code, 1, 4) || '00', p.kind, sum(n.hours_credited)
        FROM training_enrolments n
        JOIN training_programmes p ON p.id = n.programme_id JOIN workers w ON w.id = n.worker_id
        WHERE CAST(n.completed_at AT TIME ZONE 'Asia/Shanghai' AS date) BETWEEN :start AND :end
        GROUP BY 1, 2""",
    "honours_granted": """
        SELECT substr(w.locality_code, 1, 4) || '00', h.level, count(*) FROM honour_grants g
        JOIN honours h ON h.code = g.honour_code JOIN workers w ON w.id = g.worker_id
        WHERE g.granted_on BETWEEN :start AND :end GROUP BY 1, 2""",
    "honours_revoked": """
        SELECT substr(w.locality_code, 1, 4) || '00', h.level, count(*) FROM honour_grants g
        JOIN honours h ON h.code = g.honour_code JOIN workers w ON w.id = g.worker_id
        WHERE CAST(g.revoked_at AT TIME ZONE 'Asia/Shanghai' AS date) BETWEEN :start AND :end
        GROUP BY 1, 2""",
    "training_programmes": """
        SELECT substr(locality_code, 1, 4) || '00', kind, count(*) FROM training_programmes
        WHERE starts_on BETWEEN :start AND :end GROUP BY 1, 2""",
    "achievements": """
        SELECT substr(e.locality_code, 1, 4) || '00', a.technology_area, count(*)
        FROM innovation_achievements a JOIN enterprises e ON e.id = a.enterprise_id
        WHERE CAST(a.created_at AT TIME ZONE 'Asia/Shanghai' AS date) BETWEEN :start AND :end
        GROUP BY 1, 2""",
}
CATEGORY = {
    "mentorships": "mentorship_kind",
    "training": "programme_kind",
    "honours": "honour_level",
    "achievements": "technology_area",
}


async def test_activity_measures_match_sql_and_summaries_equal_a_rebuild(
    services: Services, admin: Headers
) -> None:
    await activity(services)
    for year in (P.today().year - 1, P.today().year):
        start, end = date(year, 1, 1), date(year, 12, 31)
        for measure, query in ACTIVITY_SQL.items():
            category = CATEGORY[measure.split("_")[0]]
            response = await services.registry.get(
                "/v1/statistics/figures",
                params={"measure": measure, "by": f"city,{category}", "period": str(year)},
                headers=admin,
            )
            assert response.status_code == 200, (measure, response.text)
            rows = await sql(services, query, start=start, end=end)
            people = measure not in ("training_programmes", "achievements")
            check_figure(
                response.json(),
                {(r[0], r[1]): float(r[2]) for r in rows},
                threshold=THRESHOLD,
                people=people,
            )
    app = services.apps["registry"]
    async with app.state.sessionmaker() as session, session.begin():
        assert await differences(session, "registry") == {
            "stats_registry_people": 0,
            "stats_registry_activity": 0,
        }
    # Folding the pending deltas into the summaries changes no figure.
    before = (
        await services.registry.get(
            "/v1/statistics/figures",
            headers=admin,
            params={"measure": "training_hours", "by": "city,programme_kind"},
        )
    ).json()["cells"]
    async with app.state.sessionmaker() as session, session.begin():
        # Wait for the app's own folder, if it is folding now (the lock is re-entrant).
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('stats_registry'))"))
        assert await fold(session, "registry")
        pending = await session.scalar(text("SELECT count(*) FROM stats_registry_people_pending"))
    assert pending == 0
    after = (
        await services.registry.get(
            "/v1/statistics/figures",
            headers=admin,
            params={"measure": "training_hours", "by": "city,programme_kind"},
        )
    ).json()["cells"]
    assert after == before


async def test_http_flow_appears_at_once_and_equals_a_rebuild(
    services: Services, admin: Headers
) -> None:
    """Workers registered, promoted, moved and retired through the API: the summaries follow in
    the same transaction, and a rebuild from the base tables finds the same cells."""
    app = services.apps["registry"]
    async with app.state.sessionmaker() as session, session.begin():
        enterprise = await make_enterprise(session, locality_code="370200")
    created = []
    for i in range(7):
        response = await services.registry.post(
            "/v1/workers",
            headers=admin,
            json={
                "name": "王建国",
                "id_number": identity_number(birth=date(1990, 1, 1 + i)),
                "occupation": "焊工",
                "enterprise_id": str(enterprise.id),
                "grade": "senior",
            },
        )
        assert response.status_code == 201, response.text
        created.append(response.json()["id"])

    async def figure() -> dict[tuple[Any, ...], dict[str, Any]]:
        response = await services.registry.get(
            "/v1/statistics/figures",
            params={"measure": "workers", "by": "county,grade", "filter": "city:370200"},
            headers=admin,
        )
        return cells(response.json())

    assert (await figure())[("370200", "senior")]["value"] == 7
    response = await services.registry.post(
        f"/v1/workers/{created[0]}/grade-changes",
        headers=admin,
        json={
            "to_grade": "technician",
            "effective_date": datetime.now(UTC).date().isoformat(),
            "source": "certification",
            "certificate_no": "S1",
            "issuing_body": "青岛鉴定中心",
        },
    )
    assert response.status_code == 201, response.text
    got = await figure()
    # 6 seniors published; the lone technician is suppressed, and so its complement.
    assert got[("370200", "technician")]["suppressed"]
    assert got[("370200", None)]["value"] == 7
    assert got[("370200", "senior")]["suppressed"]
    response = await services.registry.post(
        f"/v1/workers/{created[1]}/file-status",
        headers=admin,
        json={"status": "retired", "reason": "到龄退休"},
    )
    assert response.status_code in (200, 201), response.text
    async with app.state.sessionmaker() as session, session.begin():
        assert await differences(session, "registry") == {
            "stats_registry_people": 0,
            "stats_registry_activity": 0,
        }
    _ = uuid
