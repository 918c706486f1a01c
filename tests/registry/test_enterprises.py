"""Enterprises through HTTP: credit-code checks, duplicates, scopes, search, If-Match."""

from __future__ import annotations

from tests.conftest import Services, assert_problem, bearer, create_account, get_token
from tests.factories import credit_code


def enterprise_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "credit_code": credit_code(),
        "name": "济南二机床集团有限公司",
        "locality_code": "370100",
        "industry": "high_end_equipment",
        "size": "large",
    }
    body.update(overrides)
    return body


async def test_register_get_and_duplicate(
    services: Services, admin_headers: dict[str, str]
) -> None:
    body = enterprise_body()
    created = await services.registry.post("/v1/enterprises", json=body, headers=admin_headers)
    assert created.status_code == 201, created.text
    enterprise = created.json()
    assert enterprise["credit_code"] == body["credit_code"]
    again = await services.registry.post(
        "/v1/enterprises", json={**body, "name": "另一家公司"}, headers=admin_headers
    )
    problem = assert_problem(again, 409)
    assert problem["existing_id"] == enterprise["id"]


async def test_invalid_credit_code_is_refused_naming_the_reason(
    services: Services, admin_headers: dict[str, str]
) -> None:
    good = credit_code()
    wrong_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    for code, reason in ((wrong_check, "check digit"), ("91370100MA3C5X6L", "18 characters")):
        response = await services.registry.post(
            "/v1/enterprises", json=enterprise_body(credit_code=code), headers=admin_headers
        )
        problem = assert_problem(response, 422)
        assert problem["errors"][0]["field"] == "credit_code"
        assert reason in problem["errors"][0]["message"]
    unknown_locality = await services.registry.post(
        "/v1/enterprises", json=enterprise_body(locality_code="999900"), headers=admin_headers
    )
    assert assert_problem(unknown_locality, 422)["errors"][0]["field"] == "locality_code"
    listed = await services.registry.get("/v1/enterprises", headers=admin_headers)
    assert listed.json()["items"] == []


async def test_organiser_scope_and_county_coverage(services: Services) -> None:
    await create_account(services, "jinan.org", "organiser", locality_code="370100")
    headers = bearer(await get_token(services, "jinan.org"))
    qingdao = await services.registry.post(
        "/v1/enterprises", json=enterprise_body(locality_code="370200"), headers=headers
    )
    assert_problem(qingdao, 403)
    admin_id = await create_account(services, "root", "admin")
    assert admin_id
    admin = bearer(await get_token(services, "root"))
    # Counties are seeded (GB/T 2260): Lixia works at once, and cannot be added twice.
    lixia = await services.registry.get("/v1/localities/370102", headers=admin)
    assert lixia.json()["name"] == "历下区"
    assert lixia.json()["parent_code"] == "370100"
    again = await services.registry.post(
        "/v1/localities",
        json={"code": "370102", "name": "历下区", "parent_code": "370100"},
        headers=admin,
    )
    assert_problem(again, 409)
    # Functional areas outside the county table can still be added by an admin.
    zone = await services.registry.post(
        "/v1/localities",
        json={"code": "370171", "name": "济南高新技术产业开发区", "parent_code": "370100"},
        headers=admin,
    )
    assert zone.status_code == 201, zone.text
    in_county = await services.registry.post(
        "/v1/enterprises", json=enterprise_body(locality_code="370102"), headers=headers
    )
    assert in_county.status_code == 201, in_county.text
    city_list = await services.registry.get(
        "/v1/enterprises", params={"locality_code": "370100"}, headers=headers
    )
    assert [e["id"] for e in city_list.json()["items"]] == [in_county.json()["id"]]


async def test_name_search_ranks_exact_and_prefix_first(
    services: Services, admin_headers: dict[str, str]
) -> None:
    names = ["山东重工集团有限公司", "重工", "潍柴重工股份有限公司", "浪潮集团有限公司"]
    for name in names:
        response = await services.registry.post(
            "/v1/enterprises", json=enterprise_body(name=name), headers=admin_headers
        )
        assert response.status_code == 201
    found = await services.registry.get(
        "/v1/enterprises", params={"q": "重工"}, headers=admin_headers
    )
    assert [e["name"] for e in found.json()["items"]] == [
        "重工",
        "山东重工集团有限公司",
        "潍柴重工股份有限公司",
    ]
    one_char = await services.registry.get(
        "/v1/enterprises", params={"q": "潮"}, headers=admin_headers
    )
    assert [e["name"] for e in one_char.json()["items"]] == ["浪潮集团有限公司"]
    paged = await services.registry.get(
        "/v1/enterprises", params={"q": "重工", "limit": 2}, headers=admin_headers
    )
    rest = await services.registry.get(
        "/v1/enterprises",
        params={"q": "重工", "limit": 2, "cursor": paged.json()["next_cursor"]},
        headers=admin_headers,
    )
    assert [e["name"] for e in rest.json()["items"]] == ["潍柴重工股份有限公司"]
    assert rest.json()["next_cursor"] is None


async def test_update_with_if_match(services: Services, admin_headers: dict[str, str]) -> None:
    created = (
        await services.registry.post(
            "/v1/enterprises", json=enterprise_body(), headers=admin_headers
        )
    ).json()
    url = f"/v1/enterprises/{created['id']}"
    read = await services.registry.get(url, headers=admin_headers)
    tag = read.headers["etag"]
    first = await services.registry.patch(
        url, json={"size": "medium"}, headers={**admin_headers, "if-match": tag}
    )
    assert first.status_code == 200
    assert first.headers["etag"] != tag
    stale = await services.registry.patch(
        url, json={"size": "small"}, headers={**admin_headers, "if-match": tag}
    )
    assert assert_problem(stale, 412)["current_etag"] == first.headers["etag"]
    assert (await services.registry.get(url, headers=admin_headers)).json()["size"] == "medium"
