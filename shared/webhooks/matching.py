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

#: An event's `data` names a locality (GB/T 2260 code) it concerns in `locality_code` or any
#: field ending so: `organiser_locality_code` (the competition's organiser), `from_locality_code`
#: (a transfer's old locality), `mentor_locality_code`... A locality filter matches any of them.
LOCALITY_SUFFIX = "locality_code"
#: Likewise an event names the competitions it concerns in `competition_id` or any field ending
#: so: a nomination names the competition nominated into (`competition_id`) and its qualifier's
#: (`qualifier_competition_id`). A competition filter matches any of them.
COMPETITION_SUFFIX = "competition_id"


def locality_codes(data: Mapping[str, Any]) -> list[str]:
    """Every locality an event's data names."""
    return [
        value
        for key, value in data.items()
        if key.endswith(LOCALITY_SUFFIX) and isinstance(value, str)
    ]


def competition_ids(data: Mapping[str, Any]) -> list[str]:
    """Every competition an event's data names."""
    return [
        str(value)
        for key, value in data.items()
        if key.endswith(COMPETITION_SUFFIX) and value is not None
    ]


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
    if competition_id is not None and str(competition_id) not in competition_ids(data):
        return False
    if locality_code is not None:
        prefix = locality_prefix(locality_code)
        if not any(code.startswith(prefix) for code in locality_codes(data)):
            return False
    return True
