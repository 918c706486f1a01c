"""Registry vocabularies, stored as text with CHECK constraints."""

from __future__ import annotations

import enum


# Who a person or machine client is to the system (DESIGN.md section 5). A comment, not a
# docstring: the docstring would become the schema's description in every OpenAPI document.
class Role(enum.StrEnum):
    admin = "admin"  # the province
    organiser = "organiser"  # scoped to a locality or an enterprise
    judge = "judge"  # scoped to assigned stages
    worker = "worker"  # own data
    integration = "integration"  # machine client, scoped by granted scopes


class SkillGrade(enum.StrEnum):
    """The national eight-level ladder, lowest first (list order is the rank)."""

    apprentice = "apprentice"  # 学徒
    junior = "junior"  # 初级工 (level 5)
    intermediate = "intermediate"  # 中级工 (level 4)
    senior = "senior"  # 高级工 (level 3)
    technician = "technician"  # 技师 (level 2)
    senior_technician = "senior_technician"  # 高级技师 (level 1)
    principal_technician = "principal_technician"  # 特级技师
    chief_technician = "chief_technician"  # 首席技师

    @property
    def rank(self) -> int:
        return list(SkillGrade).index(self)


#: The grades' names in Chinese, as certificates and lists print them.
SKILL_GRADE_NAMES = {
    SkillGrade.apprentice: "学徒",
    SkillGrade.junior: "初级工（五级）",
    SkillGrade.intermediate: "中级工（四级）",
    SkillGrade.senior: "高级工（三级）",
    SkillGrade.technician: "技师（二级）",
    SkillGrade.senior_technician: "高级技师（一级）",
    SkillGrade.principal_technician: "特级技师",
    SkillGrade.chief_technician: "首席技师",
}


class Industry(enum.StrEnum):
    """Shandong's "Top Ten" industries, and other."""

    new_generation_it = "new_generation_it"  # 新一代信息技术
    high_end_equipment = "high_end_equipment"  # 高端装备
    new_energy_materials = "new_energy_materials"  # 新能源新材料
    smart_ocean = "smart_ocean"  # 智慧海洋
    health_care = "health_care"  # 医养健康
    high_end_chemicals = "high_end_chemicals"  # 高端化工
    modern_agriculture = "modern_agriculture"  # 现代高效农业
    cultural_creative = "cultural_creative"  # 文化创意
    premium_tourism = "premium_tourism"  # 精品旅游
    modern_finance = "modern_finance"  # 现代金融
    other = "other"


class EnterpriseSize(enum.StrEnum):
    micro = "micro"
    small = "small"
    medium = "medium"
    large = "large"


class Sex(enum.StrEnum):
    male = "male"
    female = "female"


class FileStatus(enum.StrEnum):
    active = "active"
    transferred = "transferred"
    left = "left"
    retired = "retired"


class FileType(enum.StrEnum):
    """The programme's two kinds of file: apprentices, and technicians (junior grade and up)."""

    apprentice = "apprentice"
    technician = "technician"

    @classmethod
    def for_grade(cls, grade: SkillGrade) -> FileType:
        return cls.apprentice if grade is SkillGrade.apprentice else cls.technician


class GradeSource(enum.StrEnum):
    initial = "initial"  # the grade recorded when the worker was registered
    certification = "certification"  # a skill assessment by an accredited body
    competition = "competition"  # promoted for a competition result (judging calls this)
    correction = "correction"  # an admin fixing a wrong record


class TimelineKind(enum.StrEnum):
    """Kinds of entry in a talent file's timeline (text column: new kinds need no migration)."""

    registered = "registered"
    grade_changed = "grade_changed"
    transferred = "transferred"
    status_changed = "status_changed"
    training_completed = "training_completed"
    competition_result = "competition_result"
    #: A national contest's result, recorded by an organiser (national contests are run
    #: outside this system): what the "national winners excluded" rule looks at.
    national_result = "national_result"
    honour_granted = "honour_granted"
    honour_revoked = "honour_revoked"
    mentorship_started = "mentorship_started"
    mentorship_ended = "mentorship_ended"
    achievement_recorded = "achievement_recorded"
    reserve_joined = "reserve_joined"
    reserve_left = "reserve_left"
