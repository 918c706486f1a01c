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
from shared.models.registry.imports import ImportJob, ImportKind, ImportRowError, ImportStatus
from shared.models.registry.mentoring import (
    Mentorship,
    MentorshipKind,
    MentorshipRating,
    MentorshipStatus,
)
from shared.models.registry.people import (
    Employment,
    Enterprise,
    GradeChange,
    TimelineEntry,
    Worker,
)
from shared.models.registry.training import (
    EnrolmentStatus,
    ProgrammeKind,
    ProgrammeStatus,
    TrainingAttendance,
    TrainingEnrolment,
    TrainingProgramme,
    TrainingSession,
)

__all__ = [
    "Account",
    "Employment",
    "EnrolmentStatus",
    "Enterprise",
    "EnterpriseSize",
    "FileStatus",
    "FileType",
    "GradeChange",
    "GradeSource",
    "ImportJob",
    "ImportKind",
    "ImportRowError",
    "ImportStatus",
    "Industry",
    "Locality",
    "LocalityLevel",
    "MachineClient",
    "Mentorship",
    "MentorshipKind",
    "MentorshipRating",
    "MentorshipStatus",
    "ProgrammeKind",
    "ProgrammeStatus",
    "Sex",
    "SkillGrade",
    "TimelineEntry",
    "TimelineKind",
    "TrainingAttendance",
    "TrainingEnrolment",
    "TrainingProgramme",
    "TrainingSession",
    "Worker",
]
