"""Score entry: `judging_put_sheet` and `judging_submit_sheet`, a judge's marks for one entry
(or their submission) in one call: the shared marks lock of the stage, the judge's assignment
locked, conflicts checked again, the version check, the marks, one history row per changed
mark and the audit row.

Why functions: the same work from the service took about eight round trips per request (BEGIN,
the assignment, the marks, the inserts, the history, the version, the audit row, COMMIT), with
the assignment row locked across all of them. Called outside a transaction, a function is one
round trip and its locks are released when it returns.

They answer only the common cases; for anything else (no such assignment, a conflict, locked
marks, a judge whose worker link changed, missing marks on submit) they change nothing and
answer `fallback`, and the service runs its general path, which names the reason.

Revision ID: 0042
Revises: 0034
Create Date: 2026-11-25 15:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0042"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The caller's assignment to the entry, locked, once the stage's marks lock is held shared
# (the panel lock and sign-offs take it exclusively); null when there is none or when the
# judge may not mark it (`services.judging.conflicts.service.reasons_for`, in SQL: competitor,
# same enterprise, same city where `p_local`, a mentorship with a competitor (`p_related`, the
# workers the registry relates to `p_worker_id`, the judge's worker as the service knew it),
# a declared conflict).
SHEET_FOR_WRITE = """
CREATE FUNCTION judging_sheet_for_write(
    p_stage_id uuid, p_sub text, p_blind_code text, p_worker_id uuid, p_related uuid[],
    p_local boolean
) RETURNS judge_assignments
LANGUAGE plpgsql AS $$
DECLARE
    a judge_assignments;
    j judges;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(hashtextextended('scores:' || p_stage_id::text, 0));
    SELECT ja.* INTO a FROM judge_assignments ja JOIN judges jj ON jj.id = ja.judge_id
    WHERE jj.account_sub = p_sub AND ja.stage_id = p_stage_id AND ja.blind_code = p_blind_code
    FOR UPDATE OF ja;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT * INTO j FROM judges WHERE id = a.judge_id;
    IF j.worker_id IS DISTINCT FROM p_worker_id
        OR (j.worker_id IS NOT NULL AND j.worker_id = ANY (a.worker_ids))
        OR (j.enterprise_id IS NOT NULL AND j.enterprise_id = ANY (a.enterprise_ids))
        OR (p_local AND j.locality_code <> '' AND right(j.locality_code, 4) <> '0000'
            AND a.locality_code <> '' AND right(a.locality_code, 4) <> '0000'
            AND left(j.locality_code, 4) = left(a.locality_code, 4))
        OR a.worker_ids && p_related
        OR EXISTS (
            SELECT 1 FROM judge_declared_conflicts d
            WHERE d.judge_id = j.id
              AND (d.entry_id = a.entry_id OR d.worker_id = ANY (a.worker_ids))
        )
    THEN
        RETURN NULL;
    END IF;
    RETURN a;
END;
$$
"""

# Marks by aspect id (validated by the service against the scheme `p_scheme_id`, frozen here
# first when `p_freeze`). `p_worker_known`: whether `p_worker_id` is the judge's worker as the
# service last knew it (else outcome `worker` for a worker judge, see below).
# Outcomes: ok, fallback, precondition_required (428), precondition_failed (412); with the
# sheet's version and, for ok, its marks as arrays.
PUT_SHEET = """
CREATE FUNCTION judging_put_sheet(
    p_stage_id uuid, p_sub text, p_blind_code text, p_worker_id uuid, p_worker_known boolean,
    p_related uuid[], p_local boolean, p_if_match_given boolean, p_if_match_any boolean, p_if_match integer[],
    p_scheme_id uuid, p_freeze boolean, p_aspect_ids uuid[], p_values numeric[],
    p_reason text, p_actor_role text, p_request_id text, p_after jsonb
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
            INSERT INTO audit_log (
                service, actor_sub, actor_role, request_id, action, entity_type, entity_id,
                before, after
            ) VALUES (
                'judging', p_sub, p_actor_role, p_request_id, 'marking_scheme.freeze',
                'marking_scheme', p_scheme_id::text,
                jsonb_build_object('version', v_scheme.version, 'frozen', false),
                jsonb_build_object('version', v_scheme.version, 'frozen', true)
            );
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
                gen_random_uuid(), v_id, p_stage_id, 'created', NULL, p_values[i], 1, p_sub,
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
                gen_random_uuid(), v_id, p_stage_id, 'changed', v_old, p_values[i],
                v_version + 1, p_sub, p_reason, p_request_id
            );
            v_changed := v_changed + 1;
        END IF;
    END LOOP;
    IF v_changed > 0 THEN
        UPDATE judge_assignments SET sheet_version = sheet_version + 1 WHERE id = a.id
        RETURNING sheet_version INTO a.sheet_version;
        INSERT INTO audit_log (
            service, actor_sub, actor_role, request_id, action, entity_type, entity_id,
            before, after
        ) VALUES (
            'judging', p_sub, p_actor_role, p_request_id, 'scores.upsert', 'score_sheet',
            a.id::text, v_before, p_after || jsonb_build_object('version', a.sheet_version)
        );
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

# Submission: every aspect of the frozen scheme (`p_aspect_ids`) must have a mark, else
# fallback (the service names the missing ones). Outcomes: ok, fallback, precondition_failed.
SUBMIT_SHEET = """
CREATE FUNCTION judging_submit_sheet(
    p_stage_id uuid, p_sub text, p_blind_code text, p_worker_id uuid, p_worker_known boolean,
    p_related uuid[], p_local boolean, p_if_match_given boolean, p_if_match_any boolean, p_if_match integer[],
    p_aspect_ids uuid[], p_actor_role text, p_request_id text
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
        SELECT gen_random_uuid(), d.id, p_stage_id, 'submitted', d.value, d.value, d.version,
            p_sub, NULL, p_request_id
        FROM done d;
        INSERT INTO audit_log (
            service, actor_sub, actor_role, request_id, action, entity_type, entity_id,
            before, after
        ) VALUES (
            'judging', p_sub, p_actor_role, p_request_id, 'scores.submit', 'score_sheet',
            a.id::text, NULL,
            jsonb_build_object('blind_code', p_blind_code, 'version', a.sheet_version)
        );
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


def upgrade() -> None:
    op.execute(SHEET_FOR_WRITE)
    op.execute(PUT_SHEET)
    op.execute(SUBMIT_SHEET)


def downgrade() -> None:
    op.execute("DROP FUNCTION judging_submit_sheet")
    op.execute("DROP FUNCTION judging_put_sheet")
    op.execute("DROP FUNCTION judging_sheet_for_write")
