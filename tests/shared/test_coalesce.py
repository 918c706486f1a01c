"""`shared.clients.coalesce.Coalescer`: concurrent reads share calls, each caller gets its own
ids, a failure reaches every caller of its batch, and a stopped service leaves no one waiting.
(Through HTTP the registration burst test shows it at work against the real registry.)"""

from __future__ import annotations

import asyncio

import pytest

from shared.clients.coalesce import Coalescer


async def test_concurrent_reads_share_calls_and_each_gets_its_own_ids() -> None:
    calls: list[list[int]] = []

    async def fetch(key: str, ids: list[int]) -> dict[int, str]:
        calls.append(ids)
        await asyncio.sleep(0.01)
        return {i: f"{key}:{i}" for i in ids if i != 99}  # 99 does not exist

    coalescer: Coalescer[int, str] = Coalescer(fetch)
    first = [asyncio.create_task(coalescer.get("t", ids)) for ids in ([1], [2, 3])]
    await asyncio.sleep(0.001)  # their call is in flight: the next reads wait for it
    later = [asyncio.create_task(coalescer.get("t", ids)) for ids in ([3, 99], [4])]
    answers = await asyncio.gather(*first, *later)
    assert answers == [{1: "t:1"}, {2: "t:2", 3: "t:3"}, {3: "t:3"}, {4: "t:4"}]
    # reads made together share a call; the ones made meanwhile share the next
    assert calls == [[1, 2, 3], [3, 99, 4]]


async def test_a_failed_call_fails_every_caller_of_its_batch() -> None:
    async def fetch(key: str, ids: list[int]) -> dict[int, str]:
        await asyncio.sleep(0.01)
        raise ConnectionError("registry down")

    coalescer: Coalescer[int, str] = Coalescer(fetch)
    results = await asyncio.gather(
        *(coalescer.get("t", [i]) for i in range(4)), return_exceptions=True
    )
    assert all(isinstance(r, ConnectionError) for r in results)


async def test_a_stopped_service_leaves_no_caller_waiting() -> None:
    started = asyncio.Event()

    async def fetch(key: str, ids: list[int]) -> dict[int, str]:
        started.set()
        await asyncio.Event().wait()  # never answers
        return {}

    coalescer: Coalescer[int, str] = Coalescer(fetch)
    callers = [asyncio.create_task(coalescer.get("t", [i])) for i in range(3)]
    await started.wait()
    coalescer._running["t"].cancel()  # what the event loop does to tasks at shutdown
    for caller in callers:
        with pytest.raises(RuntimeError, match="stopped"):
            await asyncio.wait_for(caller, 5)
