"""Certificate endpoints: list per stage, read, PDF with QR code, public verification,
revocation."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import select

from services.judging.access import check_stage_manager
from services.judging.certificates import pdf, schemas, service
from services.judging.upstream import UpstreamDep
from shared.auth.deps import Admin, AdminOrOrganiser, require
from shared.auth.principal import Principal, Role
from shared.db import SessionDep
from shared.errors import Forbidden, error_responses
from shared.models.judging import Certificate
from shared.pagination import CursorQuery, LimitQuery, Page, paginate
from shared.ratelimit import per_client
from shared.responses import file_download

router = APIRouter(prefix="/v1", tags=["certificates"])

#: Public and unauthenticated: a limit per address (in the database, so shared by replicas)
#: keeps anyone from walking the code space or loading the database through it.
verify_rate_limit = per_client(
    "certificates.verify",
    lambda r: r.app.state.settings.certificate_verify_rate_limit,
    lambda r: r.app.state.settings.rate_limit_window_seconds,
)

#: Organisers of the stage, and the holder (a worker account) for their own certificate.
CertificateReader = Annotated[Principal, Depends(require(Role.admin, Role.organiser, Role.worker))]


def _base_url(request: Request) -> str:
    url: str = request.app.state.settings.certificate_verify_base_url
    return url


async def _readable(
    session: SessionDep,
    upstream: UpstreamDep,
    principal: CertificateReader,
    certificate_id: uuid.UUID,
) -> Certificate:
    certificate = await service.get_certificate(session, certificate_id)
    if not service.is_holder(principal, certificate):
        if principal.role is Role.worker:
            raise Forbidden("A worker may read only their own certificates.")
        check_stage_manager(principal, await upstream.stage(certificate.stage_id))
    return certificate


ReadableCertificate = Annotated[Certificate, Depends(_readable)]


@router.get(
    "/certificates:verify",
    response_model=schemas.Verification,
    summary="Verify a certificate (public)",
    responses=error_responses(404, 422, 429),
    dependencies=[Depends(verify_rate_limit)],
)
async def verify_certificate(
    session: SessionDep,
    code: Annotated[
        str,
        Query(
            min_length=12,
            max_length=40,
            pattern=r"^[A-Za-z0-9 -]+$",
            description="The code printed on the certificate (hyphens and case do not matter).",
            examples=["7KQ2-MZ9R-H4TX-WC3N"],
        ),
    ],
) -> schemas.Verification:
    """No sign-in: the QR code on every certificate opens this. Answers whether the certificate
    is `valid` or `revoked`, for which competition, event and award, and when it was issued;
    the holder's name is masked. 404 for a code no certificate has. More than
    `CERTIFICATE_VERIFY_RATE_LIMIT` requests from one address within
    `RATE_LIMIT_WINDOW_SECONDS` (counted across replicas) are answered 429 with `Retry-After`."""
    return await service.verify(session, code)


@router.get(
    "/stages/{stage_id}/certificates",
    response_model=Page[schemas.Certificate],
    summary="List a stage's certificates",
    responses=error_responses(401, 403, 404, 422, 502, 503, 504),
)
async def list_certificates(
    request: Request,
    session: SessionDep,
    upstream: UpstreamDep,
    principal: AdminOrOrganiser,
    stage_id: uuid.UUID,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.Certificate]:
    """Certificates issued for the stage's awards (issued when its awards are planned), in
    issue order. Organisers of the stage's competition only."""
    check_stage_manager(principal, await upstream.stage(stage_id))
    base = _base_url(request)
    return await paginate(
        session,
        select(Certificate).where(Certificate.stage_id == stage_id),
        order_by=[Certificate.created_at, Certificate.id],
        limit=limit,
        cursor=cursor,
        transform=lambda c: service.present(c, base),
    )


@router.get(
    "/certificates/{certificate_id}.pdf",
    operation_id="getCertificatePdf",
    summary="Download a certificate as PDF",
    response_class=Response,
    responses={
        **file_download("application/pdf", "The certificate (A4)."),
        **error_responses(401, 403, 404, 422, 502, 503, 504),
    },
)
async def certificate_pdf(request: Request, certificate: ReadableCertificate) -> Response:
    """The printable certificate in Chinese with its verification code and a QR code of the
    public verification URL. For organisers of the stage and for the holder. A revoked
    certificate still prints (its verification says revoked)."""
    url = service.verify_url(_base_url(request), certificate.code)
    body = await asyncio.to_thread(pdf.render, certificate, url)
    return Response(
        body,
        media_type="application/pdf",
        headers={"content-disposition": f'inline; filename="certificate-{certificate.id}.pdf"'},
    )


@router.get(
    "/certificates/{certificate_id}",
    response_model=schemas.Certificate,
    summary="Get a certificate",
    responses=error_responses(401, 403, 404, 422, 502, 503, 504),
)
async def get_certificate(
    request: Request, certificate: ReadableCertificate
) -> schemas.Certificate:
    """One certificate with its verification code and URL. For organisers of the stage and for
    the holder."""
    return service.present(certificate, _base_url(request))


@router.post(
    "/certificates/{certificate_id}:revoke",
    response_model=schemas.Certificate,
    summary="Revoke a certificate",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def revoke_certificate(
    request: Request,
    session: SessionDep,
    principal: Admin,
    certificate_id: uuid.UUID,
    data: schemas.CertificateRevoke,
) -> schemas.Certificate:
    """Admins revoke a certificate (a result annulled for misconduct...), with a reason; its
    verification then answers `revoked`. 409 when already revoked."""
    certificate = await service.get_certificate(session, certificate_id, for_update=True)
    await service.revoke(session, certificate, data.reason, principal)
    return service.present(certificate, _base_url(request))
