"""The scale curve's options and table (bench/scale.py), without running a benchmark."""

from __future__ import annotations

import argparse

import pytest
from rich.console import Console

from bench import scale
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
