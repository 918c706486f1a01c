"""Which subscriptions want an event: type patterns with wildcards, and data filters."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

#: `*`, an exact type (`entry.approved`) or a prefix wildcard (`results.*`, `entry.*`).
TYPE_PATTERN = re.compile(r"^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?)$")

#: Event types only ever sent to one subscription on request, never fanned out.
DIRECT_TYPES = frozenset({"webhook.ping"})

#: Fields of an event's `data` that carry a locality (GB/T 2260 code).
LOCALITY_FIELDS = ("locality_code", "organiser_locality_code")


def type_matches(event_type: str, patterns: Sequence[str]) -> bool:
    for pattern in patterns:
        if pattern == "*" or pattern == event_type:
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


def locality_prefix(code: str) -> str:
    """The prefix every locality inside `code` shares: 370000 -> 37, 370100 -> 3701."""
    prefix = code
    while prefix.endswith("00") and len(prefix) > 2:
        prefix = prefix[:-2]
    return prefix


def data_matches(
    data: Mapping[str, Any], competition_id: uuid.UUID | None, locality_code: str | None
) -> bool:
    """Filters narrow a subscription: an event lacking the filtered field does not match."""
    if competition_id is not None and str(data.get("competition_id")) != str(competition_id):
        return False
    if locality_code is not None:
        prefix = locality_prefix(locality_code)
        codes = [data.get(f) for f in LOCALITY_FIELDS]
        if not any(isinstance(c, str) and c.startswith(prefix) for c in codes):
            return False
    return True
