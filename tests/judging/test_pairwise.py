"""Pairwise judging (CrowdBT): the model's updates, and the HTTP flow: a judge compares the
pairs the service proposes, the ranking recovers the judge's order, only assigned entries may
be compared, each pair once, and the ranking is for organisers."""

from __future__ import annotations

import math
import uuid

import pytest

from services.judging.pairwise import crowd_bt
from shared.models.judging import JudgeAssignment
from tests.conftest import Services, assert_problem
from tests.judging.helpers import create_judge, login, stage_with_entries, sub_of, worker


def test_a_vote_moves_the_beliefs_the_right_way() -> None:
    judge = crowd_bt.Reliability()
    a, b = crowd_bt.Belief(), crowd_bt.Belief(mu=0.5, sigma_sq=0.8)
    outcome = crowd_bt.update(judge, a, b)
    assert outcome.winner.mu > a.mu
    assert outcome.loser.mu < b.mu
    assert outcome.winner.sigma_sq < a.sigma_sq
    assert outcome.loser.sigma_sq < b.sigma_sq
    # The vote's probability: the two answers' probabilities add up to one.
    assert crowd_bt.vote_probability(judge, a, b) + crowd_bt.vote_probability(
        judge, b, a
    ) == pytest.approx(1.0, abs=1e-9)
    assert outcome.probability == pytest.approx(crowd_bt.vote_probability(judge, a, b))
    # With equal beliefs a reliable judge's vote is a coin flip for the model.
    assert crowd_bt.vote_probability(judge, a, a) == pytest.approx(0.5, abs=1e-9)
    # psi(1) is minus the Euler-Mascheroni constant.
    assert crowd_bt._digamma(1.0) == pytest.approx(-0.5772156649015329)


def test_a_judge_voting_against_clear_evidence_loses_reliability() -> None:
    judge = crowd_bt.Reliability()
    strong, weak = crowd_bt.Belief(mu=2.0, sigma_sq=0.05), crowd_bt.Belief(mu=-2.0, sigma_sq=0.05)
    agrees = crowd_bt.update(judge, strong, weak).judge
    contradicts = crowd_bt.update(judge, weak, strong).judge

    def mean(r: crowd_bt.Reliability) -> float:
        return r.alpha / (r.alpha + r.beta)

    assert mean(contradicts) < mean(judge) < mean(agrees)
    # A pair already well told apart teaches less than an uncertain one.
    unsure = crowd_bt.Belief()
    assert crowd_bt.information_gain(judge, strong, weak) < crowd_bt.information_gain(
        judge, unsure, crowd_bt.Belief(mu=0.1)
    )


async def test_pairwise_flow(services: Services, admin_headers: dict[str, str]) -> None:
    workers = [await worker(services) for _ in range(5)]
    stage = await stage_with_entries(
        services, admin_headers, [{"worker_id": w.id} for w in workers]
    )
    rows = (
        await services.competitions.get(
            f"/v1/stages/{stage.stage_id}/stage-entries", headers=admin_headers
        )
    ).json()["items"]
    by_entry = {uuid.UUID(r["entry_id"]): r for r in rows}
    ordered = [by_entry[e] for e in stage.entries]  # the judge's true order: best first
    judge_headers = await login(services, "pair.judge", "judge")
    judge = await create_judge(
        services, admin_headers, account_sub=await sub_of(services, judge_headers)
    )
    async with services.apps["judging"].state.sessionmaker() as s, s.begin():
        for row in ordered[:4]:  # the fifth entry is someone else's
            s.add(
                JudgeAssignment(
                    stage_id=stage.stage_id,
                    stage_entry_id=uuid.UUID(row["id"]),
                    entry_id=uuid.UUID(row["entry_id"]),
                    blind_code=row["blind_code"],
                    judge_id=uuid.UUID(judge["id"]),
                    locality_code="370100",
                    worker_ids=[],
                    enterprise_ids=[],
                )
            )
    base = f"/v1/stages/{stage.stage_id}/pairwise"
    position = {row["blind_code"]: i for i, row in enumerate(ordered)}
    seen = set()
    for remaining in range(6, 0, -1):
        pair = await services.judging.get(f"{base}/next-pair", headers=judge_headers)
        assert pair.status_code == 200, pair.text
        a, b = pair.json()["a"], pair.json()["b"]
        assert pair.json()["remaining"] == remaining
        assert frozenset((a, b)) not in seen
        seen.add(frozenset((a, b)))
        winner, loser = sorted((a, b), key=position.__getitem__)
        voted = await services.judging.post(
            f"{base}/votes", json={"winner": winner, "loser": loser}, headers=judge_headers
        )
        assert voted.status_code == 201, voted.text
        if remaining == 6:  # from the priors (0): the winner rises, the loser falls
            assert voted.json()["winner"]["mu"] > 0 > voted.json()["loser"]["mu"]
    assert_problem(await services.judging.get(f"{base}/next-pair", headers=judge_headers), 404)

    codes = [row["blind_code"] for row in ordered]
    repeat = await services.judging.post(
        f"{base}/votes", json={"winner": codes[0], "loser": codes[1]}, headers=judge_headers
    )
    assert_problem(repeat, 409)
    foreign = await services.judging.post(
        f"{base}/votes", json={"winner": codes[4], "loser": codes[0]}, headers=judge_headers
    )
    assert [e["field"] for e in assert_problem(foreign, 403)["errors"]] == ["winner"]
    same = await services.judging.post(
        f"{base}/votes", json={"winner": codes[0], "loser": codes[0]}, headers=judge_headers
    )
    assert assert_problem(same, 422)["errors"][0]["field"] == "loser"

    ranking = await services.judging.get(f"{base}/ranking", headers=admin_headers)
    assert ranking.status_code == 200, ranking.text
    body = ranking.json()
    assert body["votes"] == 6
    assert [i["blind_code"] for i in body["items"]] == codes[:4]
    assert [i["comparisons"] for i in body["items"]] == [3, 3, 3, 3]
    assert all(i["sigma_sq"] < 1 for i in body["items"])
    assert all(math.isfinite(i["mu"]) for i in body["items"])
    assert_problem(await services.judging.get(f"{base}/ranking", headers=judge_headers), 403)

    # A judge without entries in the stage has nothing to compare.
    other_headers = await login(services, "pair.other", "judge")
    await create_judge(
        services,
        admin_headers,
        name="王评委",
        account_sub=await sub_of(services, other_headers),
    )
    assert_problem(await services.judging.get(f"{base}/next-pair", headers=other_headers), 403)
