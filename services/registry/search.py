"""Chinese name search on the `name_tokens` GIN index (core Postgres, no pg_trgm).

`name_tokens(name)` holds the name's characters and character bigrams. A query of one
character looks for that character, a longer one for all its bigrams (`@>` uses the GIN index);
`LIKE` then rechecks the exact substring. Results rank exact matches first, then prefixes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, ColumnElement, and_, case, func, literal
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import Text


def query_tokens(q: str) -> list[str]:
    q = q.strip().lower()
    if len(q) <= 1:
        return [q] if q else []
    return sorted({q[i : i + 2] for i in range(len(q) - 1)})


def _escape_like(q: str) -> str:
    return q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def name_matches(name_col: Any, tokens_col: Any, q: str) -> ColumnElement[bool]:
    tokens = query_tokens(q)
    pattern = f"%{_escape_like(q.strip().lower())}%"
    contains = tokens_col.op("@>", return_type=Boolean)(literal(tokens, ARRAY(Text)))
    return and_(contains, func.lower(name_col).like(pattern, escape="\\"))


def name_rank(name_col: Any, q: str) -> ColumnElement[int]:
    """0 exact, 1 prefix, 2 elsewhere in the name."""
    q = q.strip().lower()
    return case(
        (func.lower(name_col) == q, 0),
        (func.lower(name_col).like(_escape_like(q) + "%", escape="\\"), 1),
        else_=2,
    )
