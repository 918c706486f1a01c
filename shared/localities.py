"""GB/T 2260 locality scopes (kept for imports; the rules live in `shared.scope`)."""

from __future__ import annotations

from shared.scope import PROVINCE, locality_clause, locality_covers

__all__ = ["PROVINCE", "locality_clause", "locality_covers"]
