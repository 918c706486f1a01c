"""Registration in batches: `take_entry_places`, which takes places for many registrations of
one event in one call (one lock, one transaction, one commit), in the order given; it replaces
`take_entry_place` (migration 0032).

Why: places are counted under a lock on the event row, held until the commit, and a commit
waits for the WAL to reach the disk (about 2 ms on the benchmark machine). One registration
per transaction capped an event at a few hundred registrations a second however many workers
served it. The competitions service now gathers the registrations that arrive for an event
while the previous call runs (`services/competitions/entries/batching.py`) and sends them in
one call.

And the counts: `take_entry_place` counted the event's places and its waitlist (for the new
entry's position) with two scans of the event's entries for every registration, so each one
cost more as the event filled (about 6 ms per registration at 8,000 entries, under the lock).
Here they are counted once per call and carried forward: each registration in the call sees
the places taken by the ones before it, exactly as if they had come one by one.

Entries are stamped with `clock_timestamp()` rather than `now()` (the transaction's start):
registrations that share a transaction must still be ordered as they took their places,
because the waitlist is served oldest first by `(created_at, id)`.

Revision ID: 0034
Revises: 0033
Create Date: 2026-11-25 15:00:00+00:00
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: One registration per element of `p_items`, a JSON array of objects: id, event_id (the same
#: for every element), competition_id, members (leader first), team_name, achievement_id,
#: enterprise_id, locality_code, registered_by, wanted ('approved' or 'pending'), quota
#: (the enterprise quota, or null), service, actor_sub, actor_role, request_id, audit_after
#: (object), outbox_id, outbox_type, payload (object). One result row per element, `ord` its
#: 1-based position: `status` null with `clash` (members already entered) or `quota_used` (the
#: enterprise's entries, at or over `quota`) when it was refused, else the new entry's status
#: ('waitlisted' when the event is full), version, timestamps and waitlist position.
PLACES = """
CREATE FUNCTION take_entry_places(p_items jsonb) RETURNS TABLE (
    ord bigint, clash uuid[], quota_used bigint, status text, version integer,
    created_at timestamptz, updated_at timestamptz, waitlist_position bigint
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_event uuid := CAST(p_items->0->>'event_id' AS uuid);
    v_capacity integer;
    v_taken bigint;
    v_waiting bigint;
    v_item jsonb;
    v_ord bigint;
    v_id uuid;
    v_members uuid[];
    v_clash uuid[];
    v_quota integer;
    v_quota_used bigint;
    v_status text;
    v_version integer;
    v_at timestamptz;
BEGIN
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_items) i
               WHERE CAST(i->>'event_id' AS uuid) IS DISTINCT FROM v_event) THEN
        RAISE EXCEPTION 'take_entry_places: every item must be for the same event';
    END IF;
    -- Serialises places: the counts below start after the lock is granted, so they include
    -- every registration committed before; the ones in this call are added as they are made.
    SELECT e.capacity INTO v_capacity FROM competition_events e WHERE e.id = v_event
    FOR UPDATE;
    SELECT count(*) FILTER (WHERE e.status IN ('pending', 'approved', 'checked_in')),
           count(*) FILTER (WHERE e.status = 'waitlisted')
    INTO v_taken, v_waiting
    FROM entries e
    WHERE e.event_id = v_event
      AND e.status IN ('pending', 'approved', 'checked_in', 'waitlisted');

    FOR v_item, v_ord IN SELECT i.value, i.ordinality
                         FROM jsonb_array_elements(p_items) WITH ORDINALITY AS i
                         ORDER BY i.ordinality
    LOOP
        v_id := CAST(v_item->>'id' AS uuid);
        v_members := ARRAY(
            SELECT CAST(m.value AS uuid)
            FROM jsonb_array_elements_text(v_item->'members') WITH ORDINALITY AS m
            ORDER BY m.ordinality);
        SELECT coalesce(array_agg(em.worker_id), '{}') INTO v_clash FROM entry_members em
        WHERE em.event_id = v_event AND em.active AND em.worker_id = ANY(v_members);
        v_quota := CAST(v_item->>'quota' AS integer);
        v_quota_used := 0;
        IF v_quota IS NOT NULL THEN
            SELECT count(*) INTO v_quota_used FROM entries e
            WHERE e.event_id = v_event
              AND e.enterprise_id = CAST(v_item->>'enterprise_id' AS uuid)
              AND e.status IN ('pending', 'approved', 'checked_in', 'waitlisted');
        END IF;

        IF cardinality(v_clash) > 0 OR v_quota_used >= v_quota THEN
            ord := v_ord; clash := v_clash; quota_used := v_quota_used; status := NULL;
            version := NULL; created_at := NULL; updated_at := NULL; waitlist_position := NULL;
            RETURN NEXT;
            CONTINUE;
        END IF;
        IF v_taken >= v_capacity THEN
            v_status := 'waitlisted';
        ELSE
            v_status := v_item->>'wanted';
        END IF;

        v_at := clock_timestamp();
        INSERT INTO entries (id, competition_id, event_id, worker_id, team_name,
                             achievement_id, enterprise_id, locality_code, status,
                             registered_by, created_at, updated_at)
        VALUES (v_id, CAST(v_item->>'competition_id' AS uuid), v_event, v_members[1],
                v_item->>'team_name', CAST(v_item->>'achievement_id' AS uuid),
                CAST(v_item->>'enterprise_id' AS uuid), v_item->>'locality_code', v_status,
                v_item->>'registered_by', v_at, v_at)
        RETURNING version INTO v_version;
        INSERT INTO entry_members (entry_id, worker_id, event_id, role)
        SELECT v_id, m.worker_id, v_event,
               CASE WHEN m.position = 1 THEN 'leader' ELSE 'member' END
        FROM unnest(v_members) WITH ORDINALITY AS m(worker_id, position);
        INSERT INTO audit_log (service, actor_sub, actor_role, request_id, action,
                               entity_type, entity_id, after)
        VALUES (v_item->>'service', v_item->>'actor_sub', v_item->>'actor_role',
                v_item->>'request_id', 'entry.create', 'entry', CAST(v_id AS text),
                v_item->'audit_after' || jsonb_build_object('status', v_status));
        IF v_status = 'approved' THEN
            INSERT INTO outbox_events (id, service, type, subject, payload)
            VALUES (CAST(v_item->>'outbox_id' AS uuid), v_item->>'service',
                    v_item->>'outbox_type', 'entry:' || CAST(v_id AS text),
                    v_item->'payload');
        END IF;

        ord := v_ord; clash := v_clash; quota_used := v_quota_used; status := v_status;
        version := v_version; created_at := v_at; updated_at := v_at;
        IF v_status = 'waitlisted' THEN
            v_waiting := v_waiting + 1;
            waitlist_position := v_waiting;  -- the newest waitlisted entry: last in the queue
        ELSE
            v_taken := v_taken + 1;
            waitlist_position := NULL;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$
"""


def _previous_function() -> str:
    """take_entry_place as migration 0032 created it (for the downgrade)."""
    path = Path(__file__).with_name("0032_take_entry_place.py")
    spec = importlib.util.spec_from_file_location("migration_0032", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    function: str = module.FUNCTION
    return function


def upgrade() -> None:
    op.execute(PLACES)
    op.execute("DROP FUNCTION take_entry_place")


def downgrade() -> None:
    op.execute(_previous_function())
    op.execute("DROP FUNCTION take_entry_places(jsonb)")
