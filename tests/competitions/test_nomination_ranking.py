"""The placing of a qualifier's ranking within its quota (pure: no database)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal

from services.competitions.nominations.ranking import Ranked, Skip, place
from services.competitions.pathways.service import group_key
from shared.models.competitions import QuotaBasis


def _ranked(rank: int, locality: str = "370102", enterprise: uuid.UUID | None = None) -> Ranked:
    return Ranked(uuid.uuid4(), uuid.uuid4(), enterprise, locality, rank, Decimal(100 - rank))


def _group(basis: QuotaBasis) -> Callable[[Ranked], str]:
    return lambda r: group_key(basis, r.locality_code, r.enterprise_id)


def test_per_city_quotas_count_each_city_apart() -> None:
    jinan = [_ranked(1), _ranked(2, "370103"), _ranked(5)]
    qingdao = [_ranked(3, "370202"), _ranked(4, "370211"), _ranked(6, "370202")]
    placings = place(
        jinan + qingdao, quota=2, group_of=_group(QuotaBasis.city), held=set(), skipped={}
    )
    outcome = {p.ranked.rank: (p.group, p.outcome) for p in placings}
    assert outcome == {
        1: ("370100", "suggested"),
        2: ("370100", "suggested"),
        3: ("370200", "suggested"),
        4: ("370200", "suggested"),
        5: ("370100", "reserve"),
        6: ("370200", "reserve"),
    }
    assert not any(p.boundary_tie for p in placings)


def test_per_enterprise_quotas_and_held_places() -> None:
    weichai, haier = uuid.uuid4(), uuid.uuid4()
    a, b, c, d = (_ranked(1, enterprise=weichai), _ranked(2, enterprise=weichai),
                  _ranked(3, enterprise=haier), _ranked(4, enterprise=weichai))  # fmt: skip
    # d already holds the one Weichai place (a substitute, say): a and b are reserves now.
    placings = place(
        [a, b, c, d],
        quota=1,
        group_of=_group(QuotaBasis.enterprise),
        held={d.worker_id},
        skipped={},
    )
    assert [p.outcome for p in placings] == ["reserve", "reserve", "suggested", "nominated"]


def test_skipped_workers_leave_their_place_to_the_next_and_ties_are_flagged() -> None:
    first, second, tied_a, tied_b = _ranked(1), _ranked(2), _ranked(3), _ranked(3)
    placings = place(
        [tied_b, second, first, tied_a],
        quota=2,
        group_of=_group(QuotaBasis.qualifier),
        held=set(),
        skipped={first.worker_id: [Skip("max_age", "aged 48, above the maximum 45")]},
    )
    by_rank = [(p.ranked.rank, p.outcome, p.boundary_tie) for p in placings]
    assert by_rank[0] == (1, "skipped", False)
    assert by_rank[1] == (2, "suggested", False)
    assert sorted(by_rank[2:]) == [(3, "reserve", True), (3, "suggested", True)]
    assert placings[0].skips[0].rule == "max_age"
