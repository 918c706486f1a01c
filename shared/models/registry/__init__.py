"""Tables owned by the registry service, one module per domain area."""

from shared.models.registry.core import Account, Locality, LocalityLevel, MachineClient
from shared.models.registry.enums import (
    EnterpriseSize,
    FileStatus,
    FileType,
    GradeSource,
    Industry,
    Sex,
    SkillGrade,
    TimelineKind,
)
from shared.models.registry.honours import (
    AchievementEntryLink,
    AchievementMember,
    AchievementStage,
    Honour,
    HonourGrant,
    HonourLevel,
    HonourSource,
    InnovationAchievement,
    TeamRole,
    TechnologyArea,
)
from shared.models.registry.people import (
    Employment,
    Enterprise,
    GradeChange,
    TimelineEntry,
    Worker,
)

__all__ = [
    "Account",
    "AchievementEntryLink",
    "AchievementMember",
    "AchievementStage",
    "Employment",
    "Enterprise",
    "EnterpriseSize",
    "FileStatus",
    "FileType",
    "GradeChange",
    "GradeSource",
    "Honour",
    "HonourGrant",
    "HonourLevel",
    "HonourSource",
    "Industry",
    "InnovationAchievement",
    "Locality",
    "LocalityLevel",
    "MachineClient",
    "Sex",
    "SkillGrade",
    "TeamRole",
    "TechnologyArea",
    "TimelineEntry",
    "TimelineKind",
    "Worker",
]
