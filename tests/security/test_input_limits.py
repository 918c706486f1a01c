"""Request bodies above MAX_BODY_BYTES, and uploads above IMPORT_MAX_BYTES, are refused with a
413 problem naming the limit before anything is parsed or written; uploads of the wrong type
are refused; unknown fields on writes are refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared import examples as ex
from shared.config import Settings
from tests.conftest import Services, assert_problem, make_settings
from tests.factories import credit_code

JSON_LIMIT = 4096
UPLOAD_LIMIT = 16384


@pytest.fixture
def settings(database_url: str, key_dir: Path) -> Settings:
    return make_settings(
        database_url, key_dir, max_body_bytes=JSON_LIMIT, import_max_bytes=UPLOAD_LIMIT
    )


def enterprise(name: str) -> dict[str, str]:
    return {
        "credit_code": credit_code(),
        "name": name,
        "locality_code": "370100",
        "industry": "high_end_equipment",
        "size": "large",
    }


async def enterprise_count(services: Services, headers: dict[str, str]) -> int:
    response = await services.registry.get("/v1/enterprises?limit=200", headers=headers)
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


async def test_json_body_over_the_limit_is_413_and_writes_nothing(
    services: Services, admin_headers: dict[str, str]
) -> None:
    before = await enterprise_count(services, admin_headers)
    response = await services.registry.post(
        "/v1/enterprises", json=enterprise("山东" + "重" * JSON_LIMIT), headers=admin_headers
    )
    body = assert_problem(response, 413)
    assert body["limit_bytes"] == JSON_LIMIT
    assert "MAX_BODY_BYTES" in body["detail"]
    assert str(JSON_LIMIT) in body["detail"]
    assert await enterprise_count(services, admin_headers) == before


async def test_chunked_body_over_the_limit_is_413(
    services: Services, admin_headers: dict[str, str]
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(JSON_LIMIT // 512 + 2):
            yield b" " * 512  # no Content-Length: the server must count

    response = await services.competitions.post(
        "/v1/competitions",
        content=chunks(),
        headers={**admin_headers, "content-type": "application/json"},
    )
    assert_problem(response, 413)


async def test_body_under_the_limit_is_served(
    services: Services, admin_headers: dict[str, str]
) -> None:
    response = await services.registry.post(
        "/v1/enterprises", json=enterprise("山东测试机械有限公司"), headers=admin_headers
    )
    assert response.status_code == 201, response.text


async def test_unknown_fields_are_refused(
    services: Services, admin_headers: dict[str, str]
) -> None:
    response = await services.registry.post(
        "/v1/enterprises",
        json={**enterprise("山东测试机械有限公司"), "is_admin": True},
        headers=admin_headers,
    )
    body = assert_problem(response, 422)
    assert any(e["field"].endswith("is_admin") for e in body["errors"])


async def test_uploads_have_their_own_larger_limit(
    services: Services, admin_headers: dict[str, str]
) -> None:
    header = "name,id_number,occupation,locality_code,grade\n"
    row = f"王建国,{ex.WORKER_ID_NUMBER},数控车工,370100,senior\n"
    small = (header + row * ((JSON_LIMIT * 2) // len(row.encode()))).encode()
    assert JSON_LIMIT < len(small) < UPLOAD_LIMIT
    response = await services.registry.post(
        "/v1/imports/workers", files={"file": ("w.csv", small, "text/csv")}, headers=admin_headers
    )
    assert response.status_code == 202, response.text

    large = (header + row * (UPLOAD_LIMIT // len(row.encode()) + 1)).encode()
    response = await services.registry.post(
        "/v1/imports/workers", files={"file": ("w.csv", large, "text/csv")}, headers=admin_headers
    )
    body = assert_problem(response, 413)
    assert "IMPORT_MAX_BYTES" in body["detail"]
    jobs = await services.registry.get("/v1/imports", headers=admin_headers)
    assert len(jobs.json()["items"]) == 1


async def test_upload_of_the_wrong_type_is_refused(
    services: Services, admin_headers: dict[str, str]
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(200)
    response = await services.registry.post(
        "/v1/imports/workers",
        files={"file": ("photo.png", png, "image/png")},
        headers=admin_headers,
    )
    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == "file"


async def test_nul_characters_are_refused_before_the_database(
    services: Services, admin_headers: dict[str, str]
) -> None:
    """Found by fuzzing: Postgres text cannot hold U+0000, which used to surface as a 500."""
    response = await services.registry.get("/v1/enterprises?q=%E5%B1%B1%00", headers=admin_headers)
    assert_problem(response, 422)
    response = await services.registry.post(
        "/v1/enterprises", json=enterprise("山东\u0000机械"), headers=admin_headers
    )
    assert_problem(response, 422)
    assert await enterprise_count(services, admin_headers) == 0
