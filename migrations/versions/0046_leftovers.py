"""Earlier leftovers: the services' login may not touch the schema, database-kept rate limits,
and award jobs that outlive the process that finalised a stage.

- `alembic_version` is read-only to `app_writer` (the readiness probe reads it; only a
  migration may move it), and PUBLIC may not create objects in `public` (the default before
  Postgres 15), so the services' login (a member of `app_writer` only) cannot change the schema.
- `rate_limit_counters`: requests per (bucket, hashed client key, window), shared by replicas.
- `award_jobs`: a finalised stage whose awards still have to be planned or sent; backfilled for
  stages that already have unsent awards, or final results and award rules but no awards.

Revision ID: 0046
Revises: 0044
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0046"
down_revision: str | None = "0044"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM app_writer")
    # A warning, not an error, where the migrating user does not own the schema.
    op.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")

    op.create_table(
        "rate_limit_counters",
        sa.Column("bucket", sa.String(length=64), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hits", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint(
            "bucket", "key_hash", "window_start", name=op.f("pk_rate_limit_counters")
        ),
    )
    op.create_index("ix_rate_limit_counters_window_start", "rate_limit_counters", ["window_start"])

    op.create_table(
        "award_jobs",
        sa.Column("stage_id", sa.Uuid(), nullable=False),
        sa.Column(
            "due_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("stage_id", name=op.f("pk_award_jobs")),
    )
    op.create_index(op.f("ix_award_jobs_due_at"), "award_jobs", ["due_at"])
    op.execute(
        """
        INSERT INTO award_jobs (stage_id)
        SELECT DISTINCT stage_id FROM awards WHERE state <> 'sent'
        UNION
        SELECT DISTINCT r.stage_id FROM stage_results r
        WHERE r.status = 'final'
          AND EXISTS (SELECT 1 FROM award_rules ar WHERE ar.stage_id = r.stage_id)
          AND NOT EXISTS (SELECT 1 FROM awards a WHERE a.stage_id = r.stage_id)
        """
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_award_jobs_due_at"), table_name="award_jobs")
    op.drop_table("award_jobs")
    op.drop_index("ix_rate_limit_counters_window_start", table_name="rate_limit_counters")
    op.drop_table("rate_limit_counters")
    op.execute("GRANT INSERT, UPDATE, DELETE ON alembic_version TO app_writer")
