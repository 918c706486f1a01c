"""Set-ups for the tests of competitions at every level: workers in the registry, city
qualifiers whose final results are in judging's tables (the end-to-end test judges them through
the real endpoints instead), and a provincial event fed by them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from shared.models.competitions import CompetitionLevel, CompetitionStatus
from tests.conftest import Services
from tests.factories import make_competition, make_event
from tests.judging.awards_setup import final_results
from tests.judging.helpers import StageSetup, stage_with_entries, worker

CITY_NAMES = {"370100": "济南市", "370200": "青岛市", "371300": "临沂市"}


@dataclass
class City:
    code: str
    setup: StageSetup
    #: Workers in rank order (rank i+1 unless `ranks` said otherwise).
    workers: list[uuid.UUID]
    qualifier_id: uuid.UUID | None = None
    ranks: list[int] = field(default_factory=list)

    @property
    def entries(self) -> list[uuid.UUID]:
        return self.setup.entries


async def city_qualifier(
    services: Services,
    admin: dict[str, str],
    code: str,
    *,
    births: list[date] | None = None,
    ranks: list[int] | None = None,
    final: bool = True,
) -> City:
    """A city's 数控车工 competition, its competitors (Chinese names, of that city) ranked by
    `ranks` (default 1, 2, 3...) in final results."""
    births = births or [date(1990, 1, 1 + i) for i in range(4)]
    workers = [(await worker(services, locality_code=code, birth_date=b)).id for b in births]
    setup = await stage_with_entries(
        services,
        admin,
        [{"worker_id": w, "locality_code": code} for w in workers],
        level=CompetitionLevel.city,
        organiser_locality_code=code,
    )
    ranks = ranks or list(range(1, len(workers) + 1))
    if final:
        await final_results(
            services,
            admin,
            setup,
            [(e, r, None, 95.0 - 3 * r) for e, r in zip(setup.entries, ranks, strict=True)],
            inputs={"components": [{"component": "practical", "weight": 100}]},
        )
    return City(code, setup, workers, ranks=ranks)


@dataclass
class Province:
    competition_id: uuid.UUID
    event_id: uuid.UUID


async def provincial_event(services: Services, **rules: Any) -> Province:
    """The provincial 数控车工 competition (registration closed: places come by nomination)."""
    async with services.apps["competitions"].state.sessionmaker() as s, s.begin():
        competition = await make_competition(
            s,
            name="2026年山东省数控车工职业技能竞赛",
            status=CompetitionStatus.registration_closed,
            starts_on=date(2026, 12, 10),
        )
        event = await make_event(s, competition, name="数控车工（职工组）", **rules)
    return Province(competition.id, event.id)


async def declare(
    services: Services, admin: dict[str, str], province: Province, **settings: Any
) -> dict[str, Any]:
    current = await services.competitions.get(
        f"/v1/events/{province.event_id}/pathway", headers=admin
    )
    body = {"direct_places": 1, **settings}
    response = await services.competitions.put(
        f"/v1/events/{province.event_id}/pathway",
        json=body,
        headers={**admin, "If-Match": current.headers["etag"]},
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def link(
    services: Services,
    admin: dict[str, str],
    province: Province,
    city: City,
    quota: int = 2,
    basis: str = "qualifier",
) -> uuid.UUID:
    response = await services.competitions.post(
        f"/v1/events/{province.event_id}/pathway/qualifiers",
        json={"qualifier_event_id": str(city.setup.event_id), "quota": quota, "quota_basis": basis},
        headers=admin,
    )
    assert response.status_code == 201, response.text
    city.qualifier_id = uuid.UUID(response.json()["id"])
    return city.qualifier_id


async def suggestions(services: Services, headers: dict[str, str], city: City) -> dict[str, Any]:
    response = await services.competitions.get(
        f"/v1/pathway-qualifiers/{city.qualifier_id}/suggestions", headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def nominate(
    services: Services, headers: dict[str, str], city: City, entries: list[uuid.UUID]
) -> list[dict[str, Any]]:
    response = await services.competitions.post(
        f"/v1/pathway-qualifiers/{city.qualifier_id}/nominations",
        json={"entry_ids": [str(e) for e in entries]},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items
