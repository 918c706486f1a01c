"""Import jobs: the uploaded file encrypted at rest (`content_enc`), an attempt counter.

Files of unfinished jobs uploaded before this revision were stored in clear; they are deleted
and their jobs failed with a reason asking for the file again (the key that would encrypt them
is not the database's to know), so no identity number stays in clear.

Revision ID: 0043
Revises: 0042
Create Date: 2026-12-03 10:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0043"
down_revision: str | None = "0042"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        UPDATE import_jobs
        SET status = 'failed', content = NULL, lease_until = NULL, finished_at = now(),
            failure = 'The upload was stored before files were encrypted at rest and has been '
                      'deleted unread; upload the file again (rows already imported are '
                      'reported as duplicates).'
        WHERE status IN ('queued', 'running') OR content IS NOT NULL
        """
    )
    op.drop_column("import_jobs", "content")
    op.add_column("import_jobs", sa.Column("content_enc", sa.LargeBinary(), nullable=True))
    op.add_column(
        "import_jobs",
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("import_jobs", "attempts")
    op.drop_column("import_jobs", "content_enc")
    op.add_column("import_jobs", sa.Column("content", sa.LargeBinary(), nullable=True))
