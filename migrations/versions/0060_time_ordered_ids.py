"""Time-ordered identifiers for bulk-written rows (issue 17): `uuid_v7()`.

`gen_random_uuid()` puts each new key on a random page of every index that leads with it (the
primary keys, and `worker_id` in grade changes, employments, the timeline and the outbox's
subject). A bulk import of a million workers thus dirtied random pages of about ten large
btrees, and after every checkpoint each first change to a page writes the whole page to the
WAL: 13 GB of WAL (1.8 million full-page images) for 1,000,000 workers, against 4 GB for a
bare `COPY`, and about half the import's time.

A version 7 UUID (RFC 9562) starts with the Unix time in milliseconds: keys made together are
neighbours, so those indexes grow at their right edge like a sequence, and the rows stay as
unguessable as before (74 random bits). The creation time it reveals is no secret: every
record carries `created_at`. Postgres 15 has no `uuidv7()` (18 has), so this is the usual SQL
form: the random UUID's first 48 bits overwritten with the millisecond clock, the version
nibble set to 7. A single-statement SQL function: the planner inlines it.

Revision ID: 0060
Revises: 0059
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0060"
down_revision: str | None = "0059"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION uuid_v7() RETURNS uuid
        LANGUAGE sql VOLATILE PARALLEL SAFE
        AS $$
            SELECT encode(
                set_bit(
                    set_bit(
                        overlay(
                            uuid_send(gen_random_uuid())
                            PLACING substring(
                                int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint)
                                FROM 3
                            )
                            FROM 1 FOR 6
                        ),
                        52, 1
                    ),
                    53, 1
                ),
                'hex'
            )::uuid
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION uuid_v7()")
