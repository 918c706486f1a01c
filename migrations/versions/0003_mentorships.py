"""Mentorships: "master and apprentice" pairs (师带徒) and "help in pairs" (结对帮扶).

Adds the `mentorships` table (status lifecycle, planned and actual dates, final evaluation) with
a partial unique index allowing an apprentice one active mentorship at a time.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 09:30:07.151289+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mentorships",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("mentor_id", sa.Uuid(), nullable=False),
        sa.Column("apprentice_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "master_apprentice",
                "pair_assistance",
                name="mentorshipkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("goals", sa.Text(), nullable=False),
        sa.Column("planned_start_date", sa.Date(), nullable=False),
        sa.Column("planned_end_date", sa.Date(), nullable=False),
        sa.Column("actual_start_date", sa.Date(), nullable=True),
        sa.Column("actual_end_date", sa.Date(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "proposed",
                "active",
                "completed",
                "terminated",
                name="mentorshipstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            server_default=sa.text("'proposed'"),
            nullable=False,
        ),
        sa.Column(
            "evaluation_rating",
            sa.Enum(
                "excellent",
                "good",
                "pass",
                "fail",
                name="mentorshiprating",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("evaluation_comment", sa.Text(), nullable=True),
        sa.Column("termination_reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "mentor_id <> apprentice_id", name=op.f("ck_mentorships_distinct_parties")
        ),
        sa.CheckConstraint(
            "planned_end_date >= planned_start_date", name=op.f("ck_mentorships_planned_dates")
        ),
        sa.ForeignKeyConstraint(
            ["apprentice_id"], ["workers.id"], name=op.f("fk_mentorships_apprentice_id_workers")
        ),
        sa.ForeignKeyConstraint(
            ["mentor_id"], ["workers.id"], name=op.f("fk_mentorships_mentor_id_workers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mentorships")),
    )
    op.create_index(
        "ix_mentorships_apprentice", "mentorships", ["apprentice_id", "status"], unique=False
    )
    op.create_index("ix_mentorships_created", "mentorships", ["created_at", "id"], unique=False)
    op.create_index("ix_mentorships_mentor", "mentorships", ["mentor_id", "status"], unique=False)
    op.create_index(
        "uq_mentorships_active_apprentice",
        "mentorships",
        ["apprentice_id"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_mentorships_active_apprentice",
        table_name="mentorships",
        postgresql_where=sa.text("status = 'active'"),
    )
    op.drop_index("ix_mentorships_mentor", table_name="mentorships")
    op.drop_index("ix_mentorships_created", table_name="mentorships")
    op.drop_index("ix_mentorships_apprentice", table_name="mentorships")
    op.drop_table("mentorships")
