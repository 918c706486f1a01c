"""The cursor codec on its own (shared/pagination.py): signed, canonical and typed per column.

Every list endpoint is attacked through HTTP in tests/security/test_forged_cursors.py; these
properties pin the codec itself, for every column type a listing may sort by.
"""

from __future__ import annotations

import enum
import json
import math
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    Uuid,
)

from shared.models.base import str_enum
from shared.pagination import BadCursor, CursorCodec


class Colour(enum.StrEnum):
    red = "red"
    blue = "blue"


COLUMNS = {
    "small": Column("small", SmallInteger),
    "int": Column("int", Integer),
    "big": Column("big", BigInteger),
    "float": Column("float", Float),
    "numeric": Column("numeric", Numeric(10, 2)),
    "at": Column("at", DateTime(timezone=True)),
    "day": Column("day", Date),
    "id": Column("id", Uuid),
    "colour": Column("colour", str_enum(Colour)),
    "code": Column("code", String(6)),
    "text": Column("text", Text),
    "flag": Column("flag", Boolean),
}
#: A valid value of each column, as a listing would hold it.
VALID: dict[str, st.SearchStrategy[Any]] = {
    "small": st.integers(-(2**15), 2**15 - 1),
    "int": st.integers(-(2**31), 2**31 - 1),
    "big": st.integers(-(2**63), 2**63 - 1),
    "float": st.floats(allow_nan=False, allow_infinity=False),
    "numeric": st.decimals(
        allow_nan=False, allow_infinity=False, places=2, max_value=10**7, min_value=-(10**7)
    ),
    "at": st.datetimes(timezones=st.just(UTC)),
    "day": st.dates(),
    "id": st.uuids(),
    "colour": st.sampled_from(list(Colour)),
    "code": st.text(
        st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=6
    ),
    "text": st.text(
        st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=50
    ),
    "flag": st.booleans(),
}
PYTHON_TYPES = {
    "small": int,
    "int": int,
    "big": int,
    "float": float,
    "numeric": Decimal,
    "at": datetime,
    "day": date,
    "id": uuid.UUID,
    "colour": Colour,
    "code": str,
    "text": str,
    "flag": bool,
}
codec = CursorCodec(b"k" * 32)
other = CursorCodec(b"o" * 32)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(names=st.lists(st.sampled_from(sorted(COLUMNS)), min_size=1, max_size=3), data=st.data())
def test_valid_sort_keys_round_trip(names: list[str], data: st.DataObject) -> None:
    columns = [COLUMNS[n] for n in names]
    values = [data.draw(VALID[n]) for n in names]
    decoded = codec.decode(codec.encode(values), columns)
    for name, value, back in zip(names, values, decoded, strict=True):
        assert type(back) is PYTHON_TYPES[name]
        assert back == value


@settings(max_examples=500, deadline=None)
@given(
    names=st.lists(st.sampled_from(sorted(COLUMNS)), min_size=1, max_size=3), payload=json_values
)
def test_any_signed_json_is_typed_or_refused(names: list[str], payload: Any) -> None:
    """Even a cursor signed with the right key (a leaked key, a bug) cannot carry a value of the
    wrong type: it decodes to the column's Python type or is a BadCursor, nothing else."""
    columns = [COLUMNS[n] for n in names]
    raw = json.dumps(payload).encode()
    try:
        decoded = codec.decode(codec.sign(raw), columns)
    except BadCursor:
        return
    for name, back in zip(names, decoded, strict=True):
        assert type(back) is PYTHON_TYPES[name]
        if isinstance(back, float):
            assert math.isfinite(back)


@settings(max_examples=300, deadline=None)
@given(cursor=st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.hex()))
def test_arbitrary_text_is_refused(cursor: str) -> None:
    with pytest.raises(BadCursor):
        codec.decode(cursor, [COLUMNS["at"], COLUMNS["id"]])


@settings(max_examples=200, deadline=None)
@given(at=VALID["at"], ident=st.uuids(), data=st.data())
def test_edited_or_foreign_cursors_are_refused(
    at: datetime, ident: uuid.UUID, data: st.DataObject
) -> None:
    columns = [COLUMNS["at"], COLUMNS["id"]]
    real = codec.encode([at, ident])
    i = data.draw(st.integers(0, len(real) - 1))
    c = data.draw(st.sampled_from("AQgw-_09"))
    edited = real[:i] + c + real[i + 1 :]
    if edited != real:
        with pytest.raises(BadCursor):
            codec.decode(edited, columns)
    with pytest.raises(BadCursor):
        codec.decode(other.encode([at, ident]), columns)


def test_the_issue_s_cursors_are_refused() -> None:
    for cursor in (
        "WyIyMDI2LTEyLTAyVDE0OjI5OjE2LjIwNTM3NiswMDowMCIsMTIzXQ",
        "WzEyM10",
        "W1sxXV0",
    ):
        with pytest.raises(BadCursor):
            codec.decode(cursor, [COLUMNS["at"], COLUMNS["id"]])
    # Signed, the same contents are still refused by type.
    with pytest.raises(BadCursor):
        codec.decode(
            codec.sign(b'["2026-12-02T14:29:16.205376+00:00",123]'), [COLUMNS["at"], COLUMNS["id"]]
        )
    with pytest.raises(BadCursor):
        codec.decode(codec.sign(b"[123]"), [COLUMNS["code"]])
    with pytest.raises(BadCursor):
        codec.decode(codec.sign(b"[[1]]"), [COLUMNS["big"]])
    with pytest.raises(BadCursor):  # a timestamp without offset, for a timestamptz
        codec.decode(codec.sign(b'["2026-12-02T14:29:16"]'), [COLUMNS["at"]])
    with pytest.raises(BadCursor):  # out of a 32-bit integer's range
        codec.decode(codec.sign(b"[2147483648]"), [COLUMNS["int"]])
