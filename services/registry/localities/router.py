"""Locality endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from services.registry.localities import schemas, service
from shared.auth.deps import Admin, RegistryReader
from shared.db import SessionDep
from shared.errors import error_responses
from shared.models.registry import LocalityLevel
from shared.pagination import CursorQuery, LimitQuery, Page

router = APIRouter(prefix="/v1/localities", tags=["localities"])

CodePath = Annotated[
    str, Path(pattern=r"^\d{6}$", description="GB/T 2260 code.", examples=["370100"])
]


@router.get(
    "",
    response_model=Page[schemas.Locality],
    summary="List localities",
    responses=error_responses(401, 422),
)
async def list_localities(
    session: SessionDep,
    _: RegistryReader,
    level: Annotated[LocalityLevel | None, Query(description="Only this level.")] = None,
    parent_code: Annotated[
        str | None, Query(pattern=r"^\d{6}$", description="Only children of this locality.")
    ] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.Locality]:
    """Shandong (370000), its 16 prefecture-level cities and its 136 county-level divisions
    (GB/T 2260, all seeded), plus any functional areas an admin added, ordered by code.
    Filter with `level=city` or `parent_code=370100`."""
    return await service.list_localities(
        session, level=level, parent_code=parent_code, limit=limit, cursor=cursor
    )


@router.get(
    "/{code}",
    response_model=schemas.Locality,
    summary="Get a locality",
    responses=error_responses(401, 404, 422),
)
async def get_locality(session: SessionDep, _: RegistryReader, code: CodePath) -> schemas.Locality:
    """One locality by its six-digit GB/T 2260 code."""
    return schemas.Locality.model_validate(await service.get(session, code))


@router.post(
    "",
    operation_id="createLocality",
    response_model=schemas.Locality,
    status_code=201,
    summary="Add a county",
    responses=error_responses(401, 403, 409, 422),
)
async def add_county(
    session: SessionDep, principal: Admin, data: schemas.CountyCreate
) -> schemas.Locality:
    """Admins add county-level divisions under a city; the code must follow GB/T 2260 (its first
    four digits are the city's)."""
    return schemas.Locality.model_validate(await service.add_county(session, data, principal))
