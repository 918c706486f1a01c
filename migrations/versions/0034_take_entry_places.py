"""Registration in batches: `take_entry_places`, which takes places for many registrations of
one event in one call (one transaction, one commit), in the order given.

Why: places are counted under a lock on the event row, held until the commit, and a commit
waits for the WAL to reach the disk (about 2 ms on the benchmark machine). One registration per
transaction therefore capped an event at a few hundred registrations a second however many
workers served it, and in the registration burst the services sat half idle waiting for that
lock. The competitions service now gathers the registrations that arrive for an event while
the previous call runs (see `services/competitions/entries/batching.py`) and sends them in one
call: one lock, one commit, the same checks for each registration in turn.

`take_entry_place` now stamps `created_at` with `clock_timestamp()` rather than `now()` (the
transaction's start): registrations that share a transaction must still be ordered as they
took their places, because the waitlist is served oldest first by `(created_at, id)`.

Revision ID: 0034
Revises: 0033
Create Date: 2026-11-25 15:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PLACE = """
CREATE OR REPLACE FUNCTION take_entry_place(
    p_id uuid, p_event_id uuid, p_competition_id uuid, p_members uuid[], p_team_name text,
    p_achievement_id uuid, p_enterprise_id uuid, p_locality_code text, p_registered_by text,
    p_wanted text, p_quota integer, p_service text, p_actor_sub text, p_actor_role text,
    p_request_id text, p_audit_after jsonb, p_outbox_id uuid, p_outbox_type text,
    p_payload jsonb
) RETURNS TABLE (
    clash uuid[], quota_used bigint, status text, version integer,
    created_at timestamptz, updated_at timestamptz, waitlist_position bigint
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_capacity integer;
BEGIN
    -- Serialises places: the statement below starts after the lock is granted, so it counts
    -- every registration committed before.
    SELECT e.capacity INTO v_capacity FROM competition_events e WHERE e.id = p_event_id
    FOR UPDATE;
    RETURN QUERY
    WITH taken AS (
        SELECT count(*) AS n FROM entries
        WHERE event_id = p_event_id AND status IN ('pending', 'approved', 'checked_in')
    ), clash AS (
        SELECT coalesce(array_agg(worker_id), '{}') AS ids FROM entry_members
        WHERE event_id = p_event_id AND active AND worker_id = ANY(p_members)
    ), quota AS (
        SELECT count(*) AS n FROM entries
        WHERE p_quota IS NOT NULL AND event_id = p_event_id AND enterprise_id = p_enterprise_id
          AND status IN ('pending', 'approved', 'checked_in', 'waitlisted')
    ), decision AS (
        SELECT clash.ids AS clash, quota.n AS quota_used,
               CASE WHEN cardinality(clash.ids) > 0 OR quota.n >= p_quota THEN NULL
                    WHEN taken.n >= v_capacity THEN 'waitlisted'
                    ELSE p_wanted END AS status
        FROM taken, clash, quota
    ), entry AS (
        INSERT INTO entries (id, competition_id, event_id, worker_id, team_name,
                             achievement_id, enterprise_id, locality_code, status,
                             registered_by, created_at, updated_at)
        SELECT p_id, p_competition_id, p_event_id, p_members[1], p_team_name,
               p_achievement_id, p_enterprise_id, p_locality_code, decision.status,
               p_registered_by, clock_timestamp(), clock_timestamp()
        FROM decision WHERE decision.status IS NOT NULL
        RETURNING id, status, version, created_at, updated_at
    ), members AS (
        INSERT INTO entry_members (entry_id, worker_id, event_id, role)
        SELECT entry.id, m.worker_id, p_event_id,
               CASE WHEN m.position = 1 THEN 'leader' ELSE 'member' END
        FROM entry, unnest(p_members) WITH ORDINALITY AS m(worker_id, position)
    ), audit AS (
        INSERT INTO audit_log (service, actor_sub, actor_role, request_id, action,
                               entity_type, entity_id, after)
        SELECT p_service, p_actor_sub, p_actor_role, p_request_id, 'entry.create', 'entry',
               CAST(entry.id AS text), p_audit_after || jsonb_build_object('status', entry.status)
        FROM entry
    ), outbox AS (
        INSERT INTO outbox_events (id, service, type, subject, payload)
        SELECT p_outbox_id, p_service, p_outbox_type, 'entry:' || CAST(entry.id AS text),
               p_payload
        FROM entry WHERE entry.status = 'approved'
    )
    SELECT decision.clash, decision.quota_used, CAST(entry.status AS text), entry.version,
           entry.created_at, entry.updated_at,
           CASE WHEN entry.status = 'waitlisted' THEN 1 + (
               SELECT count(*) FROM entries w
               WHERE w.event_id = p_event_id AND w.status = 'waitlisted'
                 AND (w.created_at, w.id) < (entry.created_at, entry.id)) END
    FROM decision LEFT JOIN entry ON true;
END
$$
"""

PREVIOUS_PLACE = """
CREATE OR REPLACE FUNCTION take_entry_place(
    p_id uuid, p_event_id uuid, p_competition_id uuid, p_members uuid[], p_team_name text,
    p_achievement_id uuid, p_enterprise_id uuid, p_locality_code text, p_registered_by text,
    p_wanted text, p_quota integer, p_service text, p_actor_sub text, p_actor_role text,
    p_request_id text, p_audit_after jsonb, p_outbox_id uuid, p_outbox_type text,
    p_payload jsonb
) RETURNS TABLE (
    clash uuid[], quota_used bigint, status text, version integer,
    created_at timestamptz, updated_at timestamptz, waitlist_position bigint
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_capacity integer;
BEGIN
    -- Serialises places: the statement below starts after the lock is granted, so it counts
    -- every registration committed before.
    SELECT e.capacity INTO v_capacity FROM competition_events e WHERE e.id = p_event_id
    FOR UPDATE;
    RETURN QUERY
    WITH taken AS (
        SELECT count(*) AS n FROM entries
        WHERE event_id = p_event_id AND status IN ('pending', 'approved', 'checked_in')
    ), clash AS (
        SELECT coalesce(array_agg(worker_id), '{}') AS ids FROM entry_members
        WHERE event_id = p_event_id AND active AND worker_id = ANY(p_members)
    ), quota AS (
        SELECT count(*) AS n FROM entries
        WHERE p_quota IS NOT NULL AND event_id = p_event_id AND enterprise_id = p_enterprise_id
          AND status IN ('pending', 'approved', 'checked_in', 'waitlisted')
    ), decision AS (
        SELECT clash.ids AS clash, quota.n AS quota_used,
               CASE WHEN cardinality(clash.ids) > 0 OR quota.n >= p_quota THEN NULL
                    WHEN taken.n >= v_capacity THEN 'waitlisted'
                    ELSE p_wanted END AS status
        FROM taken, clash, quota
    ), entry AS (
        INSERT INTO entries (id, competition_id, event_id, worker_id, team_name,
                             achievement_id, enterprise_id, locality_code, status,
                             registered_by)
        SELECT p_id, p_competition_id, p_event_id, p_members[1], p_team_name,
               p_achievement_id, p_enterprise_id, p_locality_code, decision.status,
               p_registered_by
        FROM decision WHERE decision.status IS NOT NULL
        RETURNING id, status, version, created_at, updated_at
    ), members AS (
        INSERT INTO entry_members (entry_id, worker_id, event_id, role)
        SELECT entry.id, m.worker_id, p_event_id,
               CASE WHEN m.position = 1 THEN 'leader' ELSE 'member' END
        FROM entry, unnest(p_members) WITH ORDINALITY AS m(worker_id, position)
    ), audit AS (
        INSERT INTO audit_log (service, actor_sub, actor_role, request_id, action,
                               entity_type, entity_id, after)
        SELECT p_service, p_actor_sub, p_actor_role, p_request_id, 'entry.create', 'entry',
               CAST(entry.id AS text), p_audit_after || jsonb_build_object('status', entry.status)
        FROM entry
    ), outbox AS (
        INSERT INTO outbox_events (id, service, type, subject, payload)
        SELECT p_outbox_id, p_service, p_outbox_type, 'entry:' || CAST(entry.id AS text),
               p_payload
        FROM entry WHERE entry.status = 'approved'
    )
    SELECT decision.clash, decision.quota_used, CAST(entry.status AS text), entry.version,
           entry.created_at, entry.updated_at,
           CASE WHEN entry.status = 'waitlisted' THEN 1 + (
               SELECT count(*) FROM entries w
               WHERE w.event_id = p_event_id AND w.status = 'waitlisted'
                 AND (w.created_at, w.id) < (entry.created_at, entry.id)) END
    FROM decision LEFT JOIN entry ON true;
END
$$
"""

#: One registration per element of `p_items` (a JSON array of objects with take_entry_place's
#: arguments, without the `p_` prefix), taken in array order; one result row per element, with
#: its position (1-based) in `ord`.
PLACES = """
CREATE FUNCTION take_entry_places(p_items jsonb) RETURNS TABLE (
    ord bigint, clash uuid[], quota_used bigint, status text, version integer,
    created_at timestamptz, updated_at timestamptz, waitlist_position bigint
)
LANGUAGE plpgsql AS $$
DECLARE
    v_item jsonb;
    v_ord bigint;
BEGIN
    FOR v_item, v_ord IN SELECT i.value, i.ordinality
                         FROM jsonb_array_elements(p_items) WITH ORDINALITY AS i
                         ORDER BY i.ordinality
    LOOP
        RETURN QUERY SELECT v_ord, t.*
        FROM take_entry_place(
            CAST(v_item->>'id' AS uuid), CAST(v_item->>'event_id' AS uuid),
            CAST(v_item->>'competition_id' AS uuid),
            ARRAY(SELECT CAST(m.value AS uuid)
                  FROM jsonb_array_elements_text(v_item->'members') WITH ORDINALITY AS m
                  ORDER BY m.ordinality),
            v_item->>'team_name', CAST(v_item->>'achievement_id' AS uuid),
            CAST(v_item->>'enterprise_id' AS uuid), v_item->>'locality_code',
            v_item->>'registered_by', v_item->>'wanted', CAST(v_item->>'quota' AS integer),
            v_item->>'service', v_item->>'actor_sub', v_item->>'actor_role',
            v_item->>'request_id', v_item->'audit_after', CAST(v_item->>'outbox_id' AS uuid),
            v_item->>'outbox_type', v_item->'payload'
        ) AS t;
    END LOOP;
END
$$
"""


def upgrade() -> None:
    op.execute(PLACE)
    op.execute(PLACES)


def downgrade() -> None:
    op.execute("DROP FUNCTION take_entry_places(jsonb)")
    op.execute(PREVIOUS_PLACE)
