"""Optimistic concurrency for contested records: `ETag` out, `If-Match` in, 412 when stale."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

from shared.errors import PreconditionFailed

IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The `ETag` you read. The update is refused with 412 if the record changed "
        "since; omit to update unconditionally.",
        examples=['"3"'],
    ),
]


def etag(version: int) -> str:
    return f'"{version}"'


def check_if_match(if_match: str | None, version: int) -> None:
    if if_match is None or if_match.strip() == "*":
        return
    candidates = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if etag(version) not in candidates:
        raise PreconditionFailed(
            f"The record has changed (now version {version}); read it again and retry with "
            f"If-Match: {etag(version)}.",
            current_etag=etag(version),
        )
