"""Tables owned by the judging service: judges, declared conflicts, marking schemes, awards
and certificates (issue 5)."""

from shared.models.judging.awards import Award, AwardRule, Certificate
from shared.models.judging.enums import (
    AspectType,
    AwardKind,
    ConflictKind,
    DeliveryState,
    JudgeKind,
    QualificationLevel,
)
from shared.models.judging.judges import DeclaredConflict, Judge
from shared.models.judging.marking import MarkingAspect, MarkingScheme

__all__ = [
    "AspectType",
    "Award",
    "AwardKind",
    "AwardRule",
    "Certificate",
    "ConflictKind",
    "DeclaredConflict",
    "DeliveryState",
    "Judge",
    "JudgeKind",
    "MarkingAspect",
    "MarkingScheme",
    "QualificationLevel",
]
