"""Test database plumbing: the server choice lives in `shared.dbserver` (the benchmark uses it
too); tests migrate a template once per run and clone it per test (see conftest.py), the clones
made ahead of time by a `DatabasePool`."""

from __future__ import annotations

import asyncio
import queue
import threading
import uuid

import asyncpg

from shared.dbserver import LOCAL_URL, PgServer, asyncpg_dsn, choose_server

__all__ = ["LOCAL_URL", "DatabasePool", "PgServer", "asyncpg_dsn", "choose_server"]


class DatabasePool:
    """Copies of the migrated template, made ahead in a thread of its own while tests run, and
    dropped there after them.

    `CREATE DATABASE ... TEMPLATE` takes about 0.15 s (the server writes the copy to its WAL and
    syncs it), longer than most tests: made in line, it was a fifth of the suite's time. Here a
    test takes a copy that is already made (`take`), which asks for the next one, and gives it
    back (`give_back`) to be dropped; the server does both while the next tests run. Each copy
    is still used by exactly one test."""

    def __init__(self, server: PgServer, template: str, spare: int = 2) -> None:
        self.server, self.template = server, template
        self._ready: queue.Queue[str | BaseException] = queue.Queue()
        self._jobs: queue.Queue[tuple[str, str] | None] = queue.Queue()
        for _ in range(spare):
            self._jobs.put(("create", self._new_name()))
        self._thread = threading.Thread(target=self._work, name="test-databases", daemon=True)
        self._thread.start()

    @staticmethod
    def _new_name() -> str:
        return f"t_{uuid.uuid4().hex[:16]}"

    def take(self) -> str:
        """A fresh copy of the template, for one test."""
        self._jobs.put(("create", self._new_name()))
        ready = self._ready.get(timeout=120)
        if isinstance(ready, BaseException):
            raise RuntimeError("could not create a test database") from ready
        return ready

    def give_back(self, name: str) -> None:
        self._jobs.put(("drop", name))

    def close(self) -> None:
        """Drop the copies nobody took, and stop."""
        self._jobs.put(None)
        self._thread.join(timeout=120)

    def _work(self) -> None:
        loop = asyncio.new_event_loop()
        conn: asyncpg.Connection | None = None

        def run(sql: str) -> None:
            nonlocal conn
            if conn is None or conn.is_closed():  # first use, or the server closed it
                conn = loop.run_until_complete(asyncpg.connect(asyncpg_dsn(self.server.admin_url)))
            loop.run_until_complete(conn.execute(sql))

        try:
            while (job := self._jobs.get()) is not None:
                action, name = job
                try:
                    if action == "create":
                        run(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
                        self._ready.put(name)
                    else:
                        run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                except Exception as exc:  # handed to the test that waits for a copy
                    if action == "create":
                        self._ready.put(exc)
            while not self._ready.empty():  # made ahead, never taken
                left = self._ready.get_nowait()
                if isinstance(left, str):
                    run(f'DROP DATABASE IF EXISTS "{left}" WITH (FORCE)')
        finally:
            if conn is not None:
                loop.run_until_complete(conn.close())
            loop.close()
