"""Optimistic concurrency for contested records, one rule everywhere.

Every GET and every write of a contested record answers its `ETag`. A request that changes a
record which exists must send that ETag back as `If-Match`: without it the answer is 428
(Precondition Required), with a stale one 412 (Precondition Failed); nothing is written in
either case. A record that was never saved (version 0: a score sheet not yet scored, result
rules still at their defaults, a stage with no schedule) may be written without `If-Match`,
or with the ETag its GET answered. `If-Match: *` means "whatever is current" (RFC 9110).

Transitions named by their action (activate a mentorship, submit a score sheet, decide an
appeal, approve an entry) are guarded by the record's state instead: a transition the record
has moved past is a 409. They take `TransitionIfMatchHeader`, optional, checked when sent (412).

`IfMatchHeader` is the one declaration of the header: the app factory marks it required in
OpenAPI and declares the 412 and 428 answers on every operation that takes it (412 only for
`TransitionIfMatchHeader`).
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Header

from shared.errors import FieldError, InvalidInput, PreconditionFailed, PreconditionRequired

IF_MATCH = "If-Match"
#: An entity tag as RFC 9110 writes it (after any `W/`): a quoted string.
ETAG = re.compile(r'"[\x21\x23-\x7e]*"')

IfMatchHeader = Annotated[
    str | None,
    Header(
        alias=IF_MATCH,
        description="The `ETag` you read. Required to change a record that exists: 428 without "
        "it, 412 if the record changed since. Only a record never saved (its GET answered "
        'ETag `"0"`) may be written without it.',
        examples=['"3"'],
    ),
]


#: Marks the optional variant in the parameter's schema; the app factory removes the mark.
OPTIONAL_MARK = "x-if-match-optional"

TransitionIfMatchHeader = Annotated[
    str | None,
    Header(
        alias=IF_MATCH,
        description="Optional: the `ETag` you read; the transition is refused with 412 if the "
        "record changed since. Without it, the record's state alone decides (409 when the "
        "transition no longer applies).",
        examples=['"3"'],
        json_schema_extra={OPTIONAL_MARK: True},
    ),
]


def etag(version: int) -> str:
    return f'"{version}"'


def check_if_match(if_match: str | None, version: int) -> None:
    """Refuse the write unless `if_match` names `version` (0: never saved, nothing to match)."""
    check_if_match_tag(if_match, etag(version), exists=version > 0)


def check_transition_if_match(if_match: str | None, version: int) -> None:
    """For a state-guarded transition: `If-Match` checked when sent (412), else no check."""
    check_if_match_tag(if_match, etag(version), exists=False)


def check_if_match_tag(if_match: str | None, current: str, *, exists: bool = True) -> None:
    """The rule for any ETag (a version, or a digest such as a schedule's)."""
    if if_match is None:
        if exists:
            raise PreconditionRequired(
                f"Send If-Match: {current} (the ETag you read) to change this record; read it "
                "again first if you have no ETag.",
                current_etag=current,
                headers={"ETag": current},
            )
        return
    if if_match.strip() == "*":
        return
    candidates = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if not all(ETAG.fullmatch(tag) for tag in candidates):
        raise InvalidInput(
            f"If-Match must be an ETag this API sent, such as {current} (quotes included).",
            errors=[FieldError(field=IF_MATCH, location="header", message="not an ETag")],
        )
    if current not in candidates:
        raise PreconditionFailed(
            f"The record has changed since you read it (now {current}); read it again and retry "
            f"with If-Match: {current}.",
            current_etag=current,
            headers={"ETag": current},
        )
