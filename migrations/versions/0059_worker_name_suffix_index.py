"""Worker name search: names ending in the term in index order (issue 17).

A given name (建国) is most often the end of a name (王建国): `GET /v1/workers?q=` reads those
as their own match class from a btree on the reversed name, one range scan in order, instead of
reading every name holding the term through the GIN index and sorting them
(`services/registry/search.py`). As in 0057, the "C" collation makes a prefix of the reversed
name one contiguous range.

Revision ID: 0059
Revises: 0057
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0059"
down_revision: str | None = "0057"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        'CREATE INDEX ix_workers_name_suffix ON workers ((reverse(lower(name)) COLLATE "C"), id)'
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_workers_name_suffix")
