"""Registration's clash check planned for the event as it is (issue 17): `take_entry_places`.

The check that a worker holds no live place in the event yet
(`entry_members WHERE event_id = ... AND active AND worker_id = ANY(members)`) is one of the
function's statements, so PL/pgSQL caches its plan per connection. Planned while the event (or
the whole table) was still empty, the cached plan used the `(event_id, worker_id)` index for
`event_id` only and filtered the workers from every member of the event: a cost per
registration that grew with the event (1.2 ms per registration at 10,000 entries, against
0.01 ms for the index lookup), and stayed for the connection's life where nothing re-analyses
the table. Measured on one connection, calls of eight registrations into an empty event, two
runs each: 4.7–5.1 ms per call at 1,000 entries and 18.2–18.6 ms at 10,000; with this check
planned per call, 4.5–5.7 ms and 8.1–10.1 ms (the rest of the growth is the count of the
event's live entries at the start of each call).

The check now runs as dynamic SQL (`EXECUTE ... USING`), planned at each call with the
members' ids and the table as it is: always the index lookup. Planning it costs about 0.05 ms.
The rest of the function is unchanged (0056).

Revision ID: 0061
Revises: 0060
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0061"
down_revision: str | None = "0060"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CACHED_CHECK = """        SELECT coalesce(array_agg(em.worker_id), '{}') INTO v_clash FROM entry_members em
        WHERE em.event_id = v_event AND em.active AND em.worker_id = ANY(v_members);"""
PLANNED_PER_CALL = """        -- Dynamic SQL: planned at each call for the event as it is (a plan cached while the
        -- event was empty read every member of the event; migration 0061).
        EXECUTE 'SELECT coalesce(array_agg(em.worker_id), ''{}'') FROM entry_members em '
                'WHERE em.event_id = $1 AND em.active AND em.worker_id = ANY($2)'
            INTO v_clash USING v_event, v_members;"""


def _function_of_0056() -> str:
    """take_entry_places(jsonb, text[], text) as migration 0056 created it."""
    path = Path(__file__).with_name("0056_worker_eligibility_read_model.py")
    spec = importlib.util.spec_from_file_location("migration_0056", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    places: str = module.PLACES
    assert CACHED_CHECK in places, "0056's clash check is not where 0061 expects it"
    return places.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def upgrade() -> None:
    op.execute(_function_of_0056().replace(CACHED_CHECK, PLANNED_PER_CALL, 1))


def downgrade() -> None:
    op.execute(_function_of_0056())
