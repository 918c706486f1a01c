"""`worker_eligibility`: the registry's read model for eligibility (migration 0056), a contract
like an endpoint.

Owner: the registry. It is a view over the registry's own tables (workers, talent-file results,
honour grants), so it changes in the very transaction that changes a worker, and nobody writes
it: the services' database role may only SELECT it. Readers: the registry's `workers:batch-get`
(the one definition of a national winner) and the competitions service's registration, which
reads it in SQL instead of calling `workers:batch-get` on every registration (the hop cost more
CPU than the rest of a registration; figures in bench/README.md). Columns:

- worker_id, birth_date, grade, locality_code, enterprise_id, file_status: as in `workers`;
- national_winner: a winning national result (first, second or third prize, or ranked 1 to 3
  without a prize) in the talent file, or a live national-level honour;
- national_wins: the summaries of those results, oldest first.

If the registry moves to its own database, this becomes a table in the competitions' database
fed from the registry's outbox (worker.* and honour.* events), with the same columns.

Declared as a lightweight `table()` (not in the metadata): Alembic must not try to create it.
"""

from __future__ import annotations

from sqlalchemy import ARRAY, Boolean, Date, String, Text, Uuid, column, table

worker_eligibility = table(
    "worker_eligibility",
    column("worker_id", Uuid()),
    column("birth_date", Date()),
    column("grade", String()),
    column("locality_code", String()),
    column("enterprise_id", Uuid()),
    column("file_status", String()),
    column("national_winner", Boolean()),
    column("national_wins", ARRAY(Text())),
)
