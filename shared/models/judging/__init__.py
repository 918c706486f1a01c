"""Tables owned by the judging service: judges, declared conflicts, marking schemes, assignments,
scores, sign-offs and locks, results and appeals, awards and certificates (issue 5)."""

from shared.models.judging.awards import Award, AwardJob, AwardRule, Certificate
from shared.models.judging.enums import (
    NOT_SENDABLE,
    AspectType,
    AwardKind,
    ConflictKind,
    DeliveryState,
    JudgeKind,
    QualificationLevel,
)
from shared.models.judging.judges import DeclaredConflict, Judge
from shared.models.judging.marking import MarkingAspect, MarkingScheme
from shared.models.judging.pairwise import PairwiseItem, PairwiseJudge, PairwiseVote
from shared.models.judging.results import (
    Aggregation,
    Appeal,
    AppealStatus,
    CompletionTime,
    ResultEntry,
    ResultRules,
    ResultStatus,
    StageResult,
    Standardisation,
)
from shared.models.judging.scoring import (
    JudgeAssignment,
    JudgeAssignmentRun,
    JudgeSignoff,
    Score,
    ScoreHistory,
    StageScoreLock,
)

__all__ = [
    "NOT_SENDABLE",
    "Aggregation",
    "Appeal",
    "AppealStatus",
    "AspectType",
    "Award",
    "AwardJob",
    "AwardKind",
    "AwardRule",
    "Certificate",
    "CompletionTime",
    "ConflictKind",
    "DeclaredConflict",
    "DeliveryState",
    "Judge",
    "JudgeAssignment",
    "JudgeAssignmentRun",
    "JudgeKind",
    "JudgeSignoff",
    "MarkingAspect",
    "MarkingScheme",
    "PairwiseItem",
    "PairwiseJudge",
    "PairwiseVote",
    "QualificationLevel",
    "ResultEntry",
    "ResultRules",
    "ResultStatus",
    "Score",
    "ScoreHistory",
    "StageResult",
    "StageScoreLock",
    "Standardisation",
]
