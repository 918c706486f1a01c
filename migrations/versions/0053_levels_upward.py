"""Competitions beyond the province, and honours that follow from results (issue 15).

- `competitions.level` accepts `national`: the level of the national results recorded in talent
  files (no national competition is organised here; the API refuses to create one).
- `award_rules`: a rule belongs to a stage or, with `level` instead, stands for the last stage
  of every event at that level (e.g. provincial first prizes recommended for 山东省技术能手);
  `requires_confirmation` makes its awards wait for an organiser.
- `awards.state` gains `awaiting_confirmation` and `declined`, with who decided, when and why.

Revision ID: 0053
Revises: 0055
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0053"
down_revision: str | None = "0055"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEVELS = ("enterprise", "county", "city", "provincial", "national")
STATES = ("pending", "sent", "failed", "awaiting_confirmation", "declined")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.drop_constraint(op.f("ck_competitions_competitionlevel"), "competitions", type_="check")
    op.create_check_constraint("competitionlevel", "competitions", _in("level", LEVELS))

    op.alter_column("award_rules", "stage_id", existing_type=sa.Uuid(), nullable=True)
    op.add_column("award_rules", sa.Column("level", sa.String(length=32), nullable=True))
    op.create_check_constraint("competitionlevel", "award_rules", _in("level", LEVELS))
    op.add_column(
        "award_rules",
        sa.Column(
            "requires_confirmation", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
    )
    op.create_check_constraint(
        "stage_or_level", "award_rules", "(stage_id IS NULL) <> (level IS NULL)"
    )
    op.create_check_constraint(
        "confirmation_for_honours_and_grades",
        "award_rules",
        "NOT requires_confirmation OR kind <> 'competition_result'",
    )
    op.create_index(
        "ix_award_rules_level",
        "award_rules",
        ["level"],
        postgresql_where=sa.text("level IS NOT NULL"),
    )

    op.drop_constraint(op.f("ck_awards_deliverystate"), "awards", type_="check")
    op.create_check_constraint("deliverystate", "awards", _in("state", STATES))
    op.add_column("awards", sa.Column("decided_by", sa.String(length=64), nullable=True))
    op.add_column("awards", sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("awards", sa.Column("decision_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("awards", "decision_reason")
    op.drop_column("awards", "decided_at")
    op.drop_column("awards", "decided_by")
    op.drop_constraint(op.f("ck_awards_deliverystate"), "awards", type_="check")
    op.create_check_constraint("deliverystate", "awards", _in("state", STATES[:3]))
    op.drop_index("ix_award_rules_level", table_name="award_rules")
    op.drop_constraint(
        op.f("ck_award_rules_confirmation_for_honours_and_grades"), "award_rules", type_="check"
    )
    op.drop_constraint(op.f("ck_award_rules_stage_or_level"), "award_rules", type_="check")
    op.drop_column("award_rules", "requires_confirmation")
    op.drop_constraint(op.f("ck_award_rules_competitionlevel"), "award_rules", type_="check")
    op.drop_column("award_rules", "level")
    op.alter_column("award_rules", "stage_id", existing_type=sa.Uuid(), nullable=False)
    op.drop_constraint(op.f("ck_competitions_competitionlevel"), "competitions", type_="check")
    op.create_check_constraint("competitionlevel", "competitions", _in("level", LEVELS[:4]))
