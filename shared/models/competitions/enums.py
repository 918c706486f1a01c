"""Competitions vocabularies, stored as text with CHECK constraints."""

from __future__ import annotations

import enum


class CompetitionKind(enum.StrEnum):
    post_training = "post_training"  # 岗位练兵
    technical_contest = "technical_contest"  # 技术比武
    skill_competition = "skill_competition"  # 技能竞赛
    innovation_competition = "innovation_competition"  # 创新竞赛


class CompetitionLevel(enum.StrEnum):
    enterprise = "enterprise"
    county = "county"
    city = "city"
    provincial = "provincial"
    #: National contests are run outside the province: only their results are recorded here
    #: (talent files, `POST /v1/workers/{id}/national-results`); no national competition is
    #: organised in this system.
    national = "national"

    @property
    def rank(self) -> int:
        """Lowest first: enterprise < county < city < provincial < national."""
        return list(CompetitionLevel).index(self)


class CompetitionStatus(enum.StrEnum):
    draft = "draft"
    registration_open = "registration_open"
    registration_closed = "registration_closed"
    in_progress = "in_progress"
    results_published = "results_published"
    archived = "archived"


class EventMode(enum.StrEnum):
    individual = "individual"
    team = "team"
    innovation = "innovation"  # an achievement and its team


#: Team sizes when an event does not give them: a team event's teams have 2 to 20 members, an
#: innovation event's as many as an innovation achievement's team (1 to 15: a lone innovator
#: may enter).
TEAM_SIZE_DEFAULTS = {EventMode.team: (2, 20), EventMode.innovation: (1, 15)}


class EntryStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    waitlisted = "waitlisted"
    withdrawn = "withdrawn"
    checked_in = "checked_in"
    disqualified = "disqualified"


#: Entries holding a place (counted against capacity and quotas).
HOLDING_PLACE = (EntryStatus.pending, EntryStatus.approved, EntryStatus.checked_in)


class StageComponent(enum.StrEnum):
    theory = "theory"
    practical = "practical"
    defence = "defence"


class AdvancementRule(enum.StrEnum):
    top_n = "top_n"
    top_n_per_locality = "top_n_per_locality"
    top_percent = "top_percent"
    min_score = "min_score"


class StageStatus(enum.StrEnum):
    planned = "planned"
    in_progress = "in_progress"
    judged = "judged"  # scores locked by judging: blind codes may be revealed
    advanced = "advanced"  # the next stage's entries are created


class StageEntryStatus(enum.StrEnum):
    active = "active"
    advanced = "advanced"
    eliminated = "eliminated"
