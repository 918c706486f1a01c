"""The scale curve: how import, name search and the filtered list grow with the workers table.

`python -m bench --size 10m` (or `make bench SIZE=10m`) runs the benchmarks at one size:
50k (the same as `--quick`), 1m (the default) or 10m. `python -m bench --only scale` (or
`--sizes 50k,1m,10m --only import,search,list`) runs import, name search and filtered list once
per size, each in a fresh database, prints each run's table and then one table of the curve:

    size | import rows/s (ours, COPY, ratio) | search req/s, p50, p99 (ours, bare) | list (same)

and saves it with the runs in `bench/results/<UTC timestamp>-scale.json`. An indexed read that
stays flat as the table grows is the point; the 10m point takes 15-30 minutes on a 2-core
machine (the CSV, two imports of 10,000,000 rows, VACUUM ANALYZE, then the load runs).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

SIZES = {"50k": 50_000, "1m": 1_000_000, "10m": 10_000_000}
#: The benchmarks of the curve (the workers table's: they share one import).
PARTS = ("import", "search", "list")


def parse_size(value: str) -> int:
    """`50k`, `1m`, `10m` (or a plain number of workers)."""
    text = value.strip().lower()
    if text in SIZES:
        return SIZES[text]
    try:
        rows = int(text.replace("_", "").replace(",", ""))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"unknown size {value!r}; choose from {', '.join(SIZES)} or a number of workers"
        ) from exc
    if rows < 1_000:
        raise argparse.ArgumentTypeError("at least 1,000 workers")
    return rows


def parse_sizes(value: str) -> list[int]:
    return [parse_size(v) for v in value.split(",") if v.strip()]


def expand_only(names: set[str]) -> set[str]:
    """`scale` in `--only` means the curve's benchmarks."""
    return (names - {"scale"}) | set(PARTS) if "scale" in names else names


def label(rows: int) -> str:
    for name, n in SIZES.items():
        if n == rows:
            return name
    return f"{rows:,}"


def point(rows: int, benchmarks: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One size's figures, from a run's benchmark rows."""
    out: dict[str, Any] = {"rows": rows}
    imported = benchmarks.get("bulk import")
    if imported:
        out["import"] = {
            "ours_rows_per_s": imported["ours"]["rows_per_s"],
            "copy_rows_per_s": imported["baseline"]["rows_per_s"],
            "ratio_seconds": imported["ratio"],
        }
    for key, name in (("search", "name search"), ("list", "filtered list")):
        bench = benchmarks.get(name)
        if bench:
            out[key] = {
                side: {k: bench[side][k] for k in ("rps", "p50_ms", "p99_ms")}
                for side in ("ours", "baseline")
            } | {"ratio_rps": bench["ratio"]}
    return out


def render(points: list[dict[str, Any]], server: str) -> Table:
    table = Table(title=f"Scale curve ({server}): ours / bare baseline, one run per size")
    for column in ("workers", "import rows/s", "name search", "filtered list"):
        table.add_column(column, justify="right")

    def http(side: dict[str, Any]) -> str:
        return f"{side['rps']:,.0f} req/s, p50 {side['p50_ms']:.0f} / p99 {side['p99_ms']:.0f} ms"

    for p in points:
        cells = [f"{p['rows']:,}"]
        imp = p.get("import")
        cells.append(
            f"{imp['ours_rows_per_s']:,.0f} / COPY {imp['copy_rows_per_s']:,.0f}\n"
            f"time ratio {imp['ratio_seconds']:.2f}"
            if imp
            else "-"
        )
        for key in ("search", "list"):
            b = p.get(key)
            cells.append(
                f"{http(b['ours'])}\nbare {http(b['baseline'])}\nratio {b['ratio_rps']:.2f}"
                if b
                else "-"
            )
        table.add_row(*cells)
    table.caption = (
        "search: the SEARCH_TERMS mix (bench/data.py), first pages; list: locality 370100 + "
        "grade senior. 64 connections, 2 uvicorn workers each side."
    )
    return table


def main(
    args: argparse.Namespace,
    run: Callable[[argparse.Namespace], Awaitable[Any]],
    console: Console,
) -> int:
    """Run `run` (bench.main's one-size run) once per size in `args.sizes`, then the curve."""
    from bench.main import RESULTS_DIR, save
    from bench.main import render as render_run

    only = (set(args.only) & set(PARTS)) or set(PARTS)
    points, runs, server = [], [], ""
    for rows in args.sizes:
        one = copy.copy(args)
        one.rows, one.size, one.only = rows, rows, only
        console.print(f"[bold]Scale point: {rows:,} workers ({', '.join(sorted(only))})[/]")
        results = asyncio.run(run(one))
        console.print(render_run(results))
        save(results)
        server = results.server
        points.append(point(rows, results.benchmarks))
        runs.append(vars(results))
        # Print the curve so far: the 10m point is long, the smaller ones are worth keeping.
        console.print(render(points, server))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-scale.json"
    path.write_text(
        json.dumps({"points": points, "runs": runs}, indent=2, ensure_ascii=False, default=str)
        + "\n"
    )
    console.print(f"Scale curve saved to {path}")
    return 0
