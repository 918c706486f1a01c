"""The authorisation matrix of the whole system: each service's `POLICY` (its `policy.py`), and
`python -m services.policy`, which prints them as one Markdown table for reviewers.

The rules and the table format are the kit's (shared/auth/policy.py); which services there are
is known here, beside them, so that the kit never imports the services.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.competitions.policy import POLICY as COMPETITIONS
from services.judging.policy import POLICY as JUDGING
from services.registry.policy import POLICY as REGISTRY
from shared.auth.policy import RouteKey, Rule, markdown

#: Every service's table, by service name, in port order.
POLICIES: Mapping[str, Mapping[RouteKey, Rule]] = {
    "registry": REGISTRY,
    "competitions": COMPETITIONS,
    "judging": JUDGING,
}

if __name__ == "__main__":  # pragma: no cover - a reviewer's tool
    print(markdown(POLICIES))
