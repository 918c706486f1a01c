"""Columns for issue 14's "too many calls" items.

`entries.approved_when_placed`: the status a place gives the entry, as its registration
implied (true: registered by the competition's organisers, approved at once; false: a
self-registration or an enterprise's, pending the organisers' approval). A waitlisted entry used
to come back `pending` when a place freed, even one the organisers had registered themselves,
which then needed one more call. `take_entry_places` (migration 0034) now records it; existing
entries get it from their status (approved or checked in: true), waitlisted ones as before
(pending).

`judge_declared_conflicts.stage_id` and `.blind_code`: a judge knows entries only by blind code,
so a conflict may be declared by code within a stage; the entry behind the code is stored as
before (`entry_id`) and the code is kept to show the judge what they declared without
revealing the entry.

`appeals.aspect_codes`: competitors name the disputed aspects by code (A1.1), as score sheets
do; the ids stay (scores point at them). Existing appeals get the codes of their ids.

Revision ID: 0050
Revises: 0045
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0050"
down_revision: str | None = "0045"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _function_of_0034() -> str:
    path = Path(__file__).with_name("0034_take_entry_places.py")
    spec = importlib.util.spec_from_file_location("migration_0034", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    function: str = module.PLACES
    return function


#: 0034's insert, and the same with the admission recorded.
OLD_INSERT = """        INSERT INTO entries (id, competition_id, event_id, worker_id, team_name,
                             achievement_id, enterprise_id, locality_code, status,
                             registered_by, created_at, updated_at)
        VALUES (v_id, CAST(v_item->>'competition_id' AS uuid), v_event, v_members[1],
                v_item->>'team_name', CAST(v_item->>'achievement_id' AS uuid),
                CAST(v_item->>'enterprise_id' AS uuid), v_item->>'locality_code', v_status,
                v_item->>'registered_by', v_at, v_at)"""
NEW_INSERT = """        INSERT INTO entries (id, competition_id, event_id, worker_id, team_name,
                             achievement_id, enterprise_id, locality_code, status,
                             approved_when_placed, registered_by, created_at, updated_at)
        VALUES (v_id, CAST(v_item->>'competition_id' AS uuid), v_event, v_members[1],
                v_item->>'team_name', CAST(v_item->>'achievement_id' AS uuid),
                CAST(v_item->>'enterprise_id' AS uuid), v_item->>'locality_code', v_status,
                v_item->>'wanted' = 'approved', v_item->>'registered_by', v_at, v_at)"""


def _replace(function: str) -> str:
    return function.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def upgrade() -> None:
    op.add_column(
        "entries",
        sa.Column(
            "approved_when_placed", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
    )
    op.execute(
        "UPDATE entries SET approved_when_placed = true WHERE status IN ('approved', 'checked_in')"
    )
    old = _function_of_0034()
    assert OLD_INSERT in old, "migration 0034's insert changed: update this migration"
    op.execute(_replace(old.replace(OLD_INSERT, NEW_INSERT)))

    op.add_column("judge_declared_conflicts", sa.Column("stage_id", sa.Uuid(), nullable=True))
    op.add_column(
        "judge_declared_conflicts", sa.Column("blind_code", sa.String(length=16), nullable=True)
    )
    op.create_check_constraint(
        "code_in_stage",
        "judge_declared_conflicts",
        "(blind_code IS NULL) = (stage_id IS NULL)",
    )

    op.add_column(
        "appeals",
        sa.Column(
            "aspect_codes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
    )
    op.execute(
        """
        UPDATE appeals a SET aspect_codes = coalesce((
            SELECT jsonb_agg(m.code ORDER BY x.ord)
            FROM jsonb_array_elements_text(a.aspect_ids) WITH ORDINALITY AS x(id, ord)
            JOIN marking_aspects m ON m.id = CAST(x.id AS uuid)
        ), '[]'::jsonb)
        """
    )


def downgrade() -> None:
    op.drop_column("appeals", "aspect_codes")
    op.drop_constraint(
        op.f("ck_judge_declared_conflicts_code_in_stage"), "judge_declared_conflicts", type_="check"
    )
    op.drop_column("judge_declared_conflicts", "blind_code")
    op.drop_column("judge_declared_conflicts", "stage_id")
    op.execute(_replace(_function_of_0034()))
    op.drop_column("entries", "approved_when_placed")
