"""Cursor (keyset) pagination: `?limit=50&cursor=...` answering `{"items": [...], "next_cursor"}`.

The cursor is an opaque base64url token holding the sort key of the last item returned, so
pages stay stable while rows are inserted and each page costs one index range scan.

A cursor comes back from the client, so it is untrusted input, checked twice before any of it
reaches SQL:
- it is signed: an HMAC-SHA256 tag (truncated to 128 bits) over its content, with the cursor
  key (CURSOR_KEY, else KEY_DIR/cursor.key, generated on first run; share it between replicas);
  an edited, made-up or foreign cursor is refused without being parsed further;
- every value is checked against the type of the column it is compared with (integers in the
  column's range, finite numbers, timezone-aware timestamps, UUIDs, enum members, strings
  without NUL), so even a cursor signed with a leaked key cannot reach the database with a
  value of the wrong type.
Either failure is a 422 problem naming the `cursor` query parameter ("start again without it").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    Integer,
    Numeric,
    Select,
    SmallInteger,
    String,
    Uuid,
    literal,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.types import TypeEngine

from shared.crypto import load_secret_file
from shared.errors import FieldError, InvalidInput

T = TypeVar("T")

LimitQuery = Annotated[int, Query(ge=1, le=200, description="Page size (1-200).", examples=[50])]
CursorQuery = Annotated[
    str | None,
    Query(description="`next_cursor` of the previous page; omit for the first page."),
]

CURSOR_KEY_FILE = "cursor.key"
#: Far longer than any cursor we issue (a few sort keys); longer ones are refused unread.
MAX_CURSOR_CHARS = 1024
#: Bytes of the HMAC-SHA256 tag kept in a cursor: 128 bits, out of reach of guessing.
TAG_BYTES = 16
#: Longest string sort key accepted from a cursor when the column declares no length.
MAX_STRING_CHARS = 512


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` to get the next page; null on the last page."
    )


class BadCursor(ValueError):
    """A cursor this API did not issue, or whose values do not fit the listing's sort key."""


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    # Strict: characters outside the base64url alphabet are an error, not skipped.
    try:
        standard = text.translate(_URLSAFE_TO_STANDARD) + "=" * (-len(text) % 4)
        return base64.b64decode(standard.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError) as exc:
        raise BadCursor("not base64url") from exc


_URLSAFE_TO_STANDARD = str.maketrans("-_+/", "+/-_")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    return value


class CursorCodec:
    """Signs and checks cursors with one key (the deployment's, or another in tests)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the cursor key must be at least 32 bytes")
        # A key of its own, derived for this one use.
        self._key = hmac.digest(key, b"skills/pagination-cursor/v1", hashlib.sha256)

    def _tag(self, payload: bytes) -> bytes:
        return hmac.digest(self._key, payload, hashlib.sha256)[:TAG_BYTES]

    def encode(self, values: Sequence[Any]) -> str:
        return self.sign(
            json.dumps(
                [_plain(v) for v in values], separators=(",", ":"), ensure_ascii=False
            ).encode()
        )

    def sign(self, payload: bytes) -> str:
        """A cursor carrying `payload` as is (tests sign hostile payloads with it)."""
        return _b64encode(self._tag(payload) + payload)

    def decode(self, cursor: str, columns: Sequence[Any]) -> list[Any]:
        """The values of a cursor this codec signed, typed for `columns`; `BadCursor` else."""
        if len(cursor) > MAX_CURSOR_CHARS:
            raise BadCursor("too long")
        raw = _b64decode(cursor)
        if _b64encode(raw) != cursor:  # one cursor, one spelling (no padding or spare bits)
            raise BadCursor("not canonical base64url")
        tag, payload = raw[:TAG_BYTES], raw[TAG_BYTES:]
        if len(tag) != TAG_BYTES or not hmac.compare_digest(tag, self._tag(payload)):
            raise BadCursor("bad signature")
        try:
            values = json.loads(payload)
        except (ValueError, RecursionError) as exc:  # we never sign anything else
            raise BadCursor("not JSON") from exc
        return typed_values(values, columns)


def typed_values(values: Any, columns: Sequence[Any]) -> list[Any]:
    """`values` (decoded JSON) as Python values of the types of `columns`, or `BadCursor`."""
    if not isinstance(values, list) or len(values) != len(columns):
        raise BadCursor("wrong number of values")
    return [_typed(column.type, value) for column, value in zip(columns, values, strict=True)]


#: Inclusive bounds of Postgres' integer types (a bigger Python int fails in the driver).
_INT_BOUNDS: list[tuple[type[TypeEngine[Any]], int]] = [
    (SmallInteger, 2**15),
    (BigInteger, 2**63),
    (Integer, 2**31),
]


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit or "\x00" in value:
        raise BadCursor("not a string")
    try:
        value.encode("utf-8")  # lone surrogates from JSON escapes cannot be sent
    except UnicodeEncodeError as exc:
        raise BadCursor("not UTF-8") from exc
    return value


def _typed(column_type: TypeEngine[Any], value: Any) -> Any:
    # Order matters: Enum is a String, BigInteger and SmallInteger are Integers, Float a Numeric.
    if isinstance(column_type, Boolean):
        if not isinstance(value, bool):
            raise BadCursor("not a boolean")
        return value
    if isinstance(column_type, Integer):
        if not isinstance(value, int) or isinstance(value, bool):
            raise BadCursor("not an integer")
        bound = next(b for kind, b in _INT_BOUNDS if isinstance(column_type, kind))
        if not -bound <= value < bound:
            raise BadCursor("integer out of range")
        return value
    if isinstance(column_type, Float):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise BadCursor("not a number")
        if not math.isfinite(value):
            raise BadCursor("not a finite number")
        return float(value)
    if isinstance(column_type, Numeric):
        # Written as a string (JSON floats would lose digits).
        if not isinstance(value, str) or len(value) > 64:
            raise BadCursor("not a decimal")
        try:
            number = Decimal(value)
        except InvalidOperation as exc:
            raise BadCursor("not a decimal") from exc
        if not number.is_finite():
            raise BadCursor("not a finite decimal")
        return number
    if isinstance(column_type, DateTime):
        text = _text(value, 64)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError as exc:
            raise BadCursor("not a timestamp") from exc
        if column_type.timezone and moment.tzinfo is None:
            raise BadCursor("timestamp without offset")
        return moment
    if isinstance(column_type, Date):
        try:
            return date.fromisoformat(_text(value, 16))
        except ValueError as exc:
            raise BadCursor("not a date") from exc
    if isinstance(column_type, Uuid):
        text = _text(value, 36)
        try:
            return uuid.UUID(text)
        except ValueError as exc:
            raise BadCursor("not a UUID") from exc
    if isinstance(column_type, Enum):
        if not isinstance(value, str) or value not in column_type.enums:
            raise BadCursor("not a member of the enumeration")
        enum_class = column_type.enum_class
        if enum_class is not None:
            return next(m for m in enum_class if getattr(m, "value", None) == value)
        return value
    if isinstance(column_type, String):
        return _text(value, column_type.length or MAX_STRING_CHARS)
    # A sort key of a type not handled above would let anything through: refuse rather
    # than guess (a listing sorted by such a column needs a branch here).
    raise BadCursor(f"cannot check values of type {column_type!r}")


def load_cursor_key(cursor_key: str | None, key_dir: Path) -> bytes:
    """CURSOR_KEY (base64), else KEY_DIR/cursor.key, made on first start."""
    if cursor_key:
        try:
            return base64.b64decode(cursor_key, validate=True)
        except binascii.Error as exc:
            raise ValueError("CURSOR_KEY must be base64") from exc
    return load_secret_file(key_dir / CURSOR_KEY_FILE)


# One service per process in production (shared.serve): the codec is the process's. The
# in-process tests run the three apps with one key dir, hence one key.
_codec: CursorCodec | None = None


def configure_cursors(key: bytes) -> None:
    """Sign and check cursors with `key` from now on (called when a service app is made)."""
    global _codec
    _codec = CursorCodec(key)


def _current_codec() -> CursorCodec:
    if _codec is None:
        raise RuntimeError("cursor key not configured: call configure_cursors() at start-up")
    return _codec


def encode_cursor(values: Sequence[Any]) -> str:
    return _current_codec().encode(values)


def bad_cursor_problem() -> InvalidInput:
    return InvalidInput(
        "The cursor is not one this API issued; start again without it.",
        errors=[FieldError(field="cursor", location="query", message="invalid cursor")],
    )


def decode_cursor(cursor: str, columns: Sequence[Any]) -> list[Any]:
    """Check a cursor and decode it; `columns` (ORM attributes or typed SQL expressions) give
    the types. A cursor that fails either check is a 422 naming `cursor`."""
    try:
        return _current_codec().decode(cursor, columns)
    except BadCursor as exc:
        raise bad_cursor_problem() from exc


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
