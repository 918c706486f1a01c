"""`python -m bench.registration_ab [N] [ROUNDS]`: registration's eligibility read model against
the registry call, side by side in one run.

On one fresh database, for each round: a burst of N registrations (default 1,000, capacity
N/2) with `ELIGIBILITY_READ_MODEL=true`, the same with `false` (the registry's
`workers:batch-get`), then the bare insert, each into fresh events, through
`bench.registration`'s own set-up, servers and load. Prints one JSON line per burst: req/s,
statuses and CPU ms per request per process group (raw and net of idle). On a shared machine
compare the variants within a round.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

from bench import registration
from bench.main import checkpoint
from bench.servers import server_env
from shared.dbserver import choose_server
from shared.migrate import upgrade_head

VARIANTS: dict[str, dict[str, str] | None] = {
    "read-model": {"ELIGIBILITY_READ_MODEL": "true"},
    "registry-call": {"ELIGIBILITY_READ_MODEL": "false"},
    "baseline": None,
}


async def run(n: int, rounds: int) -> None:
    server = await asyncio.to_thread(choose_server, ("BENCH_DATABASE_URL", "TEST_DATABASE_URL"))
    database = await server.create_database(prefix="bench")
    url = server.url_for(database)
    try:
        with tempfile.TemporaryDirectory(prefix="skills-bench-ab-") as tmp:
            work = Path(tmp)
            await asyncio.to_thread(upgrade_head, url)
            key_dir = work / "keys"
            env = server_env(url, key_dir)
            for round_ in range(rounds):
                for name, extra in VARIANTS.items():
                    setup = await registration.prepare(url, key_dir, work, n)
                    await checkpoint(url)
                    if extra is None:
                        result = await registration.run_baseline(url, env, work, setup)
                    else:
                        result = await asyncio.to_thread(
                            registration.run_ours, env | extra, work, setup
                        )
                    row = {
                        "round": round_,
                        "variant": name,
                        "rps": round(result["rps"], 1),
                        "statuses": result["statuses"],
                        "cpu_ms_per_request": result["cpu_ms_per_request"],
                    }
                    print(json.dumps(row), flush=True)
    finally:
        await server.drop_database(database)
        server.close()


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 1000
    rounds = int(argv[1]) if len(argv) > 1 else 2
    asyncio.run(run(n, rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
