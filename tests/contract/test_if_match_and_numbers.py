"""The one concurrency rule and the one shape for numbers, through the HTTP API.

Contested writes: 428 without `If-Match` once the record exists, 412 when stale, 422 for
something that is not an ETag; nothing written in any of those cases. Numbers: JSON numbers,
integers when whole, never strings.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import Services, assert_problem, matching
from tests.judging.helpers import create_judge, stage_with_entries
from tests.judging.results_helpers import two_aspect_scheme


async def test_competition_status_change_follows_the_rule(
    services: Services, admin_headers: dict[str, str]
) -> None:
    setup = await stage_with_entries(services, admin_headers, [{}])
    url = f"/v1/competitions/{setup.competition_id}"
    before = await services.competitions.get(url, headers=admin_headers)
    etag = before.headers["etag"]
    change = {"status": before.json()["allowed_transitions"][0]}
    missing = await services.competitions.post(f"{url}/status", json=change, headers=admin_headers)
    assert assert_problem(missing, 428)["current_etag"] == etag
    stale = await services.competitions.post(
        f"{url}/status", json=change, headers={**admin_headers, "if-match": '"999"'}
    )
    assert_problem(stale, 412)
    garbage = await services.competitions.post(
        f"{url}/status", json=change, headers={**admin_headers, "if-match": "yesterday"}
    )
    assert assert_problem(garbage, 422)["errors"][0]["field"] == "If-Match"
    after = await services.competitions.get(url, headers=admin_headers)
    assert after.json() == before.json()  # nothing written
    done = await services.competitions.post(
        f"{url}/status", json=change, headers={**admin_headers, "if-match": etag}
    )
    assert done.status_code == 200, done.text
    assert done.headers["etag"] != etag


async def test_result_rules_put_follows_the_rule_and_bands_are_numbers(
    services: Services, admin_headers: dict[str, str]
) -> None:
    setup = await stage_with_entries(services, admin_headers, [{}])
    url = f"/v1/stages/{setup.stage_id}/result-rules"
    defaults = await services.judging.get(url, headers=admin_headers)
    assert defaults.headers["etag"] == '"0"'
    rules: dict[str, Any] = {
        "prize_bands": {"basis": "percent", "first": 12.5, "second": "20", "third": 30},
        "medals": {"basis": "count", "gold": 1, "silver": 2, "bronze": 3, "tie_band": 0.5},
    }
    # Never saved: the first PUT may go without If-Match (or with the "0" its GET answered).
    first = await services.judging.put(url, json=rules, headers=admin_headers)
    assert first.status_code == 200, first.text
    body = first.json()
    # Numbers come back as numbers: whole ones as integers, a string sent as a number.
    assert body["prize_bands"] == {"basis": "percent", "first": 12.5, "second": 20, "third": 30,
                                   "merit": 0}  # fmt: skip
    assert body["medals"] == {"basis": "count", "gold": 1, "silver": 2, "bronze": 3,
                              "tie_band": 0.5}  # fmt: skip
    assert '"first":12.5' in first.text
    assert '"second":20,' in first.text
    assert all(isinstance(c["weight"], int) for c in body["components"])
    saved = first.headers["etag"]
    missing = await services.judging.put(url, json=rules, headers=admin_headers)
    assert assert_problem(missing, 428)["current_etag"] == saved
    stale = await services.judging.put(
        url, json=rules, headers={**admin_headers, "if-match": '"0"'}
    )
    assert_problem(stale, 412)
    assert (await services.judging.get(url, headers=admin_headers)).headers["etag"] == saved
    again = await services.judging.put(
        url, json=rules, headers={**admin_headers, "if-match": saved}
    )
    assert again.status_code == 200, again.text
    # Marks and bands have their precision in the schema; more decimals are a 422 naming it.
    noisy = {"prize_bands": {"basis": "percent", "first": 20.200000000000003}}
    refused = await services.judging.put(
        url, json=noisy, headers={**admin_headers, "if-match": again.headers["etag"]}
    )
    assert assert_problem(refused, 422)["errors"][0]["field"] == "prize_bands.first"


async def test_marking_scheme_numbers_and_its_if_match(
    services: Services, admin_headers: dict[str, str]
) -> None:
    setup = await stage_with_entries(services, admin_headers, [{}])
    url = f"/v1/stages/{setup.stage_id}/marking-schemes"
    scheme = two_aspect_scheme("measurement")
    first = await services.judging.post(url, json=scheme, headers=admin_headers)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["total"] == 100
    assert '"total":100,' in first.text  # not 100.0, not "100.00"
    marks = [
        a["max_mark"] for c in body["criteria"] for s in c["sub_criteria"] for a in s["aspects"]
    ]
    assert all(isinstance(m, int | float) for m in marks)
    assert all(isinstance(v, int | float) for v in body["component_marks"].values())
    missing = await services.judging.post(url, json=scheme, headers=admin_headers)
    assert assert_problem(missing, 428)["current_etag"] == first.headers["etag"]
    second = await services.judging.post(
        url, json=scheme, headers={**admin_headers, "if-match": first.headers["etag"]}
    )
    assert second.status_code == 201, second.text
    assert second.json()["version"] == 2


async def test_patch_without_if_match_is_428_in_every_service(
    services: Services, admin_headers: dict[str, str]
) -> None:
    setup = await stage_with_entries(services, admin_headers, [{}])
    judge = await create_judge(services, admin_headers)
    cases = [
        (services.competitions, f"/v1/stages/{setup.stage_id}", {"name": "市级复赛"}),
        (services.competitions, f"/v1/events/{setup.event_id}", {"capacity": 40}),
        (services.judging, f"/v1/judges/{judge['id']}", {"name": "王评委"}),
    ]
    for client, url, change in cases:
        before = await client.get(url, headers=admin_headers)
        missing = await client.patch(url, json=change, headers=admin_headers)
        assert assert_problem(missing, 428)["current_etag"] == before.headers["etag"], url
        assert (await client.get(url, headers=admin_headers)).json() == before.json(), url
        done = await client.patch(
            url, json=change, headers=await matching(client, url, admin_headers)
        )
        assert done.status_code == 200, (url, done.text)


async def test_advancement_value_and_stage_scores_are_numbers(
    services: Services, admin_headers: dict[str, str]
) -> None:
    setup = await stage_with_entries(services, admin_headers, [{}])
    url = f"/v1/stages/{setup.stage_id}"
    patched = await services.competitions.patch(
        url,
        json={"advancement_rule": "min_score", "advancement_value": "60.5"},
        headers=await matching(services.competitions, url, admin_headers),
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["advancement_value"] == 60.5
    top = await services.competitions.patch(
        url,
        json={"advancement_rule": "top_n", "advancement_value": 8},
        headers={**admin_headers, "if-match": patched.headers["etag"]},
    )
    assert top.status_code == 200, top.text
    assert '"advancement_value":8,' in top.text  # not 8.0
