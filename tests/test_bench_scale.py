"""The scale curve's options and table (bench/scale.py), without running a benchmark."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import pytest
from rich.console import Console

from bench import scale
from bench.data import COLUMNS, split_csv, write_workers_csv
from bench.main import Sizes


def test_sizes_parse_by_name_or_number() -> None:
    assert scale.parse_sizes("50k,1m,10m") == [50_000, 1_000_000, 10_000_000]
    assert scale.parse_size("250_000") == 250_000
    for bad in ("huge", "10"):
        with pytest.raises(argparse.ArgumentTypeError):
            scale.parse_size(bad)
    assert scale.expand_only({"scale"}) == {"import", "search", "list"}
    assert scale.expand_only({"search"}) == {"search"}
    assert Sizes.of(True).rows == scale.SIZES["50k"]  # --size 50k is --quick


def test_the_curve_table_shows_each_size_and_missing_parts() -> None:
    side = {"rps": 100.0, "p50_ms": 5.0, "p99_ms": 20.0, "server_cpu_ms_per_request": 3.0}
    http = {"ours": side, "baseline": side, "ratio": 1.0}
    imported = {
        "ours": {"rows_per_s": 10_000.0},
        "baseline": {"rows_per_s": 20_000.0},
        "ratio": 2.0,
    }
    points = [
        scale.point(50_000, {"bulk import": imported, "name search": http, "filtered list": http}),
        scale.point(10_000_000, {"name search": http}),  # generated: no import, no list
    ]
    assert points[0]["import"]["ratio_seconds"] == 2.0
    assert "import" not in points[1]
    assert "list" not in points[1]
    console = Console(width=200, record=True)
    console.print(scale.render(points, "local"))
    text = console.export_text()
    for expected in ("10,000,000", "3.0 ms CPU/req", "time ratio 2.00"):
        assert expected in text


async def test_max_wal_size_is_raised_for_the_run_and_put_back(database_url: str) -> None:
    """`--max-wal-size`: the server's setting inside the run, and the one it had after."""
    import asyncpg

    from bench.main import _wal_size, server_settings, wal_size
    from shared.dbserver import asyncpg_dsn

    for bad in ("16", "1TB", "0GB", "16GB; DROP TABLE workers"):
        with pytest.raises(argparse.ArgumentTypeError):
            _wal_size(bad)
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        if not await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
            pytest.skip("ALTER SYSTEM needs a superuser")
        before = await conn.fetchval("SHOW max_wal_size")
    finally:
        await conn.close()
    async with wal_size(database_url, _wal_size("3GB")):
        assert (await server_settings(database_url))["max_wal_size"] == "3072 MB"
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        assert await conn.fetchval("SHOW max_wal_size") == before
    finally:
        await conn.close()


def test_a_register_larger_than_one_upload_is_cut_into_files(tmp_path: Path) -> None:
    """`--size 10m`: one 10,000,000-row file is over TABLE_MAX_ROWS and IMPORT_MAX_BYTES, so
    the import sends it as files of `import_part_rows`, each with the header, none lost."""
    whole = write_workers_csv(tmp_path / "workers.csv", 25)
    assert split_csv(whole, 30) == [whole]  # fits: sent as it is
    parts = split_csv(whole, 10)
    assert [p.name for p in parts] == ["workers.01.csv", "workers.02.csv", "workers.03.csv"]
    read = [list(csv.reader(p.open(encoding="utf-8"))) for p in parts]
    assert all(rows[0] == COLUMNS for rows in read)
    assert [len(rows) - 1 for rows in read] == [10, 10, 5]
    original = list(csv.reader(whole.open(encoding="utf-8")))
    assert [row for rows in read for row in rows[1:]] == original[1:]
    assert Sizes.of(False).import_part_rows <= 1_048_576  # TABLE_MAX_ROWS' default
