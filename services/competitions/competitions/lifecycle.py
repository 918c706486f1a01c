"""The competition lifecycle: which status may follow which."""

from __future__ import annotations

from shared.models.competitions.enums import CompetitionStatus as S

TRANSITIONS: dict[S, tuple[S, ...]] = {
    S.draft: (S.registration_open,),
    S.registration_open: (S.registration_closed,),
    S.registration_closed: (S.registration_open, S.in_progress),
    S.in_progress: (S.results_published,),
    S.results_published: (S.archived,),
    S.archived: (),
}
