"""Registration: `take_entry_place`, one call that takes a place (or a waitlist spot) in an
event under its row lock and writes the entry, its members, the audit row and the outbox event.

Why a function: places are counted under a lock on the event row, and a statement's snapshot
is taken when it starts, so the count must be a later statement than the lock. As two
statements from the service, the lock stays held while the service's event loop gets round to
sending the next one and the COMMIT (under load: tens of milliseconds, and every other
registration for the event queues behind it). In a function each statement takes a fresh
snapshot, and called outside a transaction the lock is released when the call returns.

Revision ID: 0032
Revises: 0031
Create Date: 2026-11-25 12:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = """
CREATE FUNCTION take_entry_place(
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


def upgrade() -> None:
    op.execute(FUNCTION)


def downgrade() -> None:
    op.execute("DROP FUNCTION take_entry_place")
