"""The leaderboard benchmark's pieces keep working: the bare app's in-memory answer serves the
bytes it was given, and the load generator counts 304s (no body, no Content-Length) as
answers. No timing assertions."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench import load
from bench.servers import server_env, start_baseline, stop


@pytest.mark.timeout(60)
async def test_in_memory_baseline_and_not_modified(database_url: str, tmp_path: Path) -> None:
    memory = tmp_path / "memory"
    memory.mkdir()
    body = '{"stage_id": "s", "entries": [{"rank": 1, "team_name": "济南队"}]}'.encode()
    (memory / "final.json").write_bytes(body)
    env = server_env(database_url, tmp_path / "keys") | {"BASELINE_MEMORY_DIR": str(memory)}
    url, procs = await asyncio.to_thread(start_baseline, env, tmp_path, 1)
    try:
        conn = load.Connection("127.0.0.1", int(url.rsplit(":", 1)[1]), {})
        try:
            assert await conn.get("/memory/final") == (200, body)
            assert (await conn.get("/memory/other"))[0] == 404
        finally:
            await conn.close()
        result = await load.run(
            [f"{url}/memory/final"], concurrency=2, duration=0.3, max_requests=50, headers={}
        )
        assert result["requests"] > 0
        assert result["errors"] == 0
    finally:
        await asyncio.to_thread(stop, procs)


async def test_load_reads_a_304_without_length() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(b'HTTP/1.1 304 Not Modified\r\netag: "1"\r\n\r\n')
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        result = await load.run(
            [f"http://127.0.0.1:{port}/board"],
            concurrency=2,
            duration=5,
            max_requests=20,
            headers={"If-None-Match": '"1"'},
            expect=304,
        )
    finally:
        server.close()
    assert result["statuses"] == {"304": 20}
    assert result["errors"] == 0
