"""Factories for valid domain objects: identity numbers, credit codes, enterprises, workers,
competitions, events and entries (inserted directly, for tests of neighbouring areas)."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.cn import ric, uscc

from shared.crypto import PersonalDataCipher, mask_id_number
from shared.models.competitions import (
    Competition,
    CompetitionKind,
    CompetitionLevel,
    CompetitionStatus,
    Entry,
    EntryStatus,
    Event,
    EventMode,
)
from shared.models.registry import (
    Enterprise,
    EnterpriseSize,
    FileType,
    Industry,
    Sex,
    SkillGrade,
    Worker,
)

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英建国志强海燕晓东红梅立新春华"
# County-level codes in Shandong (GB/T 2260) for the region part of identity numbers.
REGIONS = [
    "370102",
    "370203",
    "370303",
    "370402",
    "370502",
    "370602",
    "370702",
    "370811",
    "370902",
    "371002",
    "371102",
    "371302",
    "371402",
    "371502",
    "371602",
    "371702",
]


def identity_number(
    birth: date | None = None,
    sex: Sex | None = None,
    region: str | None = None,
    rng: random.Random | None = None,
) -> str:
    """A valid 18-character resident identity number (GB 11643) with a correct check digit."""
    rng = rng or random.Random()
    birth = birth or date(1970, 1, 1) + timedelta(days=rng.randrange(0, 365 * 35))
    sex = sex or rng.choice(list(Sex))
    seq = rng.randrange(0, 99) * 10 + rng.choice(
        [1, 3, 5, 7, 9] if sex is Sex.male else [0, 2, 4, 6, 8]
    )
    body = f"{region or rng.choice(REGIONS)}{birth:%Y%m%d}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")  # it expects a placeholder check digit


def credit_code(rng: random.Random | None = None) -> str:
    """A valid 18-character unified social credit code (GB 32100)."""
    rng = rng or random.Random()
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = "91" + rng.choice(REGIONS) + "".join(rng.choice(alphabet) for _ in range(9))
    return body + uscc.calc_check_digit(body)


def chinese_name(rng: random.Random | None = None) -> str:
    rng = rng or random.Random()
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2])))


async def make_enterprise(session: AsyncSession, **overrides: Any) -> Enterprise:
    """Insert an enterprise directly (for tests of other areas; its own API is tested via HTTP)."""
    values: dict[str, Any] = {
        "credit_code": credit_code(),
        "name": "山东" + uuid.uuid4().hex[:6] + "机械制造有限公司",
        "locality_code": "370100",
        "industry": Industry.high_end_equipment,
        "size": EnterpriseSize.large,
    }
    values.update(overrides)
    enterprise = Enterprise(**values)
    session.add(enterprise)
    await session.flush()
    return enterprise


#: Identity numbers make_worker has handed out in this process. Workers share a birth date and
#: sex unless a test says otherwise, which leaves 16 regions x 495 sequence numbers: about a 2%
#: chance that a test making 20 workers drew the same number twice (the unique index then
#: failed the test at random).
_ISSUED: set[str] = set()


def _unused_identity_number(birth: date, sex: Sex) -> str:
    for _ in range(1000):
        number = identity_number(birth, sex)
        if number not in _ISSUED:
            _ISSUED.add(number)
            return number
    _ISSUED.clear()  # (nearly) all drawn: tests use fresh databases, start over
    return _unused_identity_number(birth, sex)


async def make_worker(
    session: AsyncSession, cipher: PersonalDataCipher, **overrides: Any
) -> Worker:
    """Insert a worker directly, personal data encrypted as the registry stores it."""
    sex = overrides.pop("sex", Sex.male)
    birth = overrides.pop("birth_date", date(1985, 6, 15))
    number = overrides.pop("id_number", None) or _unused_identity_number(birth, sex)
    grade = overrides.pop("grade", SkillGrade.senior)
    values: dict[str, Any] = {
        "name": chinese_name(),
        "id_number_hash": cipher.lookup_hash(number),
        "id_number_enc": cipher.encrypt(number),
        "id_number_masked": mask_id_number(number),
        "sex": sex,
        "birth_date": birth,
        "occupation": "数控车工",
        "locality_code": "370100",
        "grade": grade,
        "file_type": FileType.for_grade(grade),
    }
    values.update(overrides)
    worker = Worker(**values)
    session.add(worker)
    await session.flush()
    return worker


async def make_competition(session: AsyncSession, **overrides: Any) -> Competition:
    """Insert a competition directly (tests of other competitions areas)."""
    values: dict[str, Any] = {
        "name": "2026年山东省数控车工职业技能竞赛",
        "kind": CompetitionKind.skill_competition,
        "level": CompetitionLevel.provincial,
        "year": 2026,
        "organiser_locality_code": "370000",
        "status": CompetitionStatus.registration_open,
        "starts_on": date(2026, 12, 10),
        "created_by": "factory",
    }
    values.update(overrides)
    competition = Competition(**values)
    session.add(competition)
    await session.flush()
    return competition


async def make_event(session: AsyncSession, competition: Competition, **overrides: Any) -> Event:
    values: dict[str, Any] = {
        "competition_id": competition.id,
        "name": "数控车工",
        "occupation": "数控车工",
        "mode": EventMode.individual,
        "capacity": 100,
    }
    values.update(overrides)
    event = Event(**values)
    session.add(event)
    await session.flush()
    return event


async def make_entry(
    session: AsyncSession, event: Event, worker_id: uuid.UUID | None = None, **overrides: Any
) -> Entry:
    values: dict[str, Any] = {
        "competition_id": event.competition_id,
        "event_id": event.id,
        "worker_id": worker_id or uuid.uuid4(),
        "locality_code": "370100",
        "status": EntryStatus.approved,
        "registered_by": "factory",
    }
    values.update(overrides)
    entry = Entry(**values)
    session.add(entry)
    await session.flush()
    return entry
