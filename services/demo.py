"""A small, realistic data set for organisers trying the system in Swagger (`make demo`).

Everything except the first admin is created through the public HTTP APIs, so the demo also
exercises the same rules a real client meets. It prints a sign-in for each view of the API: the
admin, the provincial, two city and an enterprise organiser, a judge, a worker with entries, and
a machine client (client credentials). Passwords and the client secret are random and printed
once; running the demo again resets them (a new machine client replaces the old one) and skips
what already exists.
"""

from __future__ import annotations

import random
import secrets
import string
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from stdnum.cn import ric, uscc

from shared.auth import passwords
from shared.auth.passwords import hash_password
from shared.auth.principal import PrincipalKind, Role
from shared.auth.revocations import record_access
from shared.config import Settings
from shared.db import make_engine, make_sessionmaker
from shared.models.registry import Account

DEMO_ADMIN = "demo.admin"

ACCOUNTS: list[dict[str, Any]] = [
    {
        "username": "shandong.organiser",
        "display_name": "山东省总工会 劳动和经济工作部",
        "role": "organiser",
        "locality_code": "370000",
    },
    {
        "username": "jinan.organiser",
        "display_name": "济南市总工会 劳动和经济工作部",
        "role": "organiser",
        "locality_code": "370100",
    },
    {
        "username": "qingdao.organiser",
        "display_name": "青岛市总工会 技能竞赛办公室",
        "role": "organiser",
        "locality_code": "370200",
    },
    {"username": "judge.wang", "display_name": "王建国（高级技师）", "role": "judge"},
]
#: Accounts tied to demo records (created once those exist): an enterprise's organiser and a
#: worker who has entered the Jinan competition.
ENTERPRISE_ORGANISER = "erjichuang.organiser"
WORKER_ACCOUNT = "zhang.wei"
#: What each sign-in shows, as printed.
VIEWS = {
    DEMO_ADMIN: "admin: the whole province",
    "shandong.organiser": "organiser: Shandong province (370000) and every city in it",
    "jinan.organiser": "organiser: Jinan (370100)",
    "qingdao.organiser": "organiser: Qingdao (370200)",
    ENTERPRISE_ORGANISER: "organiser: 济南二机床集团有限公司 (an enterprise)",
    "judge.wang": "judge: add him to a panel to mark",
    WORKER_ACCOUNT: "worker: 张伟, entered in the Jinan CNC turning contest",
}
MACHINE_CLIENT = {
    "name": "山东省人社厅 职业技能鉴定系统（演示）",
    "scopes": ["registry:read", "competitions:read", "results:read"],
}

COMPETITIONS: list[dict[str, Any]] = [
    {
        "name": "2026年山东省“十大产业”职工创新创效竞赛",
        "kind": "innovation_competition",
        "level": "provincial",
        "year": 2026,
        "organiser_locality_code": "370000",
    },
    {
        "name": "2026年山东省数字化转型创新大赛",
        "kind": "innovation_competition",
        "level": "provincial",
        "year": 2026,
        "organiser_locality_code": "370000",
    },
    {
        "name": "2026年济南市数控车工职业技能竞赛",
        "kind": "skill_competition",
        "level": "city",
        "year": 2026,
        "organiser_locality_code": "370100",
    },
    {
        "name": "2026年青岛市焊工技术比武",
        "kind": "technical_contest",
        "level": "city",
        "year": 2026,
        "organiser_locality_code": "370200",
    },
]


ENTERPRISES = [
    ("济南二机床集团有限公司", "370100", "high_end_equipment", "large"),
    ("潍柴动力股份有限公司", "370700", "high_end_equipment", "large"),
    ("海尔集团公司", "370200", "new_generation_it", "large"),
]
WORKERS = [
    ("王建国", "数控车工", "senior", 0),
    ("李秀英", "数控车工", "intermediate", 0),
    ("张伟", "数控车工", "technician", 0),
    ("刘洋", "焊工", "senior", 1),
    ("陈静", "装配钳工", "intermediate", 1),
    ("赵强", "数控车工", "senior", 1),
    ("孙丽", "电工", "junior", 2),
    ("周杰", "数控车工", "intermediate", 2),
    ("吴敏", "数控车工", "senior_technician", 0),
    ("郑海燕", "焊工", "technician", 2),
]


def _credit_code(rng: random.Random, region: str) -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = "91" + region + "".join(rng.choice(alphabet) for _ in range(9))
    return body + uscc.calc_check_digit(body)


def _id_number(rng: random.Random, region: str) -> str:
    born = date(1970, 1, 1) + timedelta(days=rng.randrange(0, 365 * 30))
    body = f"{region[:4]}02{born:%Y%m%d}{rng.randrange(100, 999):03d}"
    return body + ric.calc_check_digit(body + "0")


async def _people_and_registration(
    http: httpx.AsyncClient, urls: dict[str, str], auth: dict[str, str]
) -> tuple[list[str], list[str]]:
    """Enterprises, workers, and an event of the Jinan competition with registration open;
    returns the enterprise and worker ids. Fixed seeds: running the demo again meets 409s for
    what exists, and skips it."""
    rng = random.Random(2026)  # noqa: S311 - demo data, not secrets
    enterprise_ids: list[str] = []
    for name, locality, industry, size in ENTERPRISES:
        response = await http.post(
            urls["registry"] + "/v1/enterprises",
            headers=auth,
            json={
                "credit_code": _credit_code(rng, locality),
                "name": name,
                "locality_code": locality,
                "industry": industry,
                "size": size,
            },
        )
        enterprise_ids.append(response.json().get("id") or response.json().get("existing_id"))
    worker_ids: list[str] = []
    for name, occupation, grade, employer in WORKERS:
        locality = ENTERPRISES[employer][1]
        response = await http.post(
            urls["registry"] + "/v1/workers",
            headers=auth,
            json={
                "name": name,
                "id_number": _id_number(rng, locality),
                "occupation": occupation,
                "grade": grade,
                "enterprise_id": enterprise_ids[employer],
            },
        )
        worker_ids.append(response.json().get("id") or response.json().get("existing_worker_id"))
    listed = await http.get(
        urls["competitions"] + "/v1/competitions",
        headers=auth,
        params={"locality_code": "370100", "limit": 50},
    )
    jinan = next(c for c in listed.json()["items"] if "数控车工" in c["name"])
    events = await http.get(
        f"{urls['competitions']}/v1/competitions/{jinan['id']}/events", headers=auth
    )
    if events.json()["items"]:
        return enterprise_ids, worker_ids
    event = (
        await http.post(
            f"{urls['competitions']}/v1/competitions/{jinan['id']}/events",
            headers=auth,
            json={
                "name": "数控车工（职工组）",
                "occupation": "数控车工",
                "mode": "individual",
                "capacity": 4,
                "min_age": 18,
                "max_age": 60,
                "min_grade": "intermediate",
                "max_grade": "technician",
                "enterprise_quota": 3,
            },
        )
    ).json()
    # Changes of a competition carry the ETag last read (If-Match; 428 without it).
    read = await http.get(f"{urls['competitions']}/v1/competitions/{jinan['id']}", headers=auth)
    patched = await http.patch(
        f"{urls['competitions']}/v1/competitions/{jinan['id']}",
        headers={**auth, "If-Match": read.headers["ETag"]},
        json={"starts_on": "2026-12-10", "ends_on": "2026-12-12"},
    )
    await http.post(
        f"{urls['competitions']}/v1/competitions/{jinan['id']}/status",
        headers={**auth, "If-Match": patched.headers["ETag"]},
        json={"status": "registration_open"},
    )
    for (_, occupation, _, _), worker_id in zip(WORKERS, worker_ids, strict=True):
        if occupation == "数控车工":
            # Some pass, one is above the maximum grade, the last ones are waitlisted.
            await http.post(
                f"{urls['competitions']}/v1/events/{event['id']}/entries",
                headers=auth,
                json={"worker_id": worker_id},
            )
    return enterprise_ids, worker_ids


def _password() -> str:
    alphabet = string.ascii_letters + string.digits
    return "Demo-" + "".join(secrets.choice(alphabet) for _ in range(12)) + "!"


async def _ensure_admin(database_url: str) -> str:
    password = _password()
    settings = Settings(database_url=database_url)
    passwords.configure(settings.argon2_time_cost, settings.argon2_memory_kib)
    engine = make_engine(settings, pool_size=1, max_overflow=0)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            admin = await session.scalar(select(Account).where(Account.username == DEMO_ADMIN))
            if admin is None:
                session.add(
                    Account(
                        username=DEMO_ADMIN,
                        display_name="山东省总工会 演示管理员",
                        password_hash=await hash_password(password),
                        role=Role.admin,
                    )
                )
            else:
                admin.password_hash = await hash_password(password)
                if not admin.is_active:  # enabled again: the read model every service checks
                    await record_access(
                        session,
                        sub=str(admin.id),
                        kind=PrincipalKind.account,
                        active=True,
                        withdrawn_at=None,
                    )
                admin.failed_logins, admin.locked_until, admin.is_active = 0, None, True
    finally:
        await engine.dispose()
    return password


async def _sign_in(
    http: httpx.AsyncClient,
    urls: dict[str, str],
    auth: dict[str, str],
    existing: dict[str, Any],
    account: dict[str, Any],
) -> str:
    """Create the account, or give it a new password when it exists; return the password."""
    password = _password()
    if account["username"] in existing:
        response = await http.patch(
            f"{urls['registry']}/v1/accounts/{existing[account['username']]['id']}",
            json={"password": password},
            headers=auth,
        )
    else:
        response = await http.post(
            urls["registry"] + "/v1/accounts",
            json={**account, "password": password},
            headers=auth,
        )
    response.raise_for_status()
    return password


async def _machine_client(
    http: httpx.AsyncClient, urls: dict[str, str], auth: dict[str, str]
) -> dict[str, Any]:
    """A new demo machine client (its secret can only be shown when created), replacing the
    one an earlier run made."""
    listed = await http.get(
        urls["registry"] + "/v1/machine-clients", params={"limit": 200}, headers=auth
    )
    listed.raise_for_status()
    for old in listed.json()["items"]:
        if old["name"] == MACHINE_CLIENT["name"] and old["is_active"]:
            revoked = await http.delete(
                f"{urls['registry']}/v1/machine-clients/{old['id']}", headers=auth
            )
            revoked.raise_for_status()
    created = await http.post(
        urls["registry"] + "/v1/machine-clients", json=MACHINE_CLIENT, headers=auth
    )
    created.raise_for_status()
    client: dict[str, Any] = created.json()
    return client


async def load_demo(
    database_url: str,
    urls: dict[str, str],
    transport: httpx.AsyncBaseTransport | None = None,
) -> dict[str, str]:
    """Load the demo data and print the sign-ins; return them (username or machine client id
    -> password or secret). `transport` lets tests run it against in-process services."""
    sign_ins = {DEMO_ADMIN: await _ensure_admin(database_url)}
    async with httpx.AsyncClient(timeout=30, transport=transport) as http:
        token = (
            await http.post(
                urls["registry"] + "/v1/auth/token",
                data={
                    "grant_type": "password",
                    "username": DEMO_ADMIN,
                    "password": sign_ins[DEMO_ADMIN],
                },
            )
        ).json()["access_token"]
        auth = {"authorization": f"Bearer {token}"}
        existing = await http.get(
            urls["registry"] + "/v1/accounts", params={"limit": 200}, headers=auth
        )
        by_name = {a["username"]: a for a in existing.json()["items"]}
        for account in ACCOUNTS:
            sign_ins[account["username"]] = await _sign_in(http, urls, auth, by_name, account)
        listed = await http.get(
            urls["competitions"] + "/v1/competitions", params={"limit": 200}, headers=auth
        )
        have = {c["name"] for c in listed.json()["items"]}
        for competition in COMPETITIONS:
            if competition["name"] not in have:
                (
                    await http.post(
                        urls["competitions"] + "/v1/competitions", json=competition, headers=auth
                    )
                ).raise_for_status()
        enterprise_ids, worker_ids = await _people_and_registration(http, urls, auth)
        tied = [
            {
                "username": ENTERPRISE_ORGANISER,
                "display_name": "济南二机床集团有限公司 工会",
                "role": "organiser",
                "enterprise_id": enterprise_ids[0],
            },
            {
                "username": WORKER_ACCOUNT,
                "display_name": "张伟",
                "role": "worker",
                "worker_id": worker_ids[[w[0] for w in WORKERS].index("张伟")],
            },
        ]
        for account in tied:
            sign_ins[account["username"]] = await _sign_in(http, urls, auth, by_name, account)
        client = await _machine_client(http, urls, auth)
    print("\nDemo data loaded. Sign in with Authorize in any /docs page (password flow):")
    for username, password in sign_ins.items():
        print(f"  {username:<22} {password:<20} {VIEWS[username]}")
    print("A machine client (Authorize, client credentials flow):")
    print(f"  client_id     {client['client_id']}")
    print(f"  client_secret {client['client_secret']}")
    print(f"  scopes        {' '.join(client['scopes'])}")
    sign_ins[client["client_id"]] = client["client_secret"]
    return sign_ins
