"""Tables owned by the judging service: judges, declared conflicts, marking schemes (issue 5)."""

from shared.models.judging.enums import (
    AspectType,
    ConflictKind,
    JudgeKind,
    QualificationLevel,
)
from shared.models.judging.judges import DeclaredConflict, Judge
from shared.models.judging.marking import MarkingAspect, MarkingScheme

__all__ = [
    "AspectType",
    "ConflictKind",
    "DeclaredConflict",
    "Judge",
    "JudgeKind",
    "MarkingAspect",
    "MarkingScheme",
    "QualificationLevel",
]
