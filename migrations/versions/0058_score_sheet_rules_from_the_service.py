"""Score entry's fast path without its own copies of the rules' words: `judging_put_sheet` and
`judging_submit_sheet` (migration 0042) again, with their audit rows and history actions given
by the service instead of written as literals in SQL.

- Audit rows: the service builds each row with `shared.audit.entry` (the one redaction every
  audit row goes through) and passes it as jsonb; `judging_audit` inserts it as given, the
  function adding only what it alone knows (the sheet's id and version, and the marks before
  the change: aspect codes and numbers). The scheme's freeze row is built the same way.
- History actions (`created`, `changed`, `submitted`) are arguments (the service's
  `HistoryAction`), as are the audit actions and entity types inside the rows.

What the functions check is unchanged (see 0042); the tests run every score write with the
fast path on and off (`SCORE_FAST_PATH`).

Revision ID: 0058
Revises: 0054
Create Date: 2026-12-03 08:00:00+00:00
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0058"
down_revision: str | None = "0054"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# One audit row as `shared.audit.entry` builds it (the table's column names as keys): inserted
# as given. A JSON null is an SQL null.
AUDIT = """
CREATE FUNCTION judging_audit(p_row jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO audit_log (
        service, actor_sub, actor_role, request_id, action, entity_type, entity_id, before, after
    )
    SELECT r.service, r.actor_sub, r.actor_role, r.request_id, r.action, r.entity_type,
        r.entity_id, r.before, r.after
    FROM jsonb_populate_record(NULL::audit_log, p_row) r
$$
"""

# `p_audit`: the sheet's audit row without its entity id, `before` and version; `p_freeze_audit`:
# the scheme's freeze row, inserted only if this call freezes it; `p_created`, `p_changed`: the
# history actions.
PUT_SHEET = """
CREATE FUNCTION judging_put_sheet(
    p_stage_id uuid, p_sub text, p_blind_code text, p_worker_id uuid, p_worker_known boolean,
    p_related uuid[], p_local boolean, p_if_match_given boolean, p_if_match_any boolean, p_if_match integer[],
    p_scheme_id uuid, p_freeze boolean, p_aspect_ids uuid[], p_values numeric[],
    p_reason text, p_request_id text, p_audit jsonb, p_freeze_audit jsonb,
    p_created text, p_changed text
) RETURNS TABLE (
    o_outcome text, o_version integer, o_assignment_id uuid, o_judge_id uuid,
    o_submitted_at timestamptz, o_aspect_ids uuid[], o_values numeric[], o_versions integer[],
    o_submitted timestamptz[], o_locked timestamptz[], o_updated timestamptz[]
)
LANGUAGE plpgsql AS $$
DECLARE
    a judge_assignments;
    v_now timestamptz := now();
    v_changed integer := 0;
    v_before jsonb;
    v_id uuid;
    v_old numeric;
    v_version integer;
    v_scheme marking_schemes;
    v_worker uuid;
BEGIN
    IF NOT p_worker_known THEN
        -- The service does not know the judge yet: an outside expert goes on, a worker judge
        -- is answered `worker` (its worker id) so that the service asks the registry for
        -- their mentorships and calls again.
        SELECT jj.worker_id INTO v_worker FROM judges jj WHERE jj.account_sub = p_sub;
        IF v_worker IS NOT NULL THEN
            RETURN QUERY SELECT 'worker', NULL::integer, NULL::uuid, v_worker,
                NULL::timestamptz, NULL::uuid[], NULL::numeric[], NULL::integer[],
                NULL::timestamptz[], NULL::timestamptz[], NULL::timestamptz[];
            RETURN;
        END IF;
    END IF;
    a := judging_sheet_for_write(
        p_stage_id, p_sub, p_blind_code, p_worker_id, p_related, p_local);
    IF a.id IS NULL THEN
        RETURN QUERY SELECT 'fallback', NULL::integer, NULL::uuid, NULL::uuid,
            NULL::timestamptz, NULL::uuid[], NULL::numeric[], NULL::integer[],
            NULL::timestamptz[], NULL::timestamptz[], NULL::timestamptz[];
        RETURN;
    END IF;
    -- Locked marks (sign-off, panel lock), or new marks once the stage is locked: 409.
    IF EXISTS (
        SELECT 1 FROM scores s
        WHERE s.judge_id = a.judge_id AND s.stage_entry_id = a.stage_entry_id
          AND s.aspect_id = ANY (p_aspect_ids) AND s.locked_at IS NOT NULL
    ) OR (
        EXISTS (SELECT 1 FROM stage_score_locks l WHERE l.stage_id = p_stage_id)
        AND EXISTS (
            SELECT 1 FROM unnest(p_aspect_ids) x (aspect_id)
            WHERE NOT EXISTS (
                SELECT 1 FROM scores s
                WHERE s.judge_id = a.judge_id AND s.stage_entry_id = a.stage_entry_id
                  AND s.aspect_id = x.aspect_id
            )
        )
    ) THEN
        RETURN QUERY SELECT 'fallback', a.sheet_version, a.id, a.judge_id, a.submitted_at,
            NULL::uuid[], NULL::numeric[], NULL::integer[],
            NULL::timestamptz[], NULL::timestamptz[], NULL::timestamptz[];
        RETURN;
    END IF;
    IF a.sheet_version > 0 AND NOT p_if_match_given THEN
        RETURN QUERY SELECT 'precondition_required', a.sheet_version, a.id, a.judge_id,
            a.submitted_at, NULL::uuid[], NULL::numeric[], NULL::integer[],
            NULL::timestamptz[], NULL::timestamptz[], NULL::timestamptz[];
        RETURN;
    END IF;
    IF p_if_match_given AND NOT p_if_match_any AND NOT (a.sheet_version = ANY (p_if_match)) THEN
        RETURN QUERY SELECT 'precondition_failed', a.sheet_version, a.id, a.judge_id,
            a.submitted_at, NULL::uuid[], NULL::numeric[], NULL::integer[],
            NULL::timestamptz[], NULL::timestamptz[], NULL::timestamptz[];
        RETURN;
    END IF;
    -- The first marks of the stage freeze its scheme (`marking.service.freeze`, under its
    -- lock): `p_scheme_id` must still be the current version, else fall back. A frozen
    -- scheme never changes again, so once it is frozen no lock is needed (a burst of first
    -- marks would otherwise queue on it one by one).
    IF p_freeze THEN
        SELECT * INTO v_scheme FROM marking_schemes
        WHERE stage_id = p_stage_id ORDER BY version DESC LIMIT 1;
        IF v_scheme.frozen_at IS NULL THEN
            PERFORM pg_advisory_xact_lock(
                hashtextextended('marking-scheme:' || p_stage_id::text, 0));
            SELECT * INTO v_scheme FROM marking_schemes
            WHERE stage_id = p_stage_id ORDER BY version DESC LIMIT 1;
        END IF;
        IF v_scheme.id IS DISTINCT FROM p_scheme_id THEN
            RETURN QUERY SELECT 'fallback', a.sheet_version, a.id, a.judge_id, a.submitted_at,
                NULL::uuid[], NULL::numeric[], NULL::integer[],
                NULL::timestamptz[], NULL::timestamptz[], NULL::timestamptz[];
            RETURN;
        END IF;
        IF v_scheme.frozen_at IS NULL THEN
            UPDATE marking_schemes SET frozen_at = v_now, frozen_by = p_sub
            WHERE id = p_scheme_id;
            PERFORM judging_audit(p_freeze_audit);
        END IF;
    END IF;
    SELECT jsonb_object_agg(m.code, trim_scale(s.value)::text) INTO v_before
    FROM scores s JOIN marking_aspects m ON m.id = s.aspect_id
    WHERE s.judge_id = a.judge_id AND s.stage_entry_id = a.stage_entry_id;
    FOR i IN 1 .. cardinality(p_aspect_ids) LOOP
        SELECT s.id, s.value, s.version INTO v_id, v_old, v_version
        FROM scores s
        WHERE s.judge_id = a.judge_id AND s.stage_entry_id = a.stage_entry_id
          AND s.aspect_id = p_aspect_ids[i];
        IF NOT FOUND THEN
            v_id := gen_random_uuid();
            INSERT INTO scores (
                id, stage_id, stage_entry_id, entry_id, blind_code, judge_id, aspect_id,
                scheme_id, value, version, submitted_at, locked_at, created_at, updated_at
            ) VALUES (
                v_id, p_stage_id, a.stage_entry_id, a.entry_id, a.blind_code, a.judge_id,
                p_aspect_ids[i], p_scheme_id, p_values[i], 1, a.submitted_at, NULL, v_now, v_now
            );
            INSERT INTO score_history (
                id, score_id, stage_id, action, old_value, new_value, version, actor, reason,
                request_id
            ) VALUES (
                gen_random_uuid(), v_id, p_stage_id, p_created, NULL, p_values[i], 1, p_sub,
                p_reason, p_request_id
            );
            v_changed := v_changed + 1;
        ELSIF v_old <> p_values[i] THEN
            UPDATE scores SET value = p_values[i], version = v_version + 1, updated_at = v_now
            WHERE id = v_id;
            INSERT INTO score_history (
                id, score_id, stage_id, action, old_value, new_value, version, actor, reason,
                request_id
            ) VALUES (
                gen_random_uuid(), v_id, p_stage_id, p_changed, v_old, p_values[i],
                v_version + 1, p_sub, p_reason, p_request_id
            );
            v_changed := v_changed + 1;
        END IF;
    END LOOP;
    IF v_changed > 0 THEN
        UPDATE judge_assignments SET sheet_version = sheet_version + 1 WHERE id = a.id
        RETURNING sheet_version INTO a.sheet_version;
        PERFORM judging_audit(p_audit || jsonb_build_object(
            'entity_id', a.id::text,
            'before', v_before,
            'after', (p_audit -> 'after') || jsonb_build_object('version', a.sheet_version)
        ));
    END IF;
    RETURN QUERY
    SELECT 'ok', a.sheet_version, a.id, a.judge_id, a.submitted_at,
        array_agg(s.aspect_id), array_agg(s.value), array_agg(s.version),
        array_agg(s.submitted_at), array_agg(s.locked_at), array_agg(s.updated_at)
    FROM scores s
    WHERE s.judge_id = a.judge_id AND s.stage_entry_id = a.stage_entry_id;
END;
$$
"""

# `p_audit`: the submission's audit row without its entity id and version; `p_submitted`: the
# history action.
SUBMIT_SHEET = """
CREATE FUNCTION judging_submit_sheet(
    p_stage_id uuid, p_sub text, p_blind_code text, p_worker_id uuid, p_worker_known boolean,
    p_related uuid[], p_local boolean, p_if_match_given boolean, p_if_match_any boolean, p_if_match integer[],
    p_aspect_ids uuid[], p_request_id text, p_audit jsonb, p_submitted text
) RETURNS TABLE (
    o_outcome text, o_version integer, o_assignment_id uuid, o_judge_id uuid,
    o_submitted_at timestamptz, o_aspect_ids uuid[], o_values numeric[], o_versions integer[],
    o_submitted timestamptz[], o_locked timestamptz[], o_updated timestamptz[]
)
LANGUAGE plpgsql AS $$
DECLARE
    a judge_assignments;
    v_now timestamptz := now();
    v_worker uuid;
BEGIN
    IF NOT p_worker_known THEN
        -- The service does not know the judge yet: an outside expert goes on, a worker judge
        -- is answered `worker` (its worker id) so that the service asks the registry for
        -- their mentorships and calls again.
        SELECT jj.worker_id INTO v_worker FROM judges jj WHERE jj.account_sub = p_sub;
        IF v_worker IS NOT NULL THEN
            RETURN QUERY SELECT 'worker', NULL::integer, NULL::uuid, v_worker,
                NULL::timestamptz, NULL::uuid[], NULL::numeric[], NULL::integer[],
                NULL::timestamptz[], NULL::timestamptz[], NULL::timestamptz[];
            RETURN;
        END IF;
    END IF;
    a := judging_sheet_for_write(
        p_stage_id, p_sub, p_blind_code, p_worker_id, p_related, p_local);
    IF a.id IS NULL THEN
        RETURN QUERY SELECT 'fallback', NULL::integer, NULL::uuid, NULL::uuid,
            NULL::timestamptz, NULL::uuid[], NULL::numeric[], NULL::integer[],
            NULL::timestamptz[], NULL::timestamptz[], NULL::timestamptz[];
        RETURN;
    END IF;
    IF p_if_match_given AND NOT p_if_match_any AND NOT (a.sheet_version = ANY (p_if_match)) THEN
        RETURN QUERY SELECT 'precondition_failed', a.sheet_version, a.id, a.judge_id,
            a.submitted_at, NULL::uuid[], NULL::numeric[], NULL::integer[],
            NULL::timestamptz[], NULL::timestamptz[], NULL::timestamptz[];
        RETURN;
    END IF;
    IF a.submitted_at IS NULL THEN
        IF (
            SELECT count(DISTINCT s.aspect_id) FROM scores s
            WHERE s.judge_id = a.judge_id AND s.stage_entry_id = a.stage_entry_id
              AND s.aspect_id = ANY (p_aspect_ids)
        ) < cardinality(p_aspect_ids) THEN
            RETURN QUERY SELECT 'fallback', a.sheet_version, a.id, a.judge_id, a.submitted_at,
                NULL::uuid[], NULL::numeric[], NULL::integer[],
                NULL::timestamptz[], NULL::timestamptz[], NULL::timestamptz[];
            RETURN;
        END IF;
        UPDATE judge_assignments SET submitted_at = v_now, sheet_version = sheet_version + 1
        WHERE id = a.id
        RETURNING submitted_at, sheet_version INTO a.submitted_at, a.sheet_version;
        WITH done AS (
            UPDATE scores s SET submitted_at = v_now, updated_at = v_now
            WHERE s.judge_id = a.judge_id AND s.stage_entry_id = a.stage_entry_id
            RETURNING s.id, s.value, s.version
        )
        INSERT INTO score_history (
            id, score_id, stage_id, action, old_value, new_value, version, actor, reason,
            request_id
        )
        SELECT gen_random_uuid(), d.id, p_stage_id, p_submitted, d.value, d.value, d.version,
            p_sub, NULL, p_request_id
        FROM done d;
        PERFORM judging_audit(p_audit || jsonb_build_object(
            'entity_id', a.id::text,
            'after', (p_audit -> 'after') || jsonb_build_object('version', a.sheet_version)
        ));
    END IF;
    RETURN QUERY
    SELECT 'ok', a.sheet_version, a.id, a.judge_id, a.submitted_at,
        array_agg(s.aspect_id), array_agg(s.value), array_agg(s.version),
        array_agg(s.submitted_at), array_agg(s.locked_at), array_agg(s.updated_at)
    FROM scores s
    WHERE s.judge_id = a.judge_id AND s.stage_entry_id = a.stage_entry_id;
END;
$$
"""


def _previous() -> tuple[str, str]:
    """The functions as migration 0042 created them (for the downgrade)."""
    path = Path(__file__).with_name("0042_score_sheet_functions.py")
    spec = importlib.util.spec_from_file_location("migration_0042", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PUT_SHEET, module.SUBMIT_SHEET


def upgrade() -> None:
    op.execute("DROP FUNCTION judging_put_sheet")
    op.execute("DROP FUNCTION judging_submit_sheet")
    op.execute(AUDIT)
    op.execute(PUT_SHEET)
    op.execute(SUBMIT_SHEET)


def downgrade() -> None:
    op.execute("DROP FUNCTION judging_put_sheet")
    op.execute("DROP FUNCTION judging_submit_sheet")
    op.execute("DROP FUNCTION judging_audit")
    put, submit = _previous()
    op.execute(put)
    op.execute(submit)
