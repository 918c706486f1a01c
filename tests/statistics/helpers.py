"""Checks of statistics answers against figures the tests compute themselves."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

Key = tuple[str | None, ...]


def with_margins(leaves: Mapping[Key, float], width: int) -> dict[Key, float]:
    """Every total of the leaves (None: summed over that dimension)."""
    out: dict[Key, float] = defaultdict(float)
    for key, value in leaves.items():
        for mask in itertools.product([False, True], repeat=width):
            out[tuple(None if m else k for k, m in zip(key, mask, strict=True))] += value
    return dict(out)


def cells(body: dict[str, Any]) -> dict[Key, dict[str, Any]]:
    return {tuple(c["dims"][d] for d in body["by"]): c for c in body["cells"]}


def check_figure(
    body: dict[str, Any],
    expected_leaves: Mapping[Key, float],
    *,
    threshold: int,
    people: bool = True,
) -> dict[Key, dict[str, Any]]:
    """Every published cell equals the independent figure (totals included); every cell
    counting 1..threshold-1 people is suppressed; no line (a total and its members) has exactly
    one suppressed cell; every cell with a non-zero expected value is present."""
    width = len(body["by"])
    expected = with_margins(expected_leaves, width)
    got = cells(body)
    for key, value in expected.items():
        if value:
            assert key in got, f"missing cell {key} (expected {value})"
    for key, cell in got.items():
        want = expected.get(key, 0)
        if cell["suppressed"]:
            assert cell["value"] is None
            assert people, f"{key} suppressed in a figure that counts no people"
        else:
            assert abs(cell["value"] - want) < 1e-6, f"{key}: got {cell['value']}, want {want}"
            if people:
                assert not 0 < want < threshold, f"{key} counts {want} people but is published"
    if people:
        assert_no_lone_suppression(got, width)
    return got


def assert_no_lone_suppression(got: Mapping[Key, dict[str, Any]], width: int) -> None:
    for d in range(width):
        lines: dict[Key, list[bool]] = defaultdict(list)
        for key, cell in got.items():
            rest = key[:d] + key[d + 1 :]
            lines[rest].append(cell["suppressed"])
        for rest, flags in lines.items():
            assert sum(flags) != 1, f"line {rest} along dimension {d} has one suppressed cell"
