"""Tables owned by the competitions service, one module per domain area."""

from shared.models.competitions.core import Competition, Event
from shared.models.competitions.entries import Entry, EntryMember
from shared.models.competitions.enums import (
    HOLDING_PLACE,
    TEAM_SIZE_DEFAULTS,
    AdvancementRule,
    CompetitionKind,
    CompetitionLevel,
    CompetitionStatus,
    EntryStatus,
    EventMode,
    StageComponent,
    StageEntryStatus,
    StageStatus,
)
from shared.models.competitions.pathways import (
    DirectPlace,
    DirectPlaceReason,
    EventPathway,
    Nomination,
    NominationStatus,
    PathwayQualifier,
    QuotaBasis,
    QuotaChange,
)
from shared.models.competitions.scheduling import (
    ScheduleRelease,
    ScheduleSlot,
    StageSession,
    Venue,
    Workstation,
)
from shared.models.competitions.stages import (
    Advancement,
    AdvancementOverride,
    Stage,
    StageEntry,
)

__all__ = [
    "HOLDING_PLACE",
    "TEAM_SIZE_DEFAULTS",
    "Advancement",
    "AdvancementOverride",
    "AdvancementRule",
    "Competition",
    "CompetitionKind",
    "CompetitionLevel",
    "CompetitionStatus",
    "DirectPlace",
    "DirectPlaceReason",
    "Entry",
    "EntryMember",
    "EntryStatus",
    "Event",
    "EventMode",
    "EventPathway",
    "Nomination",
    "NominationStatus",
    "PathwayQualifier",
    "QuotaBasis",
    "QuotaChange",
    "ScheduleRelease",
    "ScheduleSlot",
    "Stage",
    "StageComponent",
    "StageEntry",
    "StageEntryStatus",
    "StageSession",
    "StageStatus",
    "Venue",
    "Workstation",
]
