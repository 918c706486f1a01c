"""The competition an honour grant comes from (issue 18): `honour_grants.competition_id`.

Judging's awards report the competition with each honour they grant; `honour.granted` and
`honour.revoked` carry it, so a webhook subscription filtered by the competition receives the
competition's honours (before, person events carried no competition and such a subscription
never saw them). No foreign key: the registry does not depend on the competitions service's
tables. Grants made before have none.

Revision ID: 0062
Revises: 0061
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0062"
down_revision: str | None = "0061"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("honour_grants", sa.Column("competition_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    op.drop_column("honour_grants", "competition_id")
