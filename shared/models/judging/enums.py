"""Judging vocabularies, stored as text with CHECK constraints."""

from __future__ import annotations

import enum


class JudgeKind(enum.StrEnum):
    worker = "worker"  # a registered worker (a file in the registry)
    expert = "expert"  # an outside expert (university, research institute, industry body)


class QualificationLevel(enum.StrEnum):
    """The level of contests a judge is certified to judge (裁判员等级)."""

    national_judge = "national_judge"
    provincial_judge = "provincial_judge"
    city_judge = "city_judge"
    enterprise_judge = "enterprise_judge"


class ConflictKind(enum.StrEnum):
    """Why a judge may not see or score an entry."""

    competitor = "competitor"  # the judge is a member of the entry
    same_enterprise = "same_enterprise"
    same_locality = "same_locality"
    mentor = "mentor"  # the judge is (or was) a competitor's mentor
    apprentice = "apprentice"  # the judge is (or was) a competitor's apprentice
    declared = "declared"  # declared by the judge or added by an organiser


class AspectType(enum.StrEnum):
    measurement = "measurement"  # objective: a measured mark up to max_mark
    judgement = "judgement"  # 0-3 scale with a descriptor per level, several judges


class AwardKind(enum.StrEnum):
    """What a final result earns in the registry."""

    honour = "honour"  # an honour grant (e.g. 山东省技术能手 for the top N)
    grade_promotion = "grade_promotion"  # one level up, or to a named grade
    competition_result = "competition_result"  # an entry in the competitor's talent file


class DeliveryState(enum.StrEnum):
    """Where an award stands with the registry."""

    pending = "pending"
    sent = "sent"
    failed = "failed"  # the last attempt failed (last_error says why); retried on request
    #: Recommended by a rule that `requires_confirmation`: nothing is sent until an organiser
    #: confirms (then `pending`) or declines (then `declined`, never sent).
    awaiting_confirmation = "awaiting_confirmation"
    declined = "declined"


#: States the senders (the send endpoint, retries, the sweeper) never send.
NOT_SENDABLE = (DeliveryState.sent, DeliveryState.awaiting_confirmation, DeliveryState.declined)
