"""Registration without the registry hop (issue 17): the registry's `worker_eligibility` read
model, and `take_entry_places` taking its vocabularies from the caller.

`worker_eligibility` (a view, owned by the registry): one row per worker with what the
competitions' eligibility rules read (birth date, grade, locality, enterprise, file status) and
whether the worker is a national winner (a winning national result in the talent file, or a
live national-level honour) with the summaries of those results. It is the one definition of
"national winner": the registry's `workers:batch-get` reads it too. A view is always current:
it changes in the very transaction that changes a worker, an honour or a result, with no
second copy to keep in step. The services' role may only SELECT it (nobody writes a view's rows;
the registry writes the tables below it). Contract: `shared/models/registry/eligibility.py`.
Moving the registry to its own database means replacing this view with a table fed from the
registry's outbox (worker.* and honour.* events), read the same way.

`take_entry_places(p_items, p_holding, p_waitlisted)`: migration 0034's function (with 0050's
`approved_when_placed`) without the copies of Python's vocabularies: the statuses that hold a
place (`HOLDING_PLACE`) and the waitlisted status are arguments; the members' roles, the
admission flag, and the audit and outbox rows come in each item as Python made them (the audit
snapshot through `shared.audit.redact`, the outbox row only for an entry approved when placed).
SQL adds to the audit snapshot only the status it decided.

Revision ID: 0056
Revises: 0058
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0056"
down_revision: str | None = "0058"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Compiled from the registry's former `national_winner_clause` and `national_wins_column`
#: (services/registry/results/service.py), which now read this view.
VIEW = """
CREATE VIEW worker_eligibility AS
SELECT w.id AS worker_id,
       w.birth_date,
       w.grade,
       w.locality_code,
       w.enterprise_id,
       w.file_status,
       EXISTS (SELECT 1 FROM talent_file_events t
               WHERE t.worker_id = w.id AND t.kind = 'national_result'
                 AND ((t.data ->> 'prize') IN ('first', 'second', 'third')
                      OR (t.data ->> 'prize') IS NULL
                         AND CAST(t.data ->> 'rank' AS integer) <= 3))
       OR EXISTS (SELECT 1 FROM honour_grants g JOIN honours h ON h.code = g.honour_code
                  WHERE g.worker_id = w.id AND g.revoked_at IS NULL
                    AND h.level = 'national') AS national_winner,
       coalesce((SELECT array_agg(t.summary ORDER BY t.occurred_at, t.id)
                 FROM talent_file_events t
                 WHERE t.worker_id = w.id AND t.kind = 'national_result'
                   AND ((t.data ->> 'prize') IN ('first', 'second', 'third')
                        OR (t.data ->> 'prize') IS NULL
                           AND CAST(t.data ->> 'rank' AS integer) <= 3)),
                '{}') AS national_wins
FROM workers w
"""

#: One registration per element of `p_items`, a JSON array of objects: id, event_id (the same
#: for every element), competition_id, members (leader first), roles (one per member),
#: team_name, achievement_id, enterprise_id, locality_code, registered_by, wanted (the status a
#: place gives it), approved_when_placed, quota (the enterprise quota, or null), audit (service,
#: actor_sub, actor_role, request_id, action, entity_type, after: redacted), outbox (id,
#: service, type, subject, payload; or null: none is sent). `p_holding`: the statuses that hold
#: a place; `p_waitlisted`: the status of an entry waiting for one. One result row per element,
#: `ord` its 1-based position: `status` null with `clash` (members already entered) or
#: `quota_used` (the enterprise's live entries, at or over `quota`) when it was refused, else
#: the new entry's status (`p_waitlisted` when the event is full, and then no outbox row is
#: written), version, timestamps and waitlist position.
PLACES = """
CREATE FUNCTION take_entry_places(p_items jsonb, p_holding text[], p_waitlisted text)
RETURNS TABLE (
    ord bigint, clash uuid[], quota_used bigint, status text, version integer,
    created_at timestamptz, updated_at timestamptz, waitlist_position bigint
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_event uuid := CAST(p_items->0->>'event_id' AS uuid);
    v_live text[] := p_holding || p_waitlisted;
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
    SELECT count(*) FILTER (WHERE e.status = ANY(p_holding)),
           count(*) FILTER (WHERE e.status = p_waitlisted)
    INTO v_taken, v_waiting
    FROM entries e
    WHERE e.event_id = v_event AND e.status = ANY(v_live);

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
              AND e.status = ANY(v_live);
        END IF;

        IF cardinality(v_clash) > 0 OR v_quota_used >= v_quota THEN
            ord := v_ord; clash := v_clash; quota_used := v_quota_used; status := NULL;
            version := NULL; created_at := NULL; updated_at := NULL; waitlist_position := NULL;
            RETURN NEXT;
            CONTINUE;
        END IF;
        IF v_taken >= v_capacity THEN
            v_status := p_waitlisted;
        ELSE
            v_status := v_item->>'wanted';
        END IF;

        v_at := clock_timestamp();
        INSERT INTO entries (id, competition_id, event_id, worker_id, team_name,
                             achievement_id, enterprise_id, locality_code, status,
                             approved_when_placed, registered_by, created_at, updated_at)
        VALUES (v_id, CAST(v_item->>'competition_id' AS uuid), v_event, v_members[1],
                v_item->>'team_name', CAST(v_item->>'achievement_id' AS uuid),
                CAST(v_item->>'enterprise_id' AS uuid), v_item->>'locality_code', v_status,
                CAST(v_item->>'approved_when_placed' AS boolean), v_item->>'registered_by',
                v_at, v_at)
        RETURNING version INTO v_version;
        INSERT INTO entry_members (entry_id, worker_id, event_id, role)
        SELECT v_id, CAST(m.worker_id AS uuid), v_event, r.role
        FROM jsonb_array_elements_text(v_item->'members') WITH ORDINALITY AS m(worker_id, n)
        JOIN jsonb_array_elements_text(v_item->'roles') WITH ORDINALITY AS r(role, n)
          ON r.n = m.n;
        INSERT INTO audit_log (service, actor_sub, actor_role, request_id, action,
                               entity_type, entity_id, after)
        VALUES (v_item->'audit'->>'service', v_item->'audit'->>'actor_sub',
                v_item->'audit'->>'actor_role', v_item->'audit'->>'request_id',
                v_item->'audit'->>'action', v_item->'audit'->>'entity_type',
                CAST(v_id AS text),
                v_item->'audit'->'after' || jsonb_build_object('status', v_status));
        IF v_status IS DISTINCT FROM p_waitlisted
           AND jsonb_typeof(v_item->'outbox') = 'object' THEN
            INSERT INTO outbox_events (id, service, type, subject, payload)
            VALUES (CAST(v_item->'outbox'->>'id' AS uuid), v_item->'outbox'->>'service',
                    v_item->'outbox'->>'type', v_item->'outbox'->>'subject',
                    v_item->'outbox'->'payload');
        END IF;

        ord := v_ord; clash := v_clash; quota_used := v_quota_used; status := v_status;
        version := v_version; created_at := v_at; updated_at := v_at;
        IF v_status = p_waitlisted THEN
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


def _function_of_0050() -> str:
    """take_entry_places(jsonb) as migrations 0034 and 0050 left it (for the downgrade)."""
    path = Path(__file__).with_name("0050_entry_admission_and_conflicts_by_code.py")
    spec = importlib.util.spec_from_file_location("migration_0050", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    old: str = module._function_of_0034()
    return str(old.replace(module.OLD_INSERT, module.NEW_INSERT))


def upgrade() -> None:
    op.execute(VIEW)
    # Read-only for the services: the registry writes the tables below it, nobody the view.
    op.execute("REVOKE ALL ON worker_eligibility FROM app_writer")
    op.execute("GRANT SELECT ON worker_eligibility TO app_writer")
    op.execute("DROP FUNCTION take_entry_places(jsonb)")
    op.execute(PLACES)


def downgrade() -> None:
    op.execute("DROP FUNCTION take_entry_places(jsonb, text[], text)")
    op.execute(_function_of_0050())
    op.execute("DROP VIEW worker_eligibility")
