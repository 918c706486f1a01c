"""`PlaceBatcher` when the service stops mid-call: every registration waiting on it gets an
error instead of waiting for ever. (Batching itself is tested through HTTP in
test_entries.py.)"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from services.competitions.entries.batching import PlaceBatcher


async def test_a_stopped_service_leaves_no_registration_waiting() -> None:
    started = asyncio.Event()

    async def never_answers(items: list[dict[str, Any]]) -> Any:
        started.set()
        await asyncio.Event().wait()

    batcher = PlaceBatcher(sessionmaker=None)  # type: ignore[arg-type]  # _call is replaced
    batcher._call = never_answers  # type: ignore[method-assign]
    event = uuid.uuid4()
    callers = [asyncio.create_task(batcher.take(event, {"n": i})) for i in range(3)]
    await started.wait()
    callers.append(asyncio.create_task(batcher.take(event, {"n": 3})))  # queued behind it
    await asyncio.sleep(0)
    batcher._draining[event].cancel()  # what the event loop does to tasks at shutdown
    for caller in callers:
        with pytest.raises(RuntimeError, match="stopped"):
            await asyncio.wait_for(caller, 5)
    assert not batcher._waiting
    assert not batcher._draining
