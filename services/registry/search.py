"""Chinese name search on the `name_tokens` GIN index (core Postgres, no pg_trgm).

`name_tokens(name)` holds the name's characters and character bigrams. A query of one
character looks for that character, a longer one for all its bigrams (`@>` uses the GIN index);
`LIKE` then rechecks the exact substring. Results rank exact matches first, then prefixes.

Enterprises (a small table) sort all matches by `name_rank`; workers (millions) read each match
class in index order and stop when the page is full (`search_page`, below).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Integer,
    Select,
    Uuid,
    and_,
    case,
    column,
    func,
    literal,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Text

from shared.pagination import bad_cursor_problem, decode_cursor, encode_cursor


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


# -- ordered search (workers) -------------------------------------------------------------------
#
# Sorting every match by rank is what made a common surname slow: `王` matches 2.6% of the
# workers (26,000 at 1M, 260,000 at 10M) and all of them were fetched and sorted to show 50.
# `search_page` instead reads each match class in the order of an index and stops when the page
# is full:
#   0 exact      lower(name) = q                      btree (name_key, id): equality, by id
#   1 prefix     q < name_key < q with its last        the same btree: one range scan, in order
#                character + 1 (C collation)
#   2 elsewhere  name_tokens @> tokens AND LIKE %q%    GIN bitmap + top-N sort for rare terms, or
#                and not a prefix                      the btree in order with a filter for common
#                                                      ones (the planner picks from the statistics)
# Within a class rows are ordered by (name_key, id); the classes are UNION ALL branches, each
# ORDER BY ... LIMIT page + 1, under one outer LIMIT. A non-parallel Append returns its branches
# one after the other and stops pulling when the LIMIT is met, so a branch after a full page is
# never executed (a per-branch LIMIT cannot be a partial path, so the Append is never parallel).
# The cursor carries (class, name_key, id): page 2 continues inside the class it stopped in.

#: The sort key of a name within a match class: code point order, as the index stores it.
SEARCH_COLLATION = "C"


class MatchClass(IntEnum):
    exact = 0
    prefix = 1
    elsewhere = 2


def name_key(name_col: Any) -> ColumnElement[str]:
    """`lower(name) COLLATE "C"`: the expression of the `ix_workers_name_key` btree."""
    return func.lower(name_col).collate(SEARCH_COLLATION)


def prefix_upper_bound(q: str) -> str | None:
    """The smallest string above every string starting with `q`, in code point order (`q` with
    its last character incremented), or None when there is none."""
    for cut in range(len(q) - 1, -1, -1):
        code = ord(q[cut]) + 1
        if 0xD800 <= code <= 0xDFFF:  # surrogates cannot be sent: skip to the next scalar value
            code = 0xE000
        if code <= 0x10FFFF:
            return q[:cut] + chr(code)
    return None


def class_condition(
    match: MatchClass, name_col: Any, tokens_col: Any, q: str
) -> ColumnElement[bool]:
    """The rows of one match class for the normalised term `q` (see `normalise`)."""
    key = name_key(name_col)
    upper = prefix_upper_bound(q)
    if match is MatchClass.exact:
        return key == q
    if match is MatchClass.prefix:
        return and_(key > q, key < upper) if upper is not None else key > q
    not_prefix = or_(key < q, key >= upper) if upper is not None else key < q
    return and_(name_matches(name_col, tokens_col, q), not_prefix)


def normalise(q: str) -> str:
    return q.strip().lower()


#: Types of the cursor values of a search page: (class, name_key, id).
SEARCH_CURSOR_COLUMNS = (
    column("rank", Integer()),
    column("name_key", Text()),
    column("id", Uuid()),
)


def search_statement(
    base: Select[Any],
    name_col: Any,
    tokens_col: Any,
    id_col: Any,
    q: str,
    *,
    limit: int,
    after: Sequence[Any] | None = None,
) -> Select[Any]:
    """`base` (the columns and filters of a list, no ORDER BY) restricted to names matching `q`,
    one UNION ALL branch per match class from the cursor's class on, each in index order, with
    `rank` and `name_key` columns added; at most `limit` rows."""
    q = normalise(q)
    key = name_key(name_col)
    branches = []
    for match in MatchClass:
        if after is not None and match < after[0]:
            continue
        branch = base.add_columns(
            literal(int(match), Integer()).label("rank"), key.label("name_key")
        ).where(class_condition(match, name_col, tokens_col, q))
        if after is not None and match == after[0]:
            branch = branch.where(
                tuple_(key, id_col)
                > tuple_(literal(after[1], Text()).collate(SEARCH_COLLATION), literal(after[2]))
            )
        branches.append(branch.order_by(key, id_col).limit(limit))
    union = union_all(*branches).subquery("matches")
    return select(union).limit(limit)


async def search_page(
    session: AsyncSession,
    base: Select[Any],
    name_col: Any,
    tokens_col: Any,
    id_col: Any,
    q: str,
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[Any], str | None]:
    """One page of a name search (rows of `base`'s columns plus `rank` and `name_key`) and the
    signed cursor of the next page (shared.pagination), like `keyset_rows`."""
    after = decode_cursor(cursor, SEARCH_CURSOR_COLUMNS) if cursor else None
    if after is not None and not 0 <= after[0] <= max(MatchClass):
        raise bad_cursor_problem()
    stmt = search_statement(base, name_col, tokens_col, id_col, q, limit=limit + 1, after=after)
    rows = list((await (await session.connection()).execute(stmt)).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([last.rank, last.name_key, last.id])
    return rows, next_cursor
