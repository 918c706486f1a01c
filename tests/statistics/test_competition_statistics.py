"""Competitions and judging statistics through HTTP, compared with SQL written here: competitions
held, entries and participants, finalists and winners; scope; summaries equal to a rebuild."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text, update

from shared.models.competitions import (
    CompetitionKind,
    CompetitionLevel,
    CompetitionStatus,
    Entry,
    EntryMember,
    EntryStatus,
)
from shared.models.judging import ResultEntry, ResultStatus, StageResult
from shared.models.statistics import JudgingStageFacts
from shared.stats.rebuild import differences
from tests.conftest import Services, bearer, create_account, get_token
from tests.factories import make_competition, make_entry, make_event
from tests.statistics.helpers import check_figure

THRESHOLD = 5
PLACES = ["370100", "370102", "370200", "370211", "370300"]
Headers = dict[str, str]


@pytest.fixture
async def admin(services: Services) -> Headers:
    await create_account(services, "stats.admin", "admin")
    return bearer(await get_token(services, "stats.admin"))


async def sql(services: Services, service: str, query: str, **params: Any) -> list[Any]:
    app = services.apps[service]
    async with app.state.sessionmaker() as session:
        return list((await session.execute(text(query), params)).all())


async def competitions_flow(services: Services, seed: int = 4) -> list[uuid.UUID]:
    """Competitions at every level in three cities (a draft too), entries with their members,
    then changes: withdrawals (members inactive), a competition's level corrected, a draft
    opened."""
    rng = random.Random(seed)
    app = services.apps["competitions"]
    ids = []
    async with app.state.sessionmaker() as session, session.begin():
        for i in range(14):
            competition = await make_competition(
                session,
                name=f"竞赛{i}",
                level=rng.choice(list(CompetitionLevel)),
                kind=rng.choice(list(CompetitionKind)),
                organiser_locality_code=rng.choice(PLACES),
                status=CompetitionStatus.draft if i == 0 else CompetitionStatus.registration_open,
                year=2026,
                starts_on=date(2026, rng.randrange(1, 13), 5),
            )
            ids.append(competition.id)
            event = await make_event(session, competition)
            for _ in range(rng.randrange(2, 14)):
                team = rng.random() < 0.3
                entry = await make_entry(
                    session,
                    event,
                    locality_code=rng.choice(PLACES),
                    status=rng.choice(
                        [EntryStatus.approved, EntryStatus.pending, EntryStatus.waitlisted]
                    ),
                )
                members = [entry.worker_id] + ([uuid.uuid4(), uuid.uuid4()] if team else [])
                for n, worker in enumerate(members):
                    session.add(
                        EntryMember(
                            entry_id=entry.id,
                            worker_id=worker,
                            event_id=event.id,
                            role="leader" if n == 0 else "member",
                        )
                    )
                await session.flush()
    async with app.state.sessionmaker() as session, session.begin():
        entries = list((await session.execute(text("SELECT id FROM entries"))).scalars())
        withdrawn = rng.sample(entries, 8)
        await session.execute(
            update(Entry).where(Entry.id.in_(withdrawn)).values(status=EntryStatus.withdrawn)
        )
        await session.execute(
            update(EntryMember).where(EntryMember.entry_id.in_(withdrawn)).values(active=False)
        )
        await session.execute(
            text(
                "UPDATE competitions SET level = 'city', organiser_locality_code = '370211' "
                "WHERE id = :id"
            ),
            {"id": ids[3]},
        )
        await session.execute(
            text("UPDATE competitions SET status = 'registration_open' WHERE id = :id"),
            {"id": ids[0]},
        )
    return ids


async def test_competitions_entries_participants_match_sql(
    services: Services, admin: Headers
) -> None:
    await competitions_flow(services)
    client = services.competitions
    held = (
        await client.get(
            "/v1/statistics/figures",
            headers=admin,
            params={"measure": "competitions_held", "by": "city,level", "period": "2026"},
        )
    ).json()
    rows = await sql(
        services,
        "competitions",
        """
        SELECT substr(organiser_locality_code, 1, 4) || '00', level, count(*) FROM competitions
        WHERE status <> 'draft' AND extract(year FROM starts_on) = 2026 GROUP BY 1, 2""",
    )
    check_figure(held, {(r[0], r[1]): r[2] for r in rows}, threshold=THRESHOLD, people=False)

    year = datetime.now(UTC).year
    entries = (
        await client.get(
            "/v1/statistics/figures",
            headers=admin,
            params={"measure": "entries", "by": "city,entry_status", "period": str(year)},
        )
    ).json()
    rows = await sql(
        services,
        "competitions",
        """
        SELECT substr(locality_code, 1, 4) || '00', status, count(*) FROM entries
        GROUP BY 1, 2""",
    )
    check_figure(entries, {(r[0], r[1]): r[2] for r in rows}, threshold=THRESHOLD)

    people = (
        await client.get(
            "/v1/statistics/figures",
            headers=admin,
            params={"measure": "participants", "by": "county,level", "period": str(year)},
        )
    ).json()
    rows = await sql(
        services,
        "competitions",
        """
        SELECT n.locality_code, c.level, count(*) FROM entry_members m
        JOIN entries n ON n.id = m.entry_id JOIN competitions c ON c.id = n.competition_id
        WHERE m.active AND n.status IN ('pending', 'approved', 'checked_in') GROUP BY 1, 2""",
    )
    check_figure(people, {(r[0], r[1]): r[2] for r in rows}, threshold=THRESHOLD)

    # A city organiser: the competitions its city and counties organise.
    await create_account(services, "qd.stats", "organiser", locality_code="370200")
    city = bearer(await get_token(services, "qd.stats"))
    held = (
        await client.get(
            "/v1/statistics/figures",
            headers=city,
            params={"measure": "competitions_held", "by": "county", "period": "2026"},
        )
    ).json()
    rows = await sql(
        services,
        "competitions",
        """
        SELECT organiser_locality_code, count(*) FROM competitions WHERE status <> 'draft'
        AND organiser_locality_code LIKE '3702%' GROUP BY 1""",
    )
    check_figure(held, {(r[0],): r[1] for r in rows}, threshold=THRESHOLD, people=False)

    app = services.apps["competitions"]
    async with app.state.sessionmaker() as session, session.begin():
        assert await differences(session, "competitions") == {"stats_competitions_facts": 0}


async def results_flow(services: Services, seed: int = 2) -> None:
    """Final results of last stages (some with prizes), a final result that advanced to a
    later stage (not finalists), a provisional one (not yet); the stage facts recorded first or
    after, as judging may."""
    rng = random.Random(seed)
    app = services.apps["judging"]
    now = datetime.now(UTC)
    async with app.state.sessionmaker() as session, session.begin():
        for i in range(8):
            stage_id = uuid.uuid4()
            status = ResultStatus.provisional if i == 7 else ResultStatus.final
            result = StageResult(
                stage_id=stage_id,
                version=1,
                status=ResultStatus.provisional,
                digest="0" * 64,
                inputs={},
                entry_count=0,
                score_count=0,
                computed_by="t",
            )
            session.add(result)
            await session.flush()
            for rank in range(1, rng.randrange(3, 16)):
                session.add(
                    ResultEntry(
                        result_id=result.id,
                        stage_entry_id=uuid.uuid4(),
                        rank=rank,
                        score=90 - rank,
                        component_scores=[],
                        entry_id=uuid.uuid4(),
                        worker_id=uuid.uuid4(),
                        locality_code=rng.choice(PLACES),
                        prize=rng.choice(["first", "second", "third"]) if rank <= 6 else None,
                    )
                )
            await session.flush()
            facts = JudgingStageFacts(
                stage_id=stage_id,
                competition_id=uuid.uuid4(),
                competition_year=2026,
                level=rng.choice(list(CompetitionLevel)).value,
                kind=CompetitionKind.skill_competition.value,
                organiser_locality_code=rng.choice(PLACES),
            )
            if i % 2:
                session.add(facts)
                await session.flush()
            result.status = status
            result.finalised_at = now - timedelta(days=rng.randrange(0, 3))
            result.advancement = {"advanced": 3} if i == 6 else None
            await session.flush()
            if not i % 2:
                session.add(facts)
                await session.flush()


async def test_finalists_and_winners_match_sql(services: Services, admin: Headers) -> None:
    await results_flow(services)
    year = datetime.now(UTC).year
    query = """
        SELECT re.locality_code, s.level, count(*) FROM result_entries re
        JOIN stage_results r ON r.id = re.result_id
        JOIN stats_judging_stages s ON s.stage_id = r.stage_id
        WHERE r.status = 'final' AND r.advancement IS NULL {extra} GROUP BY 1, 2"""
    for measure, extra in (("finalists", ""), ("winners", "AND re.prize IS NOT NULL")):
        body = (
            await services.judging.get(
                "/v1/statistics/figures",
                headers=admin,
                params={"measure": measure, "by": "county,level", "period": str(year)},
            )
        ).json()
        rows = await sql(services, "judging", query.format(extra=extra))
        check_figure(body, {(r[0], r[1]): r[2] for r in rows}, threshold=THRESHOLD)
    app = services.apps["judging"]
    async with app.state.sessionmaker() as session, session.begin():
        assert await differences(session, "judging") == {"stats_judging_facts": 0}
