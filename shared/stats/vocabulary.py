"""The one vocabulary of programme statistics: dimensions and measures across the three services.

A **dimension** is what a figure is broken down or filtered by (`city`, `grade`, `age_band`...).
A **measure** is what is counted or summed (`workers`, `training_hours`, `winners`...); it is
owned by one service, read from one of that service's summary tables, and is either a *flow*
(what happened in a period: registrations, promotions, grants) or a *stock* (how many there are
at the end of a period: workers on file, active mentoring pairs, the cumulative sum of its
monthly net changes).

Each summary table keeps the same figures at a few *grains* (sets of dimension columns, the
other columns NULL): a figure is read from the smallest grain that has every column it groups,
filters or is scoped by, so that a city x grade figure over a million workers reads a few
thousand rows.

Derived dimensions: `city` is the first four digits of a locality code + "00" (a county is
counted in its city); `file_type` follows the grade (apprentice files are the apprentice grade);
`age_band` is the age reached in the year the period ends (year minus birth year), so a stock
series moves people between bands as they age. Attributes other than the grade (locality,
enterprise, industry, sex, occupation, file status) are those on file now: the history the
registry keeps is the grade's.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.models.competitions.enums import (
    CompetitionKind,
    CompetitionLevel,
    CompetitionStatus,
    EntryStatus,
)
from shared.models.registry.enums import (
    FileStatus,
    FileType,
    GradeSource,
    Industry,
    Sex,
    SkillGrade,
)
from shared.models.registry.honours import AchievementStage, HonourLevel, TechnologyArea
from shared.models.registry.mentoring import MentorshipKind
from shared.models.registry.training import ProgrammeKind, ProgrammeStatus

CITIES: dict[str, str] = {
    "370000": "山东省",
    "370100": "济南市",
    "370200": "青岛市",
    "370300": "淄博市",
    "370400": "枣庄市",
    "370500": "东营市",
    "370600": "烟台市",
    "370700": "潍坊市",
    "370800": "济宁市",
    "370900": "泰安市",
    "371000": "威海市",
    "371100": "日照市",
    "371300": "临沂市",
    "371400": "德州市",
    "371500": "聊城市",
    "371600": "滨州市",
    "371700": "菏泽市",
}

GRADES = {
    SkillGrade.apprentice: "学徒",
    SkillGrade.junior: "初级工",
    SkillGrade.intermediate: "中级工",
    SkillGrade.senior: "高级工",
    SkillGrade.technician: "技师",
    SkillGrade.senior_technician: "高级技师",
    SkillGrade.principal_technician: "特级技师",
    SkillGrade.chief_technician: "首席技师",
}
INDUSTRIES = {
    Industry.new_generation_it: "新一代信息技术",
    Industry.high_end_equipment: "高端装备",
    Industry.new_energy_materials: "新能源新材料",
    Industry.smart_ocean: "智慧海洋",
    Industry.health_care: "医养健康",
    Industry.high_end_chemicals: "高端化工",
    Industry.modern_agriculture: "现代高效农业",
    Industry.cultural_creative: "文化创意",
    Industry.premium_tourism: "精品旅游",
    Industry.modern_finance: "现代金融",
    Industry.other: "其他",
}


class AgeBand(enum.StrEnum):
    under_25 = "under_25"
    from_25_to_34 = "25_34"
    from_35_to_44 = "35_44"
    from_45_to_54 = "45_54"
    from_55 = "55_plus"


AGE_BANDS = {
    AgeBand.under_25: "25岁以下",
    AgeBand.from_25_to_34: "25-34岁",
    AgeBand.from_35_to_44: "35-44岁",
    AgeBand.from_45_to_54: "45-54岁",
    AgeBand.from_55: "55岁及以上",
}


def age_band(birth_year: int, year: int) -> str:
    """The band of the age reached in `year` by someone born in `birth_year`."""
    age = year - birth_year
    if age < 25:
        return AgeBand.under_25.value
    if age < 35:
        return AgeBand.from_25_to_34.value
    if age < 45:
        return AgeBand.from_35_to_44.value
    if age < 55:
        return AgeBand.from_45_to_54.value
    return AgeBand.from_55.value


def city_of(code: str) -> str:
    return code[:4] + "00"


class Derive(enum.StrEnum):
    """How a dimension's value comes from its column."""

    raw = "raw"
    city = "city"  # grouped in SQL by the city prefix
    file_type = "file_type"  # from the grade
    age_band = "age_band"  # from the birth year and the period


@dataclass(frozen=True)
class Dimension:
    name: str
    label: str
    description: str
    labels: Mapping[str, str] = field(default_factory=dict)
    derive: Derive = Derive.raw
    #: Locality dimensions are filtered by subtree (a city code includes its counties).
    locality: bool = False


def _labels(enum_labels: Mapping[Any, str]) -> dict[str, str]:
    return {k.value: v for k, v in enum_labels.items()}


DIMENSIONS: dict[str, Dimension] = {
    d.name: d
    for d in (
        Dimension(
            "city",
            "城市",
            "City (GB/T 2260), counties counted in their city.",
            CITIES,
            Derive.city,
            locality=True,
        ),
        Dimension(
            "county",
            "区县",
            "Locality as recorded (a county, or a city itself).",
            CITIES,
            locality=True,
        ),
        Dimension(
            "organiser_city",
            "主办城市",
            "City of the competition's organiser.",
            CITIES,
            Derive.city,
            locality=True,
        ),
        Dimension(
            "industry",
            "产业",
            "Shandong's Top Ten industries (the enterprise's).",
            _labels(INDUSTRIES),
        ),
        Dimension("enterprise", "企业", "Enterprise id."),
        Dimension(
            "grade",
            "技能等级",
            "Skill grade on the national ladder.",
            _labels(GRADES),
        ),
        Dimension(
            "file_type",
            "档案类型",
            "Technician or apprentice file (from the grade).",
            {FileType.technician.value: "技术工人", FileType.apprentice.value: "学徒"},
            Derive.file_type,
        ),
        Dimension("sex", "性别", "Sex.", {Sex.male.value: "男", Sex.female.value: "女"}),
        Dimension(
            "age_band",
            "年龄段",
            "Age reached in the period's last year.",
            _labels(AGE_BANDS),
            Derive.age_band,
        ),
        Dimension("occupation", "职业（工种）", "Occupation as recorded."),
        Dimension(
            "file_status",
            "档案状态",
            "Status of the talent file now.",
            {
                FileStatus.active.value: "在档",
                FileStatus.transferred.value: "已转出",
                FileStatus.left.value: "已离职",
                FileStatus.retired.value: "已退休",
            },
        ),
        Dimension(
            "source",
            "变更来源",
            "How a grade changed.",
            {
                GradeSource.initial.value: "初始登记",
                GradeSource.certification.value: "技能鉴定",
                GradeSource.competition.value: "竞赛晋级",
                GradeSource.correction.value: "更正",
            },
        ),
        Dimension(
            "mentorship_kind",
            "结对类型",
            "Master and apprentice, or help in pairs.",
            {
                MentorshipKind.master_apprentice.value: "师带徒",
                MentorshipKind.pair_assistance.value: "结对帮扶",
            },
        ),
        Dimension(
            "programme_kind",
            "培训类型",
            "Kind of training programme.",
            {
                ProgrammeKind.order_based.value: "订单式培训",
                ProgrammeKind.master_heritage_hall.value: "大师传承讲堂",
                ProgrammeKind.expert_talent_hall.value: "专家人才讲堂",
                ProgrammeKind.team_hall.value: "班组讲堂",
                ProgrammeKind.post_training.value: "岗位培训",
            },
        ),
        Dimension(
            "programme_status",
            "培训状态",
            "Status of the programme.",
            {s.value: s.value for s in ProgrammeStatus},
        ),
        Dimension(
            "honour_level",
            "荣誉级别",
            "Level of the honour.",
            {
                HonourLevel.national.value: "国家级",
                HonourLevel.provincial.value: "省级",
                HonourLevel.city.value: "市级",
                HonourLevel.enterprise.value: "企业级",
            },
        ),
        Dimension("honour", "荣誉", "Honour code in the catalogue."),
        Dimension(
            "technology_area",
            "技术领域",
            "Technology area of an achievement.",
            {
                TechnologyArea.big_data.value: "大数据",
                TechnologyArea.ai.value: "人工智能",
                TechnologyArea.five_g.value: "5G",
                TechnologyArea.blockchain.value: "区块链",
                TechnologyArea.other.value: "其他",
            },
        ),
        Dimension(
            "achievement_stage",
            "成果阶段",
            "Stage of an achievement now.",
            {
                AchievementStage.idea.value: "创意",
                AchievementStage.prototype.value: "样机",
                AchievementStage.applied.value: "应用",
                AchievementStage.incubated.value: "孵化",
            },
        ),
        Dimension(
            "level",
            "竞赛级别",
            "Level of the competition.",
            {
                CompetitionLevel.enterprise.value: "企业级",
                CompetitionLevel.county.value: "县级",
                CompetitionLevel.city.value: "市级",
                CompetitionLevel.provincial.value: "省级",
            },
        ),
        Dimension(
            "kind",
            "竞赛类型",
            "Kind of competition.",
            {
                CompetitionKind.post_training.value: "岗位练兵",
                CompetitionKind.technical_contest.value: "技术比武",
                CompetitionKind.skill_competition.value: "技能竞赛",
                CompetitionKind.innovation_competition.value: "创新竞赛",
            },
        ),
        Dimension("competition_year", "竞赛年度", "The competition's year."),
        Dimension(
            "competition_status",
            "竞赛状态",
            "Status of the competition now.",
            {s.value: s.value for s in CompetitionStatus},
        ),
        Dimension(
            "entry_status",
            "报名状态",
            "Status of the entry now.",
            {s.value: s.value for s in EntryStatus},
        ),
        Dimension("prize", "奖项", "Prize or medal of a winner."),
    )
}


class Kind(enum.StrEnum):
    flow = "flow"
    stock = "stock"


@dataclass(frozen=True)
class Table:
    """A summary table and its grains (grain number -> the dimension columns it keeps)."""

    name: str
    grains: Mapping[int, frozenset[str]]
    #: The table has a `measure` column (several measures share it).
    shared: bool = True


@dataclass(frozen=True)
class Measure:
    name: str
    service: str
    label: str
    description: str
    table: Table
    kind: Kind
    unit: str  # 人, 项, 次, 小时
    #: Dimension name -> column of the table.
    dims: Mapping[str, str]
    value_column: str = "value"
    #: Column counting the people in a cell (suppression); None: not about people.
    people_column: str | None = "people"
    #: Columns a locality organiser's and an enterprise organiser's scope apply to.
    scope_locality: str = "locality_code"
    scope_enterprise: str = "enterprise_id"


PEOPLE_TABLE = Table(
    "stats_registry_people",
    {
        1: frozenset({"month", "locality_code", "grade", "file_status"}),
        2: frozenset(
            {
                "month",
                "locality_code",
                "grade",
                "file_status",
                "industry",
                "sex",
                "birth_year",
                "source",
            }
        ),
        3: frozenset(
            {
                "month",
                "locality_code",
                "grade",
                "file_status",
                "industry",
                "sex",
                "birth_year",
                "source",
                "enterprise_id",
                "occupation",
            }
        ),
    },
    shared=False,
)
ACTIVITY_TABLE = Table(
    "stats_registry_activity",
    {
        1: frozenset({"month", "locality_code", "category", "detail"}),
        2: frozenset(
            {
                "month",
                "locality_code",
                "category",
                "detail",
                "industry",
                "enterprise_id",
                "sex",
                "birth_year",
                "occupation",
            }
        ),
    },
)
COMPETITIONS_TABLE = Table(
    "stats_competitions_facts",
    {
        1: frozenset(
            {"month", "competition_year", "organiser_locality_code", "level", "kind", "detail"}
        ),
        2: frozenset(
            {
                "month",
                "competition_year",
                "organiser_locality_code",
                "organiser_enterprise_id",
                "level",
                "kind",
                "industry",
                "locality_code",
                "enterprise_id",
                "detail",
            }
        ),
    },
)
JUDGING_TABLE = Table(
    "stats_judging_facts",
    {
        1: frozenset(
            {
                "month",
                "competition_year",
                "organiser_locality_code",
                "organiser_enterprise_id",
                "level",
                "kind",
                "locality_code",
                "detail",
            }
        ),
    },
)

_WORKER = {
    "city": "locality_code",
    "county": "locality_code",
    "industry": "industry",
    "enterprise": "enterprise_id",
    "sex": "sex",
    "age_band": "birth_year",
    "occupation": "occupation",
}
_PEOPLE = {**_WORKER, "grade": "grade", "file_type": "grade", "file_status": "file_status"}
_COMPETITION = {
    "organiser_city": "organiser_locality_code",
    "level": "level",
    "kind": "kind",
    "competition_year": "competition_year",
}

MEASURES: dict[str, Measure] = {
    m.name: m
    for m in (
        Measure(
            "workers",
            "registry",
            "在档职工人数",
            "Workers on file at the end of the period (by the grade they held then).",
            PEOPLE_TABLE,
            Kind.stock,
            "人",
            _PEOPLE,
            "delta",
            "delta",
        ),
        Measure(
            "workers_registered",
            "registry",
            "新建档职工人数",
            "Workers registered (their first grade recorded) in the period.",
            PEOPLE_TABLE,
            Kind.flow,
            "人",
            _PEOPLE,
            "registered",
            "registered",
        ),
        Measure(
            "grade_changes",
            "registry",
            "技能等级变动人次",
            "Grade changes in the period (promotions through certification, competitions, "
            "and corrections), by the grade reached.",
            PEOPLE_TABLE,
            Kind.flow,
            "人次",
            {**_PEOPLE, "source": "source"},
            "changes",
            "changes",
        ),
        Measure(
            "mentorships_started",
            "registry",
            "新结对数",
            "Mentoring pairs started in the period (counted at the apprentice).",
            ACTIVITY_TABLE,
            Kind.flow,
            "对",
            {**_WORKER, "mentorship_kind": "category"},
        ),
        Measure(
            "mentorships_active",
            "registry",
            "在带结对数",
            "Mentoring pairs active at the end of the period.",
            ACTIVITY_TABLE,
            Kind.stock,
            "对",
            {**_WORKER, "mentorship_kind": "category"},
        ),
        Measure(
            "mentorships_completed",
            "registry",
            "结对出师数",
            "Mentoring pairs completed in the period.",
            ACTIVITY_TABLE,
            Kind.flow,
            "对",
            {**_WORKER, "mentorship_kind": "category"},
        ),
        Measure(
            "mentorships_terminated",
            "registry",
            "结对终止数",
            "Mentoring pairs terminated in the period.",
            ACTIVITY_TABLE,
            Kind.flow,
            "对",
            {**_WORKER, "mentorship_kind": "category"},
        ),
        Measure(
            "training_programmes",
            "registry",
            "培训项目数",
            "Training programmes starting in the period (not cancelled ones included).",
            ACTIVITY_TABLE,
            Kind.flow,
            "项",
            {
                "city": "locality_code",
                "county": "locality_code",
                "enterprise": "enterprise_id",
                "programme_kind": "category",
                "programme_status": "detail",
            },
            people_column=None,
        ),
        Measure(
            "training_enrolments",
            "registry",
            "培训报名人次",
            "Enrolments (not withdrawn) made in the period.",
            ACTIVITY_TABLE,
            Kind.flow,
            "人次",
            {**_WORKER, "programme_kind": "category"},
        ),
        Measure(
            "training_hours",
            "registry",
            "培训学时",
            "Hours credited on completed programmes in the period.",
            ACTIVITY_TABLE,
            Kind.flow,
            "小时",
            {**_WORKER, "programme_kind": "category"},
        ),
        Measure(
            "honours_granted",
            "registry",
            "荣誉授予人次",
            "Honours granted in the period (revoked ones included: see honours_revoked).",
            ACTIVITY_TABLE,
            Kind.flow,
            "人次",
            {**_WORKER, "honour_level": "category", "honour": "detail"},
        ),
        Measure(
            "honours_revoked",
            "registry",
            "荣誉撤销人次",
            "Honour grants revoked in the period.",
            ACTIVITY_TABLE,
            Kind.flow,
            "人次",
            {**_WORKER, "honour_level": "category", "honour": "detail"},
        ),
        Measure(
            "achievements",
            "registry",
            "创新成果数",
            "Innovation achievements recorded in the period, by their stage now.",
            ACTIVITY_TABLE,
            Kind.flow,
            "项",
            {
                "city": "locality_code",
                "county": "locality_code",
                "industry": "industry",
                "enterprise": "enterprise_id",
                "technology_area": "category",
                "achievement_stage": "detail",
            },
            people_column=None,
        ),
        Measure(
            "competitions_held",
            "competitions",
            "举办竞赛数",
            "Competitions (not drafts) starting in the period, at the organiser's locality.",
            COMPETITIONS_TABLE,
            Kind.flow,
            "项",
            {
                **_COMPETITION,
                "city": "organiser_locality_code",
                "county": "organiser_locality_code",
                "industry": "industry",
                "enterprise": "organiser_enterprise_id",
                "competition_status": "detail",
            },
            people_column=None,
            scope_locality="organiser_locality_code",
            scope_enterprise="organiser_enterprise_id",
        ),
        Measure(
            "entries",
            "competitions",
            "报名数",
            "Entries made in the period, at the entrant's locality, by their status now.",
            COMPETITIONS_TABLE,
            Kind.flow,
            "项",
            {
                **_COMPETITION,
                "city": "locality_code",
                "county": "locality_code",
                "industry": "industry",
                "enterprise": "enterprise_id",
                "entry_status": "detail",
            },
        ),
        Measure(
            "participants",
            "competitions",
            "参赛人次",
            "People in entries holding a place (pending, approved, checked in) made in the "
            "period, at the entry's locality.",
            COMPETITIONS_TABLE,
            Kind.flow,
            "人次",
            {
                **_COMPETITION,
                "city": "locality_code",
                "county": "locality_code",
                "industry": "industry",
                "enterprise": "enterprise_id",
            },
        ),
        Measure(
            "finalists",
            "judging",
            "决赛选手数",
            "Entries ranked in the final results of an event's last stage, finalised in the "
            "period, at the entrant's locality.",
            JUDGING_TABLE,
            Kind.flow,
            "人次",
            {**_COMPETITION, "city": "locality_code", "county": "locality_code"},
            scope_enterprise="organiser_enterprise_id",
        ),
        Measure(
            "winners",
            "judging",
            "获奖选手数",
            "Finalists with a prize or medal.",
            JUDGING_TABLE,
            Kind.flow,
            "人次",
            {**_COMPETITION, "city": "locality_code", "county": "locality_code", "prize": "detail"},
            scope_enterprise="organiser_enterprise_id",
        ),
    )
}


def measures_of(service: str) -> dict[str, Measure]:
    return {name: m for name, m in MEASURES.items() if m.service == service}
