"""Timeline entries keep source references as long as the endpoints that record them accept
(128 characters, like `grade_changes.source_ref` and `honour_grants.source_ref`); a longer
`source_ref` on `PUT /v1/internal/competition-results/{source_ref}` used to fail with a 500.

Revision ID: 0033
Revises: 0032
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Widening a varchar needs no table rewrite.
    op.alter_column(
        "talent_file_events",
        "source_id",
        type_=sa.String(length=128),
        existing_type=sa.String(length=64),
        existing_nullable=True,
    )


def downgrade() -> None:
    op.alter_column(
        "talent_file_events",
        "source_id",
        type_=sa.String(length=64),
        existing_type=sa.String(length=128),
        existing_nullable=True,
    )
