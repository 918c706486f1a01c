"""Cursor (keyset) pagination: `?limit=50&cursor=...` answering `{"items": [...], "next_cursor"}`.

The cursor is an opaque base64url token holding the sort key of the last item returned, so
pages stay stable while rows are inserted and each page costs one index range scan.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import DateTime, Select, Uuid, literal, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from shared.errors import FieldError, InvalidInput

T = TypeVar("T")

LimitQuery = Annotated[int, Query(ge=1, le=200, description="Page size (1-200).", examples=[50])]
CursorQuery = Annotated[
    str | None,
    Query(description="`next_cursor` of the previous page; omit for the first page."),
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` to get the next page; null on the last page."
    )


def encode_cursor(values: Sequence[Any]) -> str:
    plain = [
        v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, uuid.UUID) else v
        for v in values
    ]
    raw = json.dumps(plain, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _bad_cursor() -> InvalidInput:
    return InvalidInput(
        "The cursor is not one this API issued; start again without it.",
        errors=[FieldError(field="cursor", location="query", message="invalid cursor")],
    )


def decode_cursor(cursor: str, columns: Sequence[Any]) -> list[Any]:
    """Decode a cursor; `columns` (ORM attributes or typed SQL expressions) give the types."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except ValueError as exc:
        raise _bad_cursor() from exc
    if not isinstance(values, list) or len(values) != len(columns):
        raise _bad_cursor()
    out: list[Any] = []
    for column, value in zip(columns, values, strict=True):
        try:
            if isinstance(column.type, DateTime):
                out.append(datetime.fromisoformat(value))
            elif isinstance(column.type, Uuid):
                out.append(uuid.UUID(value))
            else:
                out.append(value)
        except (TypeError, ValueError) as exc:
            raise _bad_cursor() from exc
    return out


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    *,
    order_by: Sequence[InstrumentedAttribute[Any]],
    limit: int,
    cursor: str | None,
    transform: Callable[[Any], T],
) -> Page[T]:
    """Page through `stmt` ordered ascending by `order_by` (the last column must be unique)."""
    if cursor:
        values = decode_cursor(cursor, order_by)
        stmt = stmt.where(
            tuple_(*order_by)
            > tuple_(*[literal(v, c.type) for c, v in zip(order_by, values, strict=True)])
        )
    rows = (await session.scalars(stmt.order_by(*order_by).limit(limit + 1))).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([getattr(last, c.key) for c in order_by])
    return Page[T](items=[transform(r) for r in rows], next_cursor=next_cursor)


async def keyset_rows(
    session: AsyncSession,
    stmt: Select[*tuple[Any, ...]],
    *,
    order_by: Sequence[Any],
    limit: int,
    cursor: str | None,
    key: Callable[[Any], Sequence[Any]],
    core: bool = False,
) -> tuple[list[Any], str | None]:
    """One page of rows and the cursor of the next, for callers that shape items themselves
    (for example in one batch, to avoid a query per item). `core=True` runs a statement of
    columns (no entities) on the session's connection, skipping the ORM's result handling."""
    if cursor:
        values = decode_cursor(cursor, order_by)
        stmt = stmt.where(
            tuple_(*order_by)
            > tuple_(*[literal(v, c.type) for c, v in zip(order_by, values, strict=True)])
        )
    stmt = stmt.order_by(*order_by).limit(limit + 1)
    if core:
        rows = list((await (await session.connection()).execute(stmt)).all())
    else:
        rows = list((await session.execute(stmt)).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(list(key(rows[-1])))
    return rows, next_cursor


async def paginate_rows(
    session: AsyncSession,
    stmt: Select[*tuple[Any, ...]],
    *,
    order_by: Sequence[Any],
    limit: int,
    cursor: str | None,
    key: Callable[[Any], Sequence[Any]],
    transform: Callable[[Any], T],
) -> Page[T]:
    """Like `paginate`, for statements returning rows (an entity plus computed columns such as
    a search rank); `key(row)` gives the row's values of `order_by`."""
    rows, next_cursor = await keyset_rows(
        session, stmt, order_by=order_by, limit=limit, cursor=cursor, key=key
    )
    return Page[T](items=[transform(r) for r in rows], next_cursor=next_cursor)
