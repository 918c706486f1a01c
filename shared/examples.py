"""The documented example values of all three APIs, in one place.

The OpenAPI examples (request bodies and responses), the import templates' sample rows and the
demo show the values defined here. Identity numbers and credit codes are *built* with the same
python-stdnum check-digit functions our validators use (`stdnum.cn.ric`, `stdnum.cn.uscc`), so
an example cannot carry a wrong check digit; tests/test_examples.py also runs every number in
every example through the validators, and replays every request example through the APIs.

The UUIDs below are placeholders for objects a reader creates first (the enterprise before the
worker, the competition before the event): the replay test substitutes the ids of the objects it
created for them, so each placeholder stands for one kind of object and is used for nothing else.

Response examples are composed from the response schemas (`add_response_examples`): a field's
own `examples` when it has one, else a realistic value chosen by the field's name or format
below. `response_example_gaps` lists the fields that had neither, for the test.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from stdnum.cn import ric, uscc

from shared import clock
from shared.crypto import mask_id_number


def identity_number(region: str, born: date, sequence: int) -> str:
    """A resident identity number (GB 11643): region, birth date, sequence (odd: male) and the
    check digit python-stdnum computes (it expects a placeholder where the digit goes)."""
    body = f"{region}{born:%Y%m%d}{sequence:03d}"
    return body + ric.calc_check_digit(body + "0")


def credit_code(body: str) -> str:
    """A unified social credit code (GB 32100): the 17 given characters and their check
    character."""
    return body + uscc.calc_check_digit(body)


# People: 王建国, born 15 June 1985 in Lixia district (Jinan), male; 李秀英, born 8 March 1992 in
# Shinan district (Qingdao), female; 张伟, born 20 November 1988 in Kuiwen district (Weifang).
WORKER_NAME = "王建国"
WORKER_ID_NUMBER = identity_number("370102", date(1985, 6, 15), 3)  # 37010219850615003X
WORKER_ID_NUMBER_MASKED = mask_id_number(WORKER_ID_NUMBER)
SECOND_WORKER_NAME = "李秀英"
SECOND_WORKER_ID_NUMBER = identity_number("370202", date(1992, 3, 8), 24)
THIRD_WORKER_NAME = "张伟"
THIRD_WORKER_ID_NUMBER = identity_number("370705", date(1988, 11, 20), 17)
WORKER_PHONE = "13805310001"
WORKER_PHONE_MASKED = "138****0001"

# Enterprises: 济南二机床 (Jinan, 370100), 潍柴动力 (Weifang, 370700), 海尔 (Qingdao, 370200).
ENTERPRISE_NAME = "济南二机床集团有限公司"
ENTERPRISE_CREDIT_CODE = credit_code("91370100MA3C5X6L8")  # 91370100MA3C5X6L86
SECOND_ENTERPRISE_NAME = "潍柴动力股份有限公司"
SECOND_ENTERPRISE_CREDIT_CODE = credit_code("91370700745672890")
THIRD_ENTERPRISE_NAME = "海尔集团公司"
THIRD_ENTERPRISE_CREDIT_CODE = credit_code("91370200163562681")

# Localities (GB/T 2260, seeded by the migrations): Shandong, Jinan, Lixia district, Qingdao.
PROVINCE_CODE = "370000"
CITY_CODE = "370100"
COUNTY_CODE = "370102"
SECOND_CITY_CODE = "370200"

#: In the honour catalogue seeded by the migrations.
HONOUR_CODE = "qilu_craftsman"
PROVINCIAL_HONOUR_CODE = "provincial_technical_expert"

EVENT_NAME = "数控车工（职工组）"
STAGE_NAME = "市级初赛"
OCCUPATION = "数控车工"
BLIND_CODE = "K7MXRA"
SECOND_BLIND_CODE = "P3QWTE"
JUDGE_NAME = "刘海峰"
JUDGE_USERNAME = "judge.liu"
JUDGE_PASSWORD = "S3cure-passw0rd"  # noqa: S105 - a documented example, not a secret

# Placeholder ids, one per kind of object (see the module docstring).
ENTERPRISE_ID = "5b0c8f0e-2f3a-4c1d-9e8b-7a6d5c4b3a21"
SECOND_ENTERPRISE_ID = "0a5e8f3c-2b1d-4c6e-8f7a-9b0c1d2e3f4a"
WORKER_ID = "6b1f0c2e-4d7a-4a51-9a43-1f2d3c4b5a69"
SECOND_WORKER_ID = "0e5d7c1a-3b2f-4e6d-8a9c-7f1e2d3c4b5a"
THIRD_WORKER_ID = "7d1b5a8f-3c8e-4d2f-8b62-4a7e3f9c2b01"
ACCOUNT_ID = "8a4e1c2b-3d5f-4a6b-9c7d-0e1f2a3b4c5d"
COMPETITION_ID = "3c9d2e1f-5a4b-4c6d-8e7f-0a1b2c3d4e5f"
EVENT_ID = "4d0e3f2a-6b5c-4d7e-9f8a-1b2c3d4e5f6a"
TEAM_EVENT_ID = "4e1f4a3b-7c6d-4e8f-8a9b-2c3d4e5f6a7b"
ENTRY_ID = "5c1e7a32-1f9b-4d0e-8a77-2b6f4c9d3e18"
SECOND_ENTRY_ID = "9d4a0b61-7c2e-4f18-b3a5-6e8d1f2c7b90"
STAGE_ID = "1f4b7c2d-8e3a-4b5c-9d6e-7f8a9b0c1d2e"
NEXT_STAGE_ID = "0b8e2d7c-9a41-4f53-8a0e-3d6c1b2a4f70"
STAGE_ENTRY_ID = "2a5c8d3e-9f4b-4c6d-8e7f-8a9b0c1d2e3f"
VENUE_ID = "0b7c6f0e-2a1d-4e55-9f3a-6d2c1b0a9e87"
SESSION_ID = "5f0e3c2a-8b1d-4c77-a9e2-3d4f5a6b7c8d"
WORKSTATION_ID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
JUDGE_ID = "0b6c1f3e-2a4d-4e5f-8a9b-1c2d3e4f5a6b"
SECOND_JUDGE_ID = "1c7d2a4f-3b5e-4f6a-9b0c-2d3e4f5a6b7c"
THIRD_JUDGE_ID = "2d8e3b5a-4c6f-4a7b-8c1d-3e4f5a6b7c8d"
ASPECT_ID = "2f1c9f0e-6f5e-4a1b-9b7e-3b0e8c7d6a51"
RESULT_ID = "6e2a9d4c-1b7f-4c3e-8d5a-4b6c7d8e9f0a"
PROGRAMME_ID = "7f3b0e5d-2c8a-4d4f-9e6b-5c7d8e9f0a1b"
ACHIEVEMENT_ID = "8a4c1f6e-3d9b-4e5a-8f7c-6d8e9f0a1b2c"
RESERVE_MEMBER_ID = "9b5d2a7f-4e0c-4f6b-9a8d-7e9f0a1b2c3d"
#: A deterministic `source_ref` (the registry's idempotency key for what judging sends it).
SOURCE_REF = "8e4f1c2a-7b3d-4e5f-9a6b-1c2d3e4f5a6b"

#: Every placeholder, by the name a test or a reader uses for it.
PLACEHOLDER_IDS = {
    name: value
    for name, value in globals().items()
    if (name.endswith("_ID") or name == "SOURCE_REF") and isinstance(value, str)
}

# Dates, relative to the day the service started (Asia/Shanghai, where competitions run), so
# that "Try it out" works on any day: registration is open now, the competition is five weeks
# ahead, and what a file records (a grade, an honour, a move) happened today. Fixed dates went
# stale: a transfer dated before the worker's file, registration that had already closed.
#: Today as every service reads it (`shared.clock`: Asia/Shanghai).
TODAY = clock.today()
COMPETITION_STARTS = TODAY + timedelta(days=38)
YEAR = COMPETITION_STARTS.year


#: Each dated example as written on `TODAY`, and how to write it on another day: the classes
#: and routes hold the text (they are built once, at import), the served document is rewritten
#: from here when the day changes (`for_day`).
_DATED: dict[str, Callable[[date], str]] = {}


def _dated(write: Callable[[date], str]) -> str:
    text = write(TODAY)
    _DATED.setdefault(text, write)
    return text


def _day_after(today: date, offset: int) -> str:
    return (today + timedelta(days=offset)).isoformat()


def day(offset: int = 0) -> str:
    """The date `offset` days from today, ISO 8601."""
    return _dated(lambda today: _day_after(today, offset))


def at(offset: int, clock: str) -> str:
    """A time (`"09:00"`) on the day `offset` days from today, with Shanghai's offset."""
    return _dated(lambda today: f"{_day_after(today, offset)}T{clock}:00+08:00")


def for_day(document: Any, today: date) -> Any:
    """`document` (an OpenAPI document, built on `TODAY`) with every dated example written for
    `today`. A service runs for weeks: without this, its examples stayed on the day it started,
    and "Try it out" sent a transfer dated before the employment of a worker created today, a
    registration window that had closed. A string is rewritten only if it is exactly a value
    `day` or `at` produced; the years in names and `year` fields stay as written (still valid
    values, only no longer this year's after 1 January)."""
    if today == TODAY:
        return document

    def write(value: Any) -> Any:
        if isinstance(value, str):
            dated = _DATED.get(value)
            return value if dated is None else dated(today)
        if isinstance(value, list):
            return [write(item) for item in value]
        if isinstance(value, dict):
            return {key: write(item) for key, item in value.items()}
        return value

    return write(document)


#: Offsets (days from today) of the documented competition.
REGISTRATION_OPENS, REGISTRATION_CLOSES, STARTS, ENDS = -1, 28, 38, 40
COMPETITION_NAME = f"{YEAR}年济南市数控车工职业技能竞赛"
PROVINCIAL_COMPETITION_NAME = f"{YEAR}年山东省数控车工职业技能竞赛"
#: National results come back after the contest: this year's, whatever the competitions' year.
NATIONAL_YEAR = TODAY.year
NATIONAL_CONTEST_NAME = f"{NATIONAL_YEAR}年全国行业职业技能竞赛——全国数控技能大赛"
NATIONAL_HONOUR_CODE = "national_technical_expert"
TIMESTAMP = at(0, "09:00")
DATE = day(0)

#: Values for response fields without their own example, by field name.
BY_NAME: dict[str, Any] = {
    "id_number": WORKER_ID_NUMBER_MASKED,
    "birth_date": "1985-06-15",  # as in WORKER_ID_NUMBER
    "phone": WORKER_PHONE_MASKED,
    "credit_code": ENTERPRISE_CREDIT_CODE,
    "locality_code": COUNTY_CODE,
    "organiser_locality_code": CITY_CODE,
    "parent_code": CITY_CODE,
    "occupation": OCCUPATION,
    "occupations": [OCCUPATION],
    "blind_code": BLIND_CODE,
    "honour_code": PROVINCIAL_HONOUR_CODE,
    "honours": [HONOUR_CODE],
    "certificate_no": "S000037010002264000123",
    "issuing_body": "济南市职业技能鉴定指导中心",
    "reason": "资格审查：工种不符",
    "status_reason": None,
    "termination_reason": None,
    "revoke_reason": None,
    "decision_reason": "复核测量记录，确认误记，重新评分",
    "disabled_reason": None,
    "citation": f"{COMPETITION_NAME} 第一名",
    "summary": "利用5G低时延网络采集机床振动数据，结合边缘计算实现故障预警。",
    "description": "面向全市数控车工的职业技能竞赛。",
    "title": "数控车工市级初赛评分标准",
    "address": "济南市历城区工业北路",
    "url": "https://skills.shandong.example/files/notice-2026-01.pdf",
    "source_type": "grade_change",
    "source_id": SOURCE_REF,
    "access_token": "eyJhbGciOiJSUzI1NiIsImtpZCI6InJlZ2lzdHJ5LTEifQ.eyJzdWIiOiIuLi4ifQ.c2ln",
    "refresh_token": "rt_9mX2vQ7kP4sL8nB3cR6tY1wZ5hJ0fD",
    "client_secret": "cs_4Jq8Vw2Nz6Lm0Tr5Xp9Bk3Hd7Gf1Sc",
    "next_cursor": None,
    "owner_sub": ACCOUNT_ID,
    "sub": ACCOUNT_ID,
    "account_sub": ACCOUNT_ID,
    "scopes": ["registry:read", "results:read"],
    "last_error": None,
    "failure": None,
    "response_body": "OK",
    "digest": "9f2c4e7a1b3d5f6e8a0c2e4f6a8b0d2e4f6a8c0e2a4c6e8a0b2d4f6a8c0e2a4c",
    "stored_digest": "9f2c4e7a1b3d5f6e8a0c2e4f6a8b0d2e4f6a8c0e2a4c6e8a0b2d4f6a8c0e2a4c",
    "recomputed_digest": "9f2c4e7a1b3d5f6e8a0c2e4f6a8b0d2e4f6a8c0e2a4c6e8a0b2d4f6a8c0e2a4c",
    "differences": 0,
    "missing": [],
    "keys": [],
    "registry_ref": SOURCE_REF,
    "source_ref": SOURCE_REF,
    "version": 1,
    "rank": 1,
    # Exactly a multiple of 0.001 in binary floating point too (92.35 / 0.001 is not an
    # integer there, so JSON Schema validators refuse it against `multipleOf: 0.001`).
    "score": 86.125,
    "mu": 1.42,
    "sigma_sq": 0.18,
    "probability": 0.81,
    "judge_reliability": 0.93,
    "information_gain": 0.12,
    "seq": 1,
    "workstation_no": 1,
    "row_number": 2,
    "attempts": 1,
    "last_status_code": 200,
    "completion_seconds": 5400.5,
    "advancement_value": 2,
    "tracks": [],
    "allowed_locality_codes": [CITY_CODE, SECOND_CITY_CODE],
    "prize": "first",
    "prizes": ["first"],
    "to_grade": "technician",
    "descriptors": [
        "工艺混乱，存在安全隐患",
        "工艺基本可行",
        "工艺合理，操作规范",
        "工艺优化，效率与质量俱佳",
    ],
}

#: Values for fields whose name alone says too little (`name`), by `Schema.field`.
BY_FIELD: dict[str, Any] = {
    "WorkerEligibility.name": WORKER_NAME,
    "MachineClient.name": "山东省人社厅 职业技能鉴定系统",
    "MachineClientWithSecret.name": "山东省人社厅 职业技能鉴定系统",
    "Criterion.name": "零件加工",
    "SubCriterion.name": "尺寸精度",
}

#: Values for string formats, when neither the field nor its name gives one.
BY_FORMAT: dict[str, Any] = {
    "uuid": WORKER_ID,
    "date-time": TIMESTAMP,
    "date": DATE,
    "uri": "https://skills.shandong.example/v1/certificates:verify?code=7KQ2MZ9RH4TXWC3N",
    "email": "jinan.organiser@example.cn",
}

#: The placeholder id of each kind of object, by its response schema's name.
ID_BY_SCHEMA = {
    "Enterprise": ENTERPRISE_ID,
    "Worker": WORKER_ID,
    "WorkerEligibility": WORKER_ID,
    "Account": ACCOUNT_ID,
    "Competition": COMPETITION_ID,
    "Event": EVENT_ID,
    "Entry": ENTRY_ID,
    "Stage": STAGE_ID,
    "StageEntry": STAGE_ENTRY_ID,
    "Venue": VENUE_ID,
    "Session": SESSION_ID,
    "Workstation": WORKSTATION_ID,
    "Judge": JUDGE_ID,
    "Aspect": ASPECT_ID,
    "StageResult": RESULT_ID,
    "StageResultSummary": RESULT_ID,
    "Programme": PROGRAMME_ID,
    "Achievement": ACHIEVEMENT_ID,
    "ReserveMember": RESERVE_MEMBER_ID,
}

#: Values by field name whose usual value is a specific placeholder id.
ID_BY_NAME = {
    "enterprise_id": ENTERPRISE_ID,
    "ordering_enterprise_id": ENTERPRISE_ID,
    "organiser_enterprise_id": None,
    "worker_id": WORKER_ID,
    "competition_id": COMPETITION_ID,
    "event_id": EVENT_ID,
    "entry_id": ENTRY_ID,
    "stage_id": STAGE_ID,
    "next_stage_id": NEXT_STAGE_ID,
    "stage_entry_id": STAGE_ENTRY_ID,
    "venue_id": VENUE_ID,
    "session_id": SESSION_ID,
    "workstation_id": WORKSTATION_ID,
    "judge_id": JUDGE_ID,
    "aspect_id": ASPECT_ID,
    "result_id": RESULT_ID,
    "programme_id": PROGRAMME_ID,
    "achievement_id": ACHIEVEMENT_ID,
    "member_id": RESERVE_MEMBER_ID,
}


def _ref(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any] | None:
    ref = schema.get("$ref")
    if ref is None:
        return None
    resolved: dict[str, Any] = components[ref.rsplit("/", 1)[-1]]
    return resolved


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def _fits(value: Any, schema: dict[str, Any]) -> bool:
    """Whether a by-name value has the schema's JSON type (the same name may be a count in one
    schema and a list in another)."""
    if value is None:
        return any(v.get("type") == "null" for v in schema.get("anyOf", []))
    kinds = (
        [schema["type"]] if "type" in schema else [v.get("type") for v in schema.get("anyOf", [])]
    )
    if not any(kinds):
        return True
    if isinstance(value, bool):
        return "boolean" in kinds
    return any(isinstance(value, _JSON_TYPES.get(k or "", ())) for k in kinds)


def compose(
    schema: dict[str, Any],
    components: dict[str, Any],
    gaps: list[str] | None = None,
    where: str = "",
    name: str = "",
) -> Any:
    """An example instance of `schema`: its own example, else one built from its parts.
    A leaf with no example and no name/format rule is recorded in `gaps` (`Schema.field`)."""
    gaps = gaps if gaps is not None else []
    for key in ("examples", "example"):
        if key in schema:
            return schema[key][0] if key == "examples" else schema[key]
    target = _ref(schema, components)
    if target is not None:
        title = schema["$ref"].rsplit("/", 1)[-1]
        return compose(target, components, gaps, title, name)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if f"{where}.{name}" in BY_FIELD:
        return BY_FIELD[f"{where}.{name}"]
    if name == "id" and schema.get("format") == "uuid":
        # The object's own id: its kind's placeholder, else a stable one of its own.
        return ID_BY_SCHEMA.get(where) or str(uuid.uuid5(uuid.NAMESPACE_URL, f"example:{where}"))
    if name in ID_BY_NAME and (schema.get("format") == "uuid" or schema.get("type") == "string"):
        return ID_BY_NAME[name] or WORKER_ID
    if name.endswith("_by") and schema.get("type") == "string":
        return ACCOUNT_ID  # who did it: an account's `sub`
    if name in BY_NAME and _fits(BY_NAME[name], schema):
        return BY_NAME[name]
    variants = schema.get("anyOf") or schema.get("oneOf")
    if variants:
        concrete = [v for v in variants if v.get("type") != "null"]
        if len(concrete) < len(variants) and ID_BY_NAME.get(name) is None:
            return None  # optional, and nothing says what it would hold: as most records have
        if concrete:
            return compose(concrete[0], components, gaps, where, name)
        return None
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {
            prop: compose(sub, components, gaps, where, prop)
            for prop, sub in schema.get("properties", {}).items()
        }
    if kind == "array":
        items = schema.get("items", {})
        return [compose(items, components, gaps, where, name)] if items else []
    if "default" in schema:
        return schema["default"]
    if kind == "string" and schema.get("format") in BY_FORMAT:
        if schema["format"] == "uuid":
            return ID_BY_NAME.get(name) or (ACCOUNT_ID if name.endswith("_by") else WORKER_ID)
        return BY_FORMAT[schema["format"]]
    if kind == "boolean":
        return name not in {"dry_run", "frozen", "locked", "by_override"}
    if kind in {"integer", "number"}:
        return max(schema.get("minimum", 0), 1)
    gaps.append(f"{where}.{name}" if where else name or "?")
    return "示例" if kind == "string" else None


def response_example_gaps(doc: dict[str, Any]) -> list[str]:
    """Fields of 2xx JSON responses that no example or rule covers (for the test)."""
    gaps: list[str] = []
    components = doc.get("components", {}).get("schemas", {})
    for media in _response_media(doc):
        if "schema" in media:
            compose(media["schema"], components, gaps)
    return sorted(set(gaps))


def _response_media(doc: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                if status.startswith("2"):
                    for content_type, media in response.get("content", {}).items():
                        # (an empty schema: a file, such as a CSV download)
                        if content_type.endswith("json") and media.get("schema"):
                            found.append(media)
    return found


def add_response_examples(doc: dict[str, Any]) -> None:
    """Give every 2xx JSON response without one a composed `example` (Swagger UI shows it)."""
    components = doc.get("components", {}).get("schemas", {})
    for media in _response_media(doc):
        if "schema" in media and "example" not in media and "examples" not in media:
            media["example"] = compose(media["schema"], components)


def request_examples(media: dict[str, Any], components: dict[str, Any]) -> list[Any]:
    """The documented examples of one request body: the media's own, else its schema's (through
    a `$ref` or an optional body's `anyOf`), else, for forms, the fields that have one."""
    if "examples" in media:
        return [named["value"] for named in media["examples"].values()]
    if "example" in media:
        return [media["example"]]
    schema = media.get("schema", {})
    for candidate in [schema, *schema.get("anyOf", [])]:
        target = _ref(candidate, components) or candidate
        if target.get("examples"):
            return list(target["examples"])
    target = _ref(schema, components) or schema
    fields = {
        name: sub["examples"][0]
        for name, sub in target.get("properties", {}).items()
        if sub.get("examples")
    }
    return [fields] if fields else []


def add_request_examples(doc: dict[str, Any]) -> None:
    """Put each request body's examples on its media type, named, so that Swagger UI's
    "Try it out" starts from them (it does not look inside an optional body's `anyOf`) and
    offers each one when there are several."""
    components = doc.get("components", {}).get("schemas", {})
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            for media in operation.get("requestBody", {}).get("content", {}).values():
                found = request_examples(media, components)
                if found and "examples" not in media and "example" not in media:
                    media["examples"] = {
                        f"example{i}": {"summary": f"Example {i}", "value": value}
                        for i, value in enumerate(found, start=1)
                    }
