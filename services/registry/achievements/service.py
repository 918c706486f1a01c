"""Innovation achievements: recording them with their team, moving their stage forward, linking
competition entries, and reading them within the caller's scope."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import exists, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.achievements import schemas
from services.registry.honours.access import (
    ensure_reader,
    organiser_covers_enterprise,
    reads_everything,
)
from services.registry.talent import timeline
from shared import audit
from shared.auth.principal import Principal, Role
from shared.concurrency import check_if_match
from shared.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    RuleViolation,
)
from shared.models.registry import (
    AchievementEntryLink,
    AchievementMember,
    AchievementStage,
    Enterprise,
    InnovationAchievement,
    TeamRole,
    TechnologyArea,
    TimelineKind,
    Worker,
)
from shared.pagination import Page, paginate
from shared.scope import scope_clause

SERVICE = "registry"
ROLE_NAMES = {TeamRole.lead: "负责人", TeamRole.member: "成员"}


# --- reading -----------------------------------------------------------------------------------


async def _with_details(
    session: AsyncSession, items: Sequence[schemas.Achievement]
) -> list[schemas.Achievement]:
    """Fill in teams and entry links for a page in two queries (no N+1)."""
    ids = [a.id for a in items]
    if not ids:
        return []
    teams: dict[uuid.UUID, list[schemas.TeamMember]] = defaultdict(list)
    for member in await session.scalars(
        select(AchievementMember)
        .where(AchievementMember.achievement_id.in_(ids))
        .order_by(AchievementMember.achievement_id, AchievementMember.position)
    ):
        teams[member.achievement_id].append(schemas.TeamMember.model_validate(member))
    entries: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for link in await session.scalars(
        select(AchievementEntryLink)
        .where(AchievementEntryLink.achievement_id.in_(ids))
        .order_by(AchievementEntryLink.achievement_id, AchievementEntryLink.created_at)
    ):
        entries[link.achievement_id].append(link.entry_id)
    return [a.model_copy(update={"team": teams[a.id], "entry_ids": entries[a.id]}) for a in items]


async def to_schema(
    session: AsyncSession, achievement: InnovationAchievement
) -> schemas.Achievement:
    (out,) = await _with_details(session, [schemas.Achievement.model_validate(achievement)])
    return out


async def _load(
    session: AsyncSession, achievement_id: uuid.UUID, *, for_update: bool = False
) -> InnovationAchievement:
    stmt = select(InnovationAchievement).where(InnovationAchievement.id == achievement_id)
    if for_update:
        stmt = stmt.with_for_update()
    achievement = await session.scalar(stmt)
    if achievement is None:
        raise NotFound(f"No innovation achievement with id {achievement_id}.")
    return achievement


async def _is_member(session: AsyncSession, achievement_id: uuid.UUID, worker_id: object) -> bool:
    return bool(
        await session.scalar(
            select(
                exists().where(
                    AchievementMember.achievement_id == achievement_id,
                    AchievementMember.worker_id == worker_id,
                )
            )
        )
    )


async def get_achievement(
    session: AsyncSession, achievement_id: uuid.UUID, principal: Principal
) -> InnovationAchievement:
    ensure_reader(principal)
    achievement = await _load(session, achievement_id)
    if principal.role is Role.organiser:
        enterprise = await session.get(Enterprise, achievement.enterprise_id)
        assert enterprise is not None  # a foreign key
        if not organiser_covers_enterprise(principal, enterprise):
            raise Forbidden("This achievement's enterprise is outside your organiser scope.")
    elif principal.role is Role.worker:
        if principal.worker_id is None or not await _is_member(
            session, achievement.id, principal.worker_id
        ):
            raise Forbidden("Workers see the achievements of their own teams only.")
    else:
        reads_everything(principal)
    return achievement


async def list_achievements(
    session: AsyncSession,
    principal: Principal,
    *,
    technology_area: TechnologyArea | None,
    stage: AchievementStage | None,
    enterprise_id: uuid.UUID | None,
    worker_id: uuid.UUID | None,
    limit: int,
    cursor: str | None,
) -> Page[schemas.Achievement]:
    ensure_reader(principal)
    stmt = select(InnovationAchievement)
    if principal.role is Role.worker:
        if principal.worker_id is None or (worker_id and worker_id != principal.worker_id):
            raise Forbidden("Workers see the achievements of their own teams only.")
        worker_id = principal.worker_id
    elif principal.role is Role.organiser:
        # An achievement is in scope through its enterprise (as `organiser_covers_enterprise`).
        stmt = stmt.join(Enterprise, Enterprise.id == InnovationAchievement.enterprise_id)
        stmt = stmt.where(scope_clause(principal, Enterprise.locality_code, Enterprise.id))
    else:
        reads_everything(principal)
    if technology_area:
        stmt = stmt.where(InnovationAchievement.technology_area == technology_area)
    if stage:
        stmt = stmt.where(InnovationAchievement.stage == stage)
    if enterprise_id:
        stmt = stmt.where(InnovationAchievement.enterprise_id == enterprise_id)
    if worker_id:
        stmt = stmt.where(
            exists().where(
                AchievementMember.achievement_id == InnovationAchievement.id,
                AchievementMember.worker_id == worker_id,
            )
        )
    page = await paginate(
        session,
        stmt,
        order_by=[InnovationAchievement.created_at, InnovationAchievement.id],
        limit=limit,
        cursor=cursor,
        transform=schemas.Achievement.model_validate,
    )
    return Page[schemas.Achievement](
        items=await _with_details(session, page.items), next_cursor=page.next_cursor
    )


# --- writing -----------------------------------------------------------------------------------


def _check_team(team: Sequence[schemas.TeamMember]) -> None:
    errors: list[FieldError] = []
    seen: dict[uuid.UUID, int] = {}
    for i, member in enumerate(team):
        if member.worker_id in seen:
            errors.append(
                FieldError(
                    field=f"team[{i}].worker_id",
                    message=f"the same worker as team[{seen[member.worker_id]}]",
                )
            )
        seen.setdefault(member.worker_id, i)
    leads = [i for i, m in enumerate(team) if m.role is TeamRole.lead]
    if len(leads) != 1:
        errors.append(
            FieldError(
                field="team",
                message=f"needs exactly one lead, has {len(leads)}"
                + (f" (team{''.join(f'[{i}]' for i in leads)})" if leads else ""),
            )
        )
    if errors:
        raise InvalidInput(
            "The team must list distinct workers with exactly one lead: "
            + "; ".join(f"{e.field}: {e.message}" for e in errors),
            errors=errors,
        )


async def _enterprise(session: AsyncSession, enterprise_id: uuid.UUID) -> Enterprise:
    enterprise = await session.get(Enterprise, enterprise_id)
    if enterprise is None:
        raise RuleViolation(
            f"No enterprise with id {enterprise_id}.",
            errors=[FieldError(field="enterprise_id", message="unknown enterprise")],
        )
    return enterprise


def ensure_can_manage(principal: Principal, enterprise: Enterprise) -> None:
    """Admins, and organisers whose scope covers the achievement's enterprise."""
    if principal.role is Role.admin or organiser_covers_enterprise(principal, enterprise):
        return
    raise Forbidden(
        f"{enterprise.name} is outside your organiser scope: organisers record achievements of "
        "enterprises in their locality or their own enterprise."
    )


async def create_achievement(
    session: AsyncSession, data: schemas.AchievementCreate, principal: Principal
) -> InnovationAchievement:
    _check_team(data.team)
    enterprise = await _enterprise(session, data.enterprise_id)
    ensure_can_manage(principal, enterprise)
    ids = [m.worker_id for m in data.team]
    found = {w.id: w for w in await session.scalars(select(Worker).where(Worker.id.in_(ids)))}
    unknown = [(i, wid) for i, wid in enumerate(ids) if wid not in found]
    if unknown:
        raise RuleViolation(
            "Unknown workers in the team: " + ", ".join(str(wid) for _, wid in unknown) + ".",
            errors=[
                FieldError(field=f"team[{i}].worker_id", message=f"no worker with id {wid}")
                for i, wid in unknown
            ],
            unknown_worker_ids=[str(wid) for _, wid in unknown],
        )

    achievement = InnovationAchievement(
        id=uuid.uuid4(),
        title=data.title,
        summary=data.summary,
        enterprise_id=enterprise.id,
        technology_area=data.technology_area,
        stage=data.stage,
        created_by=principal.sub,
    )
    session.add(achievement)
    await session.flush()
    session.add_all(
        AchievementMember(
            achievement_id=achievement.id, worker_id=m.worker_id, position=i, role=m.role
        )
        for i, m in enumerate(data.team)
    )
    session.add_all(
        AchievementEntryLink(achievement_id=achievement.id, entry_id=e, linked_by=principal.sub)
        for e in dict.fromkeys(data.entry_ids)
    )
    await session.flush()
    await session.refresh(achievement)
    out = await to_schema(session, achievement)
    timeline.record_change(
        session,
        principal,
        notes=[
            timeline.Note(
                worker_id=member.worker_id,
                kind=TimelineKind.achievement_recorded,
                summary=f"创新成果：{data.title}（{ROLE_NAMES[member.role]}）",
                data={
                    "achievement_id": str(achievement.id),
                    "role": member.role.value,
                    "technology_area": data.technology_area.value,
                    "stage": data.stage.value,
                    "enterprise_id": str(enterprise.id),
                },
                source_type="innovation_achievement",
                source_id=achievement.id,
            )
            for member in data.team
        ],
        action="achievement.create",
        entity_type="innovation_achievement",
        entity_id=achievement.id,
        after=out.model_dump(mode="json"),
    )
    return achievement


async def update_achievement(
    session: AsyncSession,
    achievement_id: uuid.UUID,
    data: schemas.AchievementUpdate,
    principal: Principal,
    *,
    if_match: str | None,
) -> InnovationAchievement:
    achievement = await _load(session, achievement_id, for_update=True)
    enterprise = await session.get(Enterprise, achievement.enterprise_id)
    assert enterprise is not None  # a foreign key
    ensure_can_manage(principal, enterprise)
    check_if_match(if_match, achievement.version)
    if data.stage is not None and data.stage.rank < achievement.stage.rank:
        raise Conflict(
            f"The stage only moves forward (idea -> prototype -> applied -> incubated): this "
            f"achievement is {achievement.stage.value} and cannot go back to {data.stage.value}.",
        )
    before = schemas.Achievement.model_validate(achievement).model_dump(mode="json")
    changes = data.model_dump(exclude_unset=True)
    if data.title is None:
        changes.pop("title", None)  # a title cannot be cleared
    changes = {k: v for k, v in changes.items() if getattr(achievement, k) != v}
    if not changes:
        return achievement
    for key, value in changes.items():
        setattr(achievement, key, value)
    achievement.version += 1
    await session.flush()
    await session.refresh(achievement)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="achievement.update",
        entity_type="innovation_achievement",
        entity_id=achievement.id,
        before={k: before[k] for k in (*changes, "version")},
        after={
            k: v
            for k, v in schemas.Achievement.model_validate(achievement)
            .model_dump(mode="json")
            .items()
            if k in (*changes, "version")
        },
    )
    return achievement


async def link_entry(
    session: AsyncSession, achievement_id: uuid.UUID, entry_id: uuid.UUID, principal: Principal
) -> tuple[AchievementEntryLink, bool]:
    """Link a competition entry; returns the link and whether it is new (idempotent)."""
    achievement = await _load(session, achievement_id)
    enterprise = await session.get(Enterprise, achievement.enterprise_id)
    assert enterprise is not None  # a foreign key
    ensure_can_manage(principal, enterprise)
    inserted = await session.scalar(
        insert(AchievementEntryLink)
        .values(achievement_id=achievement.id, entry_id=entry_id, linked_by=principal.sub)
        .on_conflict_do_nothing()
        .returning(AchievementEntryLink.entry_id)
    )
    link = await session.get(
        AchievementEntryLink, (achievement.id, entry_id), populate_existing=True
    )
    assert link is not None  # inserted now or before
    if inserted is not None:
        audit.record(
            session,
            service=SERVICE,
            principal=principal,
            action="achievement.link_entry",
            entity_type="innovation_achievement",
            entity_id=achievement.id,
            after={"entry_id": str(entry_id)},
        )
    return link, inserted is not None


def etag(version: int) -> str:
    return f'"{version}"'
