"""Worker name search in index order (issue 17): a btree on `lower(name) COLLATE "C", id`.

`GET /v1/workers?q=` reads the exact matches (equality) and the prefix matches (one range scan)
of this index in order, 51 rows at most, instead of sorting every match of a common surname
(`services/registry/search.py`). The "C" collation makes the order code point order, so a
prefix is one contiguous range whatever the database's collation.

Revision ID: 0057
Revises: 0056
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0057"
down_revision: str | None = "0056"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute('CREATE INDEX ix_workers_name_key ON workers ((lower(name) COLLATE "C"), id)')


def downgrade() -> None:
    op.execute("DROP INDEX ix_workers_name_key")
