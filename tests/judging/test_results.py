"""Result rules and computation through HTTP: trimmed mean, median and standardisation against
arithmetic done by hand here, tie-break order, prize bands and medals, reproducibility, and the
lifecycle's refusals."""

from __future__ import annotations

import math
import statistics

import pytest

from tests.conftest import Services, assert_problem
from tests.judging.helpers import login
from tests.judging.results_helpers import (
    by_entry,
    close_appeal_window,
    compute,
    put_rules,
    seeded_stage,
)


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, abs_tol=0.0015)


async def test_trimmed_mean_and_median_by_hand(
    services: Services, admin_headers: dict[str, str]
) -> None:
    # Entry X: five judges give theory 20, 22, 24, 26, 30 (of 30) and practical levels
    # 3, 2, 2, 1, 3 (0-3 scale, aspect of 70). Entry Y: 25 and level 2 from everyone.
    seeded = await seeded_stage(
        services,
        admin_headers,
        [
            [(20, 3), (22, 2), (24, 2), (26, 1), (30, 3)],
            [(25, 2), (25, 2), (25, 2), (25, 2), (25, 2)],
        ],
    )
    x, y = (str(e[0]) for e in seeded.entries)

    await put_rules(services, admin_headers, seeded.stage_id, aggregation="trimmed_mean")
    trimmed = by_entry(await compute(services, admin_headers, seeded.stage_id))
    # Trimmed (5 judges: drop the highest and lowest): theory (22 + 24 + 26) / 3 = 24 -> 24/30
    # = 80.0; practical (2 + 2 + 3) / 3 = 7/3 levels -> 7/3 / 3 = 77.78 %; stage = 0.3 x 80 +
    # 0.7 x 77.78 = 24 + 54.444 = 78.444.
    theory_x = (22 + 24 + 26) / 3 / 30 * 100
    practical_x = (2 + 2 + 3) / 3 / 3 * 100
    assert close(trimmed[x]["component_scores"]["theory"], theory_x)
    assert close(trimmed[x]["component_scores"]["practical"], practical_x)
    assert close(trimmed[x]["score"], 0.3 * theory_x + 0.7 * practical_x)
    assert close(trimmed[x]["score"], 78.444)
    # Y: 25/30 = 83.33 and level 2 = 66.67 %: 25 + 46.667 = 71.667.
    assert close(trimmed[y]["score"], 0.3 * 25 / 30 * 100 + 0.7 * 2 / 3 * 100)
    assert (trimmed[x]["rank"], trimmed[y]["rank"]) == (1, 2)

    await put_rules(services, admin_headers, seeded.stage_id, aggregation="median")
    median = by_entry(await compute(services, admin_headers, seeded.stage_id))
    # Median: theory 24 -> 80; practical level 2 -> 66.67; stage 24 + 46.667 = 70.667 < Y.
    assert close(median[x]["score"], 0.3 * 24 / 30 * 100 + 0.7 * 2 / 3 * 100)
    assert close(median[x]["score"], 70.667)
    assert (median[y]["rank"], median[x]["rank"]) == (1, 2)

    await put_rules(services, admin_headers, seeded.stage_id, aggregation="mean")
    mean = by_entry(await compute(services, admin_headers, seeded.stage_id))
    # Mean: theory 122/5 = 24.4 -> 81.33; practical 11/5 = 2.2 -> 73.33; 24.4 + 51.333.
    assert close(mean[x]["score"], 0.3 * 24.4 / 30 * 100 + 0.7 * 2.2 / 3 * 100)


async def test_trimmed_mean_needs_five_judges(
    services: Services, admin_headers: dict[str, str]
) -> None:
    seeded = await seeded_stage(services, admin_headers, [[(10, 0), (20, 3), (30, 3), (30, 3)]])
    await put_rules(services, admin_headers, seeded.stage_id, aggregation="trimmed_mean")
    entry = (await compute(services, admin_headers, seeded.stage_id))["entries"][0]
    # Four judges: no trimming, the plain mean: theory 90/4 = 22.5; practical 9/4 = 2.25.
    assert close(entry["score"], 0.3 * 22.5 / 30 * 100 + 0.7 * 2.25 / 3 * 100)


def _z(values: list[float]) -> list[float]:
    mean = sum(values) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return [0.0 if sd == 0 else (v - mean) / sd for v in values]


async def test_zscore_standardisation_by_hand(
    services: Services, admin_headers: dict[str, str]
) -> None:
    # Two judges, three entries A, B, C: marks[entry][judge] = (theory, practical level).
    # Judge 1 is harsh and spread out on theory, judge 2 lenient and close together.
    marks = [
        [(10, 3), (24, 3)],  # A
        [(20, 1), (26, 3)],  # B
        [(30, 2), (25, 3)],  # C
    ]
    seeded = await seeded_stage(services, admin_headers, marks)
    await put_rules(services, admin_headers, seeded.stage_id, standardisation="zscore")
    result = by_entry(await compute(services, admin_headers, seeded.stage_id))

    # Per judge and aspect: z = (x - mean) / population sd, value = 700 + 100 z; judge 2's
    # practical levels are all 3 (sd 0), so z = 0 and 700 for everyone.
    j1_theory = _z([10, 20, 30])  # mean 20, sd 8.165: -1.2247, 0, 1.2247
    j2_theory = _z([24, 26, 25])  # mean 25, sd 0.8165: -1.2247, 1.2247, 0
    j1_practical = _z([3, 1, 2])  # mean 2, sd 0.8165: 1.2247, -1.2247, 0
    j2_practical = _z([3, 3, 3])  # 0, 0, 0
    expected = []
    for i in range(3):
        theory = ((700 + 100 * j1_theory[i]) + (700 + 100 * j2_theory[i])) / 2
        practical = ((700 + 100 * j1_practical[i]) + (700 + 100 * j2_practical[i])) / 2
        # One aspect per component: the component score is that aspect's 700-scale value.
        expected.append(0.3 * theory + 0.7 * practical)
    # A: 0.3 x 577.53 + 0.7 x 761.24 = 706.124; B: 675.505; C: 718.371.
    assert [round(e, 3) for e in expected] == [706.124, 675.505, 718.371]
    for (stage_entry_id, _, _), want in zip(seeded.entries, expected, strict=True):
        assert close(result[str(stage_entry_id)]["score"], want)
    ranks = [result[str(e[0])]["rank"] for e in seeded.entries]
    assert ranks == [2, 3, 1]


async def test_robust_standardisation_by_hand(
    services: Services, admin_headers: dict[str, str]
) -> None:
    # One judge, four entries; theory 10, 20, 22, 30 and practical levels 0, 1, 2, 3.
    marks = [[(10, 0)], [(20, 1)], [(22, 2)], [(30, 3)]]
    seeded = await seeded_stage(services, admin_headers, marks)
    await put_rules(services, admin_headers, seeded.stage_id, standardisation="robust")
    result = by_entry(await compute(services, admin_headers, seeded.stage_id))

    def robust(values: list[float]) -> list[float]:
        med = statistics.median(values)
        mad = statistics.median([abs(v - med) for v in values])
        return [700 + 100 * (v - med) / (1.4826 * mad) for v in values]

    # theory: median 21, deviations 11, 1, 1, 9 -> MAD 5; practical: median 1.5, MAD 1.
    theory = robust([10, 20, 22, 30])
    practical = robust([0, 1, 2, 3])
    assert close(theory[0], 700 + 100 * (10 - 21) / (1.4826 * 5))
    for i, (stage_entry_id, _, _) in enumerate(seeded.entries):
        assert close(result[str(stage_entry_id)]["score"], 0.3 * theory[i] + 0.7 * practical[i])


async def test_tie_breaks_prize_bands_and_medals(
    services: Services, admin_headers: dict[str, str]
) -> None:
    # Measurement practical (of 70): the stage score is theory + practical marks.
    marks: list[list[tuple[float, float]]] = [
        [(30, 50)],  # E6: 80
        [(20, 50)],  # E1: 70, practical 71.43, 90 s
        [(25, 45)],  # E2: 70, practical 64.29
        [(20, 50)],  # E3: 70, practical 71.43, 100 s
        [(20, 50)],  # E4: 70, practical 71.43, no time
        [(20, 50)],  # E5: as E4
        [(19.8, 50)],  # E7: 69.8
        [(10, 50)],  # E8: 60
    ]
    seeded = await seeded_stage(services, admin_headers, marks, practical="measurement")
    sid = seeded.stage_id
    times = await services.judging.put(
        f"/v1/stages/{sid}/completion-times",
        json={
            "times": [
                {"blind_code": seeded.code(1), "seconds": 90},
                {"blind_code": seeded.code(3), "seconds": 100},
            ]
        },
        headers=admin_headers,
    )
    assert times.status_code == 200, times.text
    assert times.json()["total"] == 2
    bad = await services.judging.put(
        f"/v1/stages/{sid}/completion-times",
        json={"times": [{"blind_code": "NOPE00", "seconds": 1}]},
        headers=admin_headers,
    )
    assert assert_problem(bad, 422)["errors"][0]["field"] == "times[0].blind_code"

    bad_rules = await services.judging.put(
        f"/v1/stages/{sid}/result-rules",
        json={"tie_breaks": ["component:defence"]},
        headers=admin_headers,
    )
    assert assert_problem(bad_rules, 422)["errors"][0]["field"] == "tie_breaks[0]"
    rules = await put_rules(
        services,
        admin_headers,
        sid,
        tie_breaks=["component:practical", "component:theory", "completion_time"],
        prize_bands={"basis": "count", "first": 1, "second": 2, "third": 1, "merit": 2},
        medals={"gold": 1, "silver": 1, "bronze": 1, "tie_band": 0.5},
    )
    assert rules["version"] == 1
    stale = await services.judging.put(
        f"/v1/stages/{sid}/result-rules",
        json={"aggregation": "median"},
        headers={**admin_headers, "If-Match": '"0"'},
    )
    assert_problem(stale, 412)

    result = await compute(services, admin_headers, sid)
    got = by_entry(result)
    names = ["E6", "E1", "E2", "E3", "E4", "E5", "E7", "E8"]
    row = {n: got[str(seeded.entries[i][0])] for i, n in enumerate(names)}
    # 80 first; the four 70s with the higher practical (71.43) before E2's 64.29; among them
    # completion time 90 s before 100 s, and E4/E5 (no time) share rank 4; E2 is 6th.
    assert {n: r["rank"] for n, r in row.items()} == {
        "E6": 1, "E1": 2, "E3": 3, "E4": 4, "E5": 4, "E2": 6, "E7": 7, "E8": 8,
    }  # fmt: skip
    assert [e["rank"] for e in result["entries"]] == [1, 2, 3, 4, 4, 6, 7, 8]
    # Bands fill positions 1 | 2-3 | 4 | 5-6: E4 and E5 tie at rank 4 and both take third.
    assert {n: r["prize"] for n, r in row.items()} == {
        "E6": "first", "E1": "second", "E3": "second", "E4": "third", "E5": "third",
        "E2": "merit", "E7": None, "E8": None,
    }  # fmt: skip
    # Gold cut-off 80 (position 1), silver 70 (position 2): E7's 69.8 is within the 0.5 tie
    # band and shares silver; bronze's cut-off (position 3) is 70 too, so nobody is left for it.
    assert {n: r["medal"] for n, r in row.items()} == {
        "E6": "gold", "E1": "silver", "E3": "silver", "E4": "silver", "E5": "silver",
        "E2": "silver", "E7": "silver", "E8": None,
    }  # fmt: skip
    assert row["E1"]["completion_seconds"] == 90


async def test_percent_bands(services: Services, admin_headers: dict[str, str]) -> None:
    marks = [[(float(t), 0)] for t in (30, 25, 20, 15, 10)]
    seeded = await seeded_stage(services, admin_headers, marks, practical="measurement")
    await put_rules(
        services,
        admin_headers,
        seeded.stage_id,
        prize_bands={"basis": "percent", "first": 10, "second": 20, "third": 30},
    )
    result = await compute(services, admin_headers, seeded.stage_id)
    # 5 entries: first ceil(0.5) = 1 place, second ceil(1.0) = 1, third ceil(1.5) = 2.
    assert [e["prize"] for e in result["entries"]] == ["first", "second", "third", "third", None]


async def test_lifecycle_refusals_and_verification(
    services: Services, admin_headers: dict[str, str]
) -> None:
    seeded = await seeded_stage(services, admin_headers, [[(20, 2)], [(25, 3)]])
    sid = seeded.stage_id
    url = f"/v1/stages/{sid}/results"
    assert_problem(
        await services.judging.post(url + ":publish-provisional", headers=admin_headers), 409
    )
    assert_problem(await services.judging.post(url + ":finalise", headers=admin_headers), 409)
    assert_problem(await services.judging.get(f"/v1/stages/{sid}/leaderboard"), 404)

    draft = await compute(services, admin_headers, sid)
    assert draft["status"] == "draft"
    assert draft["entries"][0]["blind_code"] is None  # blind until published
    assert len(draft["digest"]) == 64
    check = await services.judging.get(f"{url}/1/verification", headers=admin_headers)
    assert check.status_code == 200, check.text
    assert check.json()["digest_matches"]
    assert check.json()["results_match"]

    # A competitor sees no draft; the public leaderboard neither.
    worker = await login(services, "w.reader", "worker")
    assert_problem(await services.judging.get(f"{url}/1", headers=worker), 404)
    assert_problem(await services.judging.get(f"/v1/stages/{sid}/leaderboard"), 404)
    assert_problem(await services.judging.post(url + ":compute", headers=worker), 403)

    published = await services.judging.post(url + ":publish-provisional", headers=admin_headers)
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "provisional"
    assert published.json()["appeal_deadline"] is not None
    public = await services.judging.get(f"{url}/1", headers=worker)
    assert public.status_code == 200
    assert {e["blind_code"] for e in public.json()["entries"]} == {e[2] for e in seeded.entries}

    early = assert_problem(
        await services.judging.post(url + ":finalise", headers=admin_headers), 409
    )
    assert "appeal window" in early["detail"]
    await close_appeal_window(services, sid)
    final = await services.judging.post(url + ":finalise", headers=admin_headers)
    assert final.status_code == 200, final.text
    assert final.json()["status"] == "final"
    assert_problem(await services.judging.post(url + ":compute", headers=admin_headers), 409)


@pytest.mark.parametrize("role", ["organiser", "judge"])
async def test_rules_are_for_organisers_of_the_stage(
    services: Services, admin_headers: dict[str, str], role: str
) -> None:
    seeded = await seeded_stage(services, admin_headers, [[(20, 2)]])
    scope = {"locality_code": "370200"} if role == "organiser" else {}
    headers = await login(services, f"x.{role}", role, **scope)
    response = await services.judging.put(
        f"/v1/stages/{seeded.stage_id}/result-rules", json={}, headers=headers
    )
    assert_problem(response, 403)


async def test_role_matrix_of_the_results_endpoints(
    services: Services, admin_headers: dict[str, str]
) -> None:
    seeded = await seeded_stage(services, admin_headers, [[(20, 2)]])
    sid = seeded.stage_id
    who = {
        "admin": admin_headers,
        "organiser": await login(services, "m.org.in", "organiser", locality_code="370100"),
        "other organiser": await login(services, "m.org.out", "organiser", locality_code="370200"),
        "judge": await login(services, "m.judge", "judge"),
        "worker": await login(services, "m.worker", "worker"),
    }
    times = {"times": [{"blind_code": seeded.code(0), "seconds": 1}]}
    appeal = {"aspect_ids": [str(seeded.theory)], "reason": "复核"}
    decision = {"outcome": "rejected", "reason": "无理由"}
    expected = [
        ("GET", f"/v1/stages/{sid}/result-rules", None, {
            "admin": 200, "organiser": 200, "other organiser": 403, "judge": 403, "worker": 403,
        }),
        ("PUT", f"/v1/stages/{sid}/completion-times", times, {
            "admin": 200, "organiser": 200, "other organiser": 403, "judge": 403, "worker": 403,
        }),
        ("POST", f"/v1/stages/{sid}/results:compute", None, {
            "admin": 201, "organiser": 201, "other organiser": 403, "judge": 403, "worker": 403,
        }),
        ("GET", f"/v1/stages/{sid}/results/1/verification", None, {
            "admin": 200, "organiser": 200, "other organiser": 403, "judge": 403, "worker": 403,
        }),
        ("POST", f"/v1/stages/{sid}/appeals", appeal, {
            "admin": 403, "organiser": 403, "judge": 403,
        }),
        ("POST", f"/v1/appeals/{seeded.judges[0]}:decide", decision, {
            "admin": 404, "organiser": 404, "judge": 403, "worker": 403,
        }),
    ]  # fmt: skip
    for method, path, body, statuses in expected:
        for role, status in statuses.items():
            response = await services.judging.request(method, path, json=body, headers=who[role])
            assert response.status_code == status, (method, path, role, response.text)
    # Drafts are for the stage's organisers: others see no version and no leaderboard.
    listed = await services.judging.get(f"/v1/stages/{sid}/results", headers=who["judge"])
    assert listed.json()["items"] == []
    assert_problem(await services.judging.get(f"/v1/stages/{sid}/leaderboard"), 404)
