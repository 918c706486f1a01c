"""The three services as real processes: tokens across services, refusals, downstream failures."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.auth.keys import load_or_create_keys
from shared.config import PROJECT_ROOT
from shared.processes import stop_services
from tests.conftest import assert_problem, bearer
from tests.e2e.conftest import Stack, create_admin, free_port, launch, service_env, token
from tests.factories import identity_number

CONTEST = {
    "name": "2026年淄博市电工职业技能竞赛",
    "kind": "skill_competition",
    "level": "city",
    "year": 2026,
    "organiser_locality_code": "370300",
}


async def test_registry_token_is_accepted_by_competitions_and_judging(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    access = await token(http, stack.urls["registry"])
    for service in ("registry", "competitions", "judging"):
        response = await http.get(stack.urls[service] + "/v1/me", headers=bearer(access))
        assert response.status_code == 200, (service, response.text)
        assert response.json()["role"] == "admin"
    created = await http.post(
        stack.urls["competitions"] + "/v1/competitions", json=CONTEST, headers=bearer(access)
    )
    assert created.status_code == 201, created.text


async def test_forged_and_expired_tokens_get_401_problem(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    current, _ = load_or_create_keys(Path(stack.env["KEY_DIR"]))
    now = int(time.time())
    claims = {
        "iss": "shandong-skills-registry",
        "aud": "shandong-skills",
        "sub": "intruder",
        "role": "admin",
        "name": "intruder",
        "iat": now,
        "exp": now + 600,
    }
    forged = jwt.encode(
        claims,
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
        headers={"kid": current.kid},
    )
    expired = jwt.encode(
        {**claims, "iat": now - 7200, "exp": now - 3600},
        current.private_key,
        algorithm="RS256",
        headers={"kid": current.kid},
    )
    for service in ("competitions", "judging"):
        for bad, reason in ((forged, "signature"), (expired, "expired")):
            response = await http.get(stack.urls[service] + "/v1/me", headers=bearer(bad))
            assert reason in str(assert_problem(response, 401)["detail"])


async def test_request_id_is_propagated_to_the_downstream_service(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    access = await token(http, stack.urls["registry"])
    response = await http.post(
        stack.urls["competitions"] + "/v1/competitions",
        json={**CONTEST, "name": "2026年淄博市钳工竞赛"},
        headers={**bearer(access), "x-request-id": "e2e-propagation-42"},
    )
    assert response.status_code == 201
    await asyncio.sleep(0.2)
    registry_log = (stack.log_dir / "registry.log").read_text()
    assert '"request_id": "e2e-propagation-42"' in registry_log
    assert '"path": "/v1/localities/370300"' in registry_log


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A TCP server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


async def test_downstream_stopped_gives_503_and_hanging_gives_504(
    e2e_database: str,
    tmp_path: Path,
    http: httpx.AsyncClient,
    blackhole: int,
) -> None:
    # A registry + competitions pair of our own, so stopping the registry disturbs no one else.
    ports = {"registry": free_port(), "competitions": free_port()}
    urls = {s: f"http://127.0.0.1:{p}" for s, p in ports.items()}
    urls["judging"] = "http://127.0.0.1:9"
    env = service_env(e2e_database, tmp_path / "keys", urls)
    procs = await launch(env, ports, tmp_path)
    hanging: dict[str, subprocess.Popen[bytes]] = {}
    try:
        create_admin(env, "fault.admin")
        access = await token(http, urls["registry"], "fault.admin")
        # competitions fetches and caches the registry's keys...
        assert (
            await http.get(urls["competitions"] + "/v1/me", headers=bearer(access))
        ).status_code == 200
        before = (
            await http.get(urls["competitions"] + "/v1/competitions", headers=bearer(access))
        ).json()
        # ...then the registry stops.
        stop_services({"registry": procs.pop("registry")})
        started = time.monotonic()
        response = await http.post(
            urls["competitions"] + "/v1/competitions",
            json={**CONTEST, "name": "2026年淄博市焊工竞赛"},
            headers=bearer(access),
        )
        assert time.monotonic() - started < 10
        body = assert_problem(response, 503)
        assert body["service"] == "registry"
        after = (
            await http.get(urls["competitions"] + "/v1/competitions", headers=bearer(access))
        ).json()
        assert after == before, "a failed cross-service write left something behind"

        # A competitions service whose registry accepts connections but never answers.
        hang_ports = {"competitions": free_port()}
        hang_env = {**env, "REGISTRY_URL": f"http://127.0.0.1:{blackhole}"}
        hang_logs = tmp_path / "hang"
        hang_logs.mkdir()
        hanging = await launch(hang_env, hang_ports, hang_logs)
        started = time.monotonic()
        response = await http.get(
            f"http://127.0.0.1:{hang_ports['competitions']}/v1/me", headers=bearer(access)
        )
        elapsed = time.monotonic() - started
        body = assert_problem(response, 504)
        assert body["service"] == "registry"
        assert elapsed < 10, f"took {elapsed:.1f}s: the read timeout is not applied"
    finally:
        stop_services(procs)
        stop_services(hanging)


async def test_cli_import_with_error_report(
    stack: Stack, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    good = identity_number()
    source = tmp_path / "名册.csv"
    source.write_text(
        "姓名,身份证号,职业,地区代码,等级\n"
        f"孔令辉,{good},车工,370800,高级工\n"
        f"孔令辉,{good},车工,370800,高级工\n"
        "坏行,123,车工,370800,高级工\n",
        encoding="utf-8",
    )
    report = tmp_path / "errors.csv"
    result = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "services.registry.cli",
            "import-workers",
            str(source),
            "--errors",
            str(report),
        ],
        env=stack.env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "1 inserted, 1 duplicates, 1 rows with errors" in result.stdout
    lines = (await asyncio.to_thread(report.read_text, encoding="utf-8-sig")).splitlines()
    assert lines[0] == "row_number,field,reason"
    assert [line.split(",")[0] for line in lines[1:]] == ["3", "4"]
    access = await token(http, stack.urls["registry"])
    found = await http.get(
        stack.urls["registry"] + "/v1/workers", params={"q": "孔令辉"}, headers=bearer(access)
    )
    assert len(found.json()["items"]) == 1


async def test_registration_checks_eligibility_with_the_registry_over_http(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    """A worker registers themselves; competitions asks the registry (its own machine token)."""
    admin = bearer(await token(http, stack.urls["registry"]))
    registry, competitions = stack.urls["registry"], stack.urls["competitions"]
    young = await http.post(
        registry + "/v1/workers",
        headers=admin,
        json={
            "name": "周小川",
            "id_number": identity_number(),
            "occupation": "焊工",
            "grade": "junior",
            "locality_code": "370600",
        },
    )
    assert young.status_code == 201, young.text
    worker_id = young.json()["id"]
    account = await http.post(
        registry + "/v1/accounts",
        headers=admin,
        json={
            "username": "zhou.xiaochuan",
            "display_name": "周小川",
            "password": "Zhou-Passw0rd!",
            "role": "worker",
            "worker_id": worker_id,
        },
    )
    assert account.status_code == 201, account.text
    competition = (
        await http.post(
            competitions + "/v1/competitions",
            headers=admin,
            json={
                "name": "2026年烟台市焊工技能竞赛",
                "kind": "skill_competition",
                "level": "city",
                "year": 2026,
                "organiser_locality_code": "370600",
                "starts_on": "2026-12-20",
            },
        )
    ).json()
    event = (
        await http.post(
            f"{competitions}/v1/competitions/{competition['id']}/events",
            headers=admin,
            json={
                "name": "焊工",
                "occupation": "焊工",
                "mode": "individual",
                "capacity": 10,
                "min_grade": "intermediate",
            },
        )
    ).json()
    opened = await http.post(
        f"{competitions}/v1/competitions/{competition['id']}/status",
        headers={**admin, "if-match": '"1"'},  # as created: version 1
        json={"status": "registration_open"},
    )
    assert opened.status_code == 200, opened.text
    own = bearer(await token(http, registry, "zhou.xiaochuan", "Zhou-Passw0rd!"))
    refused = await http.post(
        f"{competitions}/v1/events/{event['id']}/entries",
        headers=own,
        json={"worker_id": worker_id},
    )
    problem = assert_problem(refused, 422)
    assert [r["rule"] for r in problem["rules"]] == ["min_grade"]
    promoted = await http.post(
        f"{registry}/v1/workers/{worker_id}/grade-changes",
        headers=admin,
        json={
            "to_grade": "intermediate",
            "effective_date": "2026-11-01",
            "source": "certification",
            "certificate_no": "S-1",
            "issuing_body": "烟台市职业技能鉴定中心",
        },
    )
    assert promoted.status_code == 201, promoted.text
    entered = await http.post(
        f"{competitions}/v1/events/{event['id']}/entries",
        headers=own,
        json={"worker_id": worker_id},
    )
    assert entered.status_code == 201, entered.text
    assert entered.json()["status"] == "pending"
    assert entered.json()["locality_code"] == "370600"
