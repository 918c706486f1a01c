"""The whole system's resident memory and CPU per request, per burst: a second table.

A benchmark's side (`ours`, `baseline`) may carry `memory` (`RssSampler.summary()`: summed RSS
of the HTTP processes at rest and at the peak of the burst, their count, the private memory of
the Postgres backends serving the database) and `cpu_ms_per_request`. Ours runs more processes
than the bare baseline (three services, each a supervisor and 2 workers, against one uvicorn
master and 2 workers), so the baseline is also shown scaled to our process count: "adjusted" =
baseline summed RSS x ours' processes / baseline's processes. The score burst's target: ours
under the burst (services + backends) within 2x the adjusted baseline (services + backends).
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

#: The benchmarks whose memory is held to a bound, and the bound (x the adjusted baseline).
BOUNDS = {"score burst": 2.0}


def _mib(kib: int | None) -> str:
    return f"{kib / 1024:,.0f}" if kib is not None else "-"


def figures(bench: dict[str, Any]) -> dict[str, Any] | None:
    """Ours and the baseline, totals and the adjusted ratio (None without both memories)."""
    ours, base = bench["ours"].get("memory"), bench["baseline"].get("memory")
    if not ours or not base:
        return None
    total = ours["peak_kib"] + (ours["pg_peak_kib"] or 0)
    base_total = base["peak_kib"] + (base["pg_peak_kib"] or 0)
    scale = ours["processes"] / base["processes"] if base["processes"] else 1.0
    adjusted = base["peak_kib"] * scale + (base["pg_peak_kib"] or 0)
    return {
        "ours_kib": total,
        "baseline_kib": base_total,
        "adjusted_baseline_kib": adjusted,
        "ratio_adjusted": total / adjusted if adjusted else 0.0,
    }


def table(benchmarks: dict[str, dict[str, Any]]) -> Table | None:
    rows = [(name, b, f) for name, b in benchmarks.items() if (f := figures(b)) is not None]
    if not rows:
        return None
    out = Table(title="Memory (MiB) and CPU per request (ms)")
    for column in (
        "burst",
        "side",
        "HTTP processes\nat rest / peak (n)",
        "Postgres backends\nat rest / peak (n)",
        "total\npeak",
        "CPU ms/req\nHTTP / Postgres",
        "total vs adjusted\nbaseline (bound)",
    ):
        out.add_column(column, justify="right")
    for name, bench, fig in rows:
        for side in ("ours", "baseline"):
            m, cpu = bench[side]["memory"], bench[side].get("cpu_ms_per_request") or {}
            bound = BOUNDS.get(name)
            verdict = ""
            if side == "ours":
                verdict = f"{fig['ratio_adjusted']:.2f}x" + (
                    f" (≤ {bound}x: {'yes' if fig['ratio_adjusted'] <= bound else 'NO'})"
                    if bound
                    else ""
                )
            elif fig["adjusted_baseline_kib"]:
                verdict = f"adjusted {_mib(int(fig['adjusted_baseline_kib']))}"
            out.add_row(
                name if side == "ours" else "",
                side,
                f"{_mib(m['rest_kib'])} / {_mib(m['peak_kib'])} ({m['processes']})",
                f"{_mib(m['pg_rest_kib'])} / {_mib(m['pg_peak_kib'])} ({m['pg_backends']})",
                _mib(m["peak_kib"] + (m["pg_peak_kib"] or 0)),
                f"{cpu.get('services', 0):.2f} / {cpu.get('postgres', 0):.2f}" if cpu else "-",
                verdict,
            )
    out.caption = (
        "HTTP processes: summed RSS (psutil, every 100 ms), at rest = before the burst. Postgres "
        "backends of the bench database: RSS less shared pages (the shared buffers count once, "
        "as the server's). Adjusted baseline: its HTTP RSS x our process count / its process "
        "count, plus its backends."
    )
    return out
