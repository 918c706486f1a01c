"""Chinese name search on the `name_tokens` GIN index (core Postgres, no pg_trgm).

`name_tokens(name)` holds the name's characters and character bigrams. A query of one
character looks for that character, a longer one for all its bigrams (`@>` uses the GIN index);
`LIKE` then rechecks the exact substring. Results rank exact matches first, then prefixes.

Enterprises (a small table) sort all matches by `name_rank`; workers (millions) read each match
class in index order and stop when the page is full (`search_page`, below).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    CompoundSelect,
    Integer,
    Select,
    Uuid,
    and_,
    bindparam,
    case,
    column,
    func,
    literal,
    literal_column,
    or_,
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
#   2 suffix     the same on reverse(lower(name)):     btree (suffix_key, id): one range scan, in
#                names ending in q, not a prefix        order (a given name: 建国 finds 王建国)
#   3 elsewhere  name_tokens @> tokens AND LIKE %q%    GIN bitmap + top-N sort for rare terms, or
#                and neither a prefix nor a suffix      the btree in order with a filter for common
#                                                      ones (the planner picks from the statistics)
# Within a class rows are ordered by (key, id): the name for exact, prefix and elsewhere, the
# reversed name for suffixes (for 王建国 under 建国: by what comes before the term, read from
# its end, i.e. by surname for a three-character name); the classes are UNION ALL branches, each
# ORDER BY ... LIMIT page + 1, under one outer LIMIT. A non-parallel Append returns its branches
# one after the other and stops pulling when the LIMIT is met, so a branch after a full page is
# never executed (a per-branch LIMIT cannot be a partial path, so the Append is never parallel).
# The cursor carries (class, name_key, id): page 2 continues inside the class it stopped in.

#: The sort key of a name within a match class: code point order, as the index stores it.
SEARCH_COLLATION = "C"


class MatchClass(IntEnum):
    exact = 0
    prefix = 1
    suffix = 2
    elsewhere = 3


def name_key(name_col: Any) -> ColumnElement[str]:
    """`lower(name) COLLATE "C"`: the expression of the `ix_workers_name_key` btree."""
    return func.lower(name_col).collate(SEARCH_COLLATION)


def suffix_key(name_col: Any) -> ColumnElement[str]:
    """`reverse(lower(name)) COLLATE "C"`: the expression of the `ix_workers_name_suffix` btree
    (names ending in a term are one range of it: those starting with the reversed term)."""
    return func.reverse(func.lower(name_col)).collate(SEARCH_COLLATION)


#: Above every name (at most 64 characters) that starts with a string of U+10FFFF: the upper
#: bound of such a prefix, which has no next string of its length.
BEYOND_ALL_NAMES = chr(0x10FFFF) * 65


def prefix_upper_bound(q: str) -> str:
    """The smallest string above every string starting with `q`, in code point order (`q` with
    its last character incremented), or BEYOND_ALL_NAMES when there is none."""
    for cut in range(len(q) - 1, -1, -1):
        code = ord(q[cut]) + 1
        if 0xD800 <= code <= 0xDFFF:  # surrogates cannot be sent: skip to the next scalar value
            code = 0xE000
        if code <= 0x10FFFF:
            return q[:cut] + chr(code)
    return BEYOND_ALL_NAMES


def normalise(q: str) -> str:
    return q.strip().lower()


#: Types of the cursor values of a search page: (class, key in the class's order, id).
SEARCH_CURSOR_COLUMNS = (
    column("rank", Integer()),
    column("name_key", Text()),
    column("id", Uuid()),
)


@dataclass(frozen=True)
class _Shape:
    """The parts of a search over one table, built once: the class conditions take the term
    through named bind parameters (`search_params`), so a request only assembles them (building
    the expressions per request cost more CPU than the query itself)."""

    columns: dict[MatchClass, tuple[ColumnElement[Any], ColumnElement[Any]]]
    conditions: dict[MatchClass, ColumnElement[bool]]
    after: dict[MatchClass, ColumnElement[bool]]
    order_by: dict[MatchClass, tuple[ColumnElement[Any], Any]]


@lru_cache(maxsize=8)
def _shape(name_col: Any, tokens_col: Any, id_col: Any) -> _Shape:
    key = name_key(name_col)
    rkey = suffix_key(name_col)
    q = bindparam("search_q", type_=Text())
    upper = bindparam("search_upper", type_=Text())
    rq = bindparam("search_rq", type_=Text())
    rupper = bindparam("search_rupper", type_=Text())
    tokens = bindparam("search_tokens", type_=ARRAY(Text()))
    like = bindparam("search_like", type_=Text())
    keys = {m: rkey if m is MatchClass.suffix else key for m in MatchClass}
    not_prefix = or_(key < q, key >= upper)
    after_key = bindparam("search_after_key", type_=Text()).collate(SEARCH_COLLATION)
    after_id = bindparam("search_after_id", type_=Uuid())
    return _Shape(
        columns={
            m: (literal_column(str(int(m)), Integer()).label("rank"), keys[m].label("name_key"))
            for m in MatchClass
        },
        conditions={
            MatchClass.exact: key == q,
            MatchClass.prefix: and_(key > q, key < upper),
            MatchClass.suffix: and_(rkey > rq, rkey < rupper, not_prefix),
            MatchClass.elsewhere: and_(
                tokens_col.op("@>", return_type=Boolean)(tokens),
                func.lower(name_col).like(like, escape="\\"),
                not_prefix,
                or_(rkey < rq, rkey >= rupper),
            ),
        },
        after={m: tuple_(keys[m], id_col) > tuple_(after_key, after_id) for m in MatchClass},
        order_by={m: (keys[m], id_col) for m in MatchClass},
    )


def search_params(q: str, after: Sequence[Any] | None = None) -> dict[str, Any]:
    """The bind values of `search_statement` for the term `q` (and the cursor's values)."""
    q = normalise(q)
    params: dict[str, Any] = {
        "search_q": q,
        "search_upper": prefix_upper_bound(q),
        "search_rq": q[::-1],
        "search_rupper": prefix_upper_bound(q[::-1]),
        "search_tokens": query_tokens(q),
        "search_like": f"%{_escape_like(q)}%",
    }
    if after is not None:
        params |= {"search_after_key": after[1], "search_after_id": after[2]}
    return params


def search_statement(
    base: Select[Any],
    name_col: Any,
    tokens_col: Any,
    id_col: Any,
    *,
    limit: int,
    after_class: int | None = None,
) -> Select[Any] | CompoundSelect:
    """`base` (the columns and filters of a list, no ORDER BY) restricted to names matching the
    term of `search_params`: one UNION ALL branch per match class from the cursor's class on,
    each in index order and limited, with `rank` and `name_key` columns added; at most `limit`
    rows. Exact: `name_key = q`; prefix: `q < name_key < upper`; suffix: the same range on the
    reversed name, outside the prefix range; elsewhere: the tokens and `LIKE %q%`, outside both."""
    shape = _shape(name_col, tokens_col, id_col)
    branches = []
    for match in MatchClass:
        if after_class is not None and match < after_class:
            continue
        branch = base.add_columns(*shape.columns[match]).where(shape.conditions[match])
        if after_class is not None and match == after_class:
            branch = branch.where(shape.after[match])
        branches.append(branch.order_by(*shape.order_by[match]).limit(limit))
    if len(branches) == 1:  # a cursor in the last class (one SELECT cannot take two LIMITs)
        return branches[0]
    # The LIMIT on the UNION itself, not on a SELECT around it as a subquery: the same plan,
    # without building a proxy of every column per request.
    return union_all(*branches).limit(limit)


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
    stmt = search_statement(
        base,
        name_col,
        tokens_col,
        id_col,
        limit=limit + 1,
        after_class=None if after is None else after[0],
    )
    params = search_params(q, after)
    rows = list((await (await session.connection()).execute(stmt, params)).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([last.rank, last.name_key, last.id])
    return rows, next_cursor
