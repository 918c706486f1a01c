"""One clock for "today" (Asia/Shanghai) in every service.

At 2026-12-02T17:30Z it is already 3 December, 01:30, in Shanghai, where the programme runs.
Workers' files used the server's date (UTC: still the 2nd) while mentoring, honours and training
used Shanghai's, so a grade change dated today was refused as "in the future" from midnight to
08:00 in Shanghai. The clock is frozen there (`shared.clock.now`) and every date rule is tried
through HTTP; a scan of the code keeps anyone from reading another clock for a date.
"""

from __future__ import annotations

import ast
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared import clock
from shared.config import PROJECT_ROOT
from shared.models.registry import Sex
from tests.conftest import Services, assert_problem
from tests.factories import credit_code, identity_number

FROZEN = datetime(2026, 12, 2, 17, 30, tzinfo=UTC)
SHANGHAI_TODAY = date(2026, 12, 3)  # the server's (UTC) date is still the 2nd


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> datetime:
    monkeypatch.setattr(clock, "now", lambda: FROZEN)
    return FROZEN


def test_today_is_shanghais_date(frozen: datetime) -> None:
    assert clock.today() == SHANGHAI_TODAY
    assert clock.local(frozen).hour == 1
    assert clock.start_of(SHANGHAI_TODAY) == datetime(2026, 12, 2, 16, 0, tzinfo=UTC)


async def _worker(services: Services, admin: dict[str, str], born: date) -> Any:
    enterprise = await services.registry.post(
        "/v1/enterprises",
        json={
            "credit_code": credit_code(),
            "name": "济南二机床集团有限公司",
            "locality_code": "370102",
            "industry": "high_end_equipment",
            "size": "large",
        },
        headers=admin,
    )
    assert enterprise.status_code == 201, enterprise.text
    return await services.registry.post(
        "/v1/workers",
        json={
            "name": "李秀英",
            "id_number": identity_number(born, Sex.female),
            "occupation": "数控车工",
            "enterprise_id": enterprise.json()["id"],
            "grade": "senior",
        },
        headers=admin,
    )


async def test_dates_of_today_are_shanghais_in_every_rule(
    services: Services, admin_headers: dict[str, str], frozen: datetime
) -> None:
    today = SHANGHAI_TODAY.isoformat()
    tomorrow = date(2026, 12, 4).isoformat()

    # The minimum working age (16) on Shanghai's date: born on 3 Dec 2010 is 16 today.
    too_young = await _worker(services, admin_headers, date(2010, 12, 4))
    assert assert_problem(too_young, 422)["status"] == 422
    created = await _worker(services, admin_headers, date(2010, 12, 3))
    assert created.status_code == 201, created.text
    worker = created.json()["id"]

    # The file starts today: the initial grade and the employment are dated the 3rd.
    history = await services.registry.get(
        f"/v1/workers/{worker}/grade-changes", headers=admin_headers
    )
    assert history.status_code == 200, history.text
    body = history.json()
    items = body["items"] if isinstance(body, dict) else body
    assert [g["effective_date"] for g in items] == [today]

    # A grade change dated today is not "in the future"; tomorrow is.
    change = {
        "to_grade": "technician",
        "source": "certification",
        "certificate_no": "S01",
        "issuing_body": "济南市职业技能鉴定指导中心",
    }
    future = await services.registry.post(
        f"/v1/workers/{worker}/grade-changes",
        json={**change, "effective_date": tomorrow},
        headers=admin_headers,
    )
    assert assert_problem(future, 422)["errors"][0]["field"] == "effective_date"
    promoted = await services.registry.post(
        f"/v1/workers/{worker}/grade-changes",
        json={**change, "effective_date": today},
        headers=admin_headers,
    )
    assert promoted.status_code == 201, promoted.text

    # Honours: granted today is fine, tomorrow is not.
    grant = {"worker_id": worker, "source": "nomination", "citation": "齐鲁工匠"}
    late = await services.registry.post(
        "/v1/honours/qilu_craftsman/grants",
        json={**grant, "granted_on": tomorrow},
        headers=admin_headers,
    )
    assert assert_problem(late, 422)["errors"][0]["field"] == "granted_on"
    granted = await services.registry.post(
        "/v1/honours/qilu_craftsman/grants",
        json={**grant, "granted_on": today},
        headers=admin_headers,
    )
    assert granted.status_code == 201, granted.text


def _strings(value: Any, path: str = "") -> dict[str, str]:
    """Every string of a JSON document, by its path."""
    found: dict[str, str] = {}
    if isinstance(value, dict | list):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            found.update(_strings(item, f"{path}/{key}"))
    elif isinstance(value, str):
        found[path] = value
    return found


def _moved(text: str, days: int) -> str | None:
    """`text` (an ISO date, or an instant with its offset) `days` later; None if it is neither."""
    try:
        return (date.fromisoformat(text) + timedelta(days=days)).isoformat()
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (moment + timedelta(days=days)).isoformat() if "T" in text else None


@pytest.mark.parametrize("service", ["registry", "competitions", "judging"])
async def test_the_documented_examples_follow_the_day(
    services: Services, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A service that runs past midnight (Shanghai) documents today's dates, not the dates of
    the day it started: a transfer "dated today" from yesterday's document was refused as
    before the employment a worker created today began (a clean-clone run crossed midnight)."""
    client = services.client(service)
    written = (await client.get("/openapi.json")).json()
    later = clock.now() + timedelta(days=3)
    monkeypatch.setattr(clock, "now", lambda: later)
    served = (await client.get("/openapi.json")).json()

    before, after = _strings(written), _strings(served)
    assert before.keys() == after.keys()
    changed = {p: (before[p], after[p]) for p in before if before[p] != after[p]}
    # The documents have dated examples, and each one moved by exactly three days: a date
    # stays a date, an instant keeps its time of day and offset.
    assert changed, "no example moved with the day"
    wrong = {p: pair for p, pair in changed.items() if _moved(pair[0], 3) != pair[1]}
    assert not wrong
    # No example date is left from the day the service started.
    started = clock.today() - timedelta(days=3)
    stale = {p: v for p, v in after.items() if "example" in p and v.startswith(started.isoformat())}
    assert not stale
    if service == "registry":
        transfer = served["components"]["schemas"]["Transfer"]["examples"][0]
        assert transfer["date"] == clock.today().isoformat()


#: Reading a date from any clock but `shared.clock`: `date.today()`, `datetime.today()`,
#: `datetime.now(...).date()`, a time zone of one's own, or the database's date.
def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            func = node.func
            name = func.attr
            owner = func.value
            if name == "today" and isinstance(owner, ast.Name) and owner.id in ("date", "datetime"):
                found.append(f"{owner.id}.today()")
            if (
                name == "date"
                and isinstance(owner, ast.Call)
                and isinstance(owner.func, ast.Attribute)
                and owner.func.attr == "now"
            ):
                found.append("datetime.now(...).date()")
            if name == "current_date":
                found.append("func.current_date")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "ZoneInfo"
        ):
            found.append("ZoneInfo(...)")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value.lower()
            if "current_date" in text or "now()::date" in text or "localtimestamp" in text:
                found.append(f"SQL date of the database: {node.value[:40]!r}")
    return [f"{path.relative_to(PROJECT_ROOT)}: {what}" for what in found]


def test_no_code_reads_a_date_from_another_clock() -> None:
    offences = []
    for root in ("services", "shared"):
        for path in sorted((PROJECT_ROOT / root).rglob("*.py")):
            if path == PROJECT_ROOT / "shared" / "clock.py":
                continue
            offences += _offences(path)
    assert not offences, "use shared.clock.today() / clock.local():\n" + "\n".join(offences)


def test_the_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    sample = PROJECT_ROOT / "var" / "clock-scan-sample.py"
    sample.parent.mkdir(exist_ok=True)
    sample.write_text(
        "from datetime import date, datetime, UTC\n"
        "from zoneinfo import ZoneInfo\n"
        "a = date.today()\n"
        "b = datetime.now(UTC).date()\n"
        "c = ZoneInfo('Asia/Shanghai')\n"
        "d = 'SELECT CURRENT_DATE'\n"
    )
    try:
        assert len(_offences(sample)) == 4
    finally:
        sample.unlink()
