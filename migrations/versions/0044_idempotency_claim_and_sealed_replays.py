"""Idempotency keys: claimed before the create runs, and replays without clear personal data.

- `status_code` and `response_body` may be null: the key's row is inserted first (the claim,
  which makes a concurrent duplicate wait for the first request's transaction) and filled in
  with the answer before that transaction commits, so a committed row always has its answer.
- `response_sealed`: the answer encrypted (AES-GCM, a key derived from the data key) in the
  services that hold personal data in clear (the registry); `response_body` stays for the
  others, whose answers never hold identity or phone numbers.
- `location`: the answer's Location header, replayed with it.

The registry's stored answers written before this migration hold identity and phone numbers in
clear and cannot be encrypted here (the data key is not available to migrations): they are
dropped. The keys stay used (a repeat gets a 409 naming the resource, never a second create).

Revision ID: 0044
Revises: 0049
Create Date: 2026-12-03 10:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0044"
down_revision: str | None = "0049"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("idempotency_keys", "status_code", existing_type=sa.Integer(), nullable=True)
    op.alter_column(
        "idempotency_keys",
        "response_body",
        existing_type=postgresql.JSONB(astext_type=sa.Text()),
        nullable=True,
    )
    op.add_column("idempotency_keys", sa.Column("response_sealed", sa.LargeBinary(), nullable=True))
    op.add_column("idempotency_keys", sa.Column("location", sa.String(length=512), nullable=True))
    op.execute("UPDATE idempotency_keys SET response_body = NULL WHERE service = 'registry'")


def downgrade() -> None:
    # Rows without a clear answer (sealed ones, and claims) cannot go back to the old shape.
    op.execute("DELETE FROM idempotency_keys WHERE response_body IS NULL OR status_code IS NULL")
    op.drop_column("idempotency_keys", "location")
    op.drop_column("idempotency_keys", "response_sealed")
    op.alter_column(
        "idempotency_keys",
        "response_body",
        existing_type=postgresql.JSONB(astext_type=sa.Text()),
        nullable=False,
    )
    op.alter_column("idempotency_keys", "status_code", existing_type=sa.Integer(), nullable=False)
