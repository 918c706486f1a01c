"""The dispatcher's claim takes its batch from the due index in order whatever the statistics.

A queue's statistics are stale by nature: after a burst of events thousands of deliveries are
pending that ANALYZE has not seen. With such statistics the planner chose, for the previous
claim, a scan of every due delivery, the ordering check for each, and a sort: a claim's cost
grew with the backlog (~100 ms at 30,000 pending). Here the statistics are removed inside a
transaction that is rolled back, so nothing outside the test sees the change.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.webhooks.dispatcher import _CLAIM, _CLAIM_SETTINGS
from tests.conftest import owner_sessionmaker


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    out = [plan]
    for child in plan.get("Plans", []):
        out.extend(_nodes(child))
    return out


async def claim_plan(session: AsyncSession) -> list[dict[str, Any]]:
    explained = await session.scalar(
        text("EXPLAIN (FORMAT JSON) " + str(_CLAIM.text)),
        {"limit": 100, "lease_id": uuid.uuid4(), "lease_seconds": 60.0},
    )
    data = json.loads(explained) if isinstance(explained, str) else explained
    return _nodes(data[0]["Plan"])


async def test_the_claim_reads_the_due_index_in_order_without_statistics(
    database_url: str,
) -> None:
    # Catalogs (pg_statistic): the schema owner, not the services' login.
    async with owner_sessionmaker(database_url) as owner, owner() as session:
        await session.begin()
        try:
            subscription = uuid.uuid4()
            await session.execute(
                text(
                    "INSERT INTO webhook_subscriptions "
                    "(id, owner_sub, url, event_types, secret_enc) "
                    "VALUES (:id, 'plan-test', 'http://127.0.0.1:9/hooks', "
                    "ARRAY['entry.approved'], '\\x00'::bytea)"
                ),
                {"id": subscription},
            )
            # A backlog: 20,000 pending deliveries about 2,000 subjects.
            await session.execute(
                text(
                    "INSERT INTO webhook_deliveries "
                    "(id, subscription_id, event_seq, event_id, event_type, subject) "
                    "SELECT gen_random_uuid(), :sub, -n, gen_random_uuid(), 'entry.approved', "
                    "'plan-test:' || (n % 2000) FROM generate_series(1, 20000) n"
                ),
                {"sub": subscription},
            )
            # ...that no ANALYZE has seen.
            await session.execute(
                text(
                    "DELETE FROM pg_statistic WHERE starelid IN "
                    "('webhook_deliveries'::regclass, 'webhook_subscriptions'::regclass)"
                )
            )
            await session.execute(
                text(
                    "UPDATE pg_class SET reltuples = -1, relpages = 0 WHERE oid IN "
                    "('webhook_deliveries'::regclass, 'webhook_subscriptions'::regclass)"
                )
            )
            await session.execute(_CLAIM_SETTINGS)
            nodes = await claim_plan(session)
        finally:
            await session.rollback()
    kinds = [n["Node Type"] for n in nodes]
    assert "Sort" not in kinds, kinds
    scans = {(n["Node Type"], n.get("Index Name")) for n in nodes}
    assert ("Index Scan", "ix_webhook_deliveries_due") in scans, scans
    # The batch's rows are found by primary key, not by a scan of the table.
    assert not any(
        n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "webhook_deliveries"
        for n in nodes
    ), kinds
