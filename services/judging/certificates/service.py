"""Certificates: reading (organisers of the stage, and the holder), public verification by code,
revocation by admins. Certificates are issued by award planning (awards.service)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.judging.awards.service import normalise_code
from services.judging.certificates import schemas
from shared import audit
from shared.auth.principal import Principal, Role
from shared.errors import Conflict, NotFound
from shared.models.judging import Certificate

SERVICE = "judging"


def verify_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/v1/certificates:verify?{urlencode({'code': code})}"


def present(certificate: Certificate, base_url: str) -> schemas.Certificate:
    data = {
        k: getattr(certificate, k) for k in schemas.Certificate.model_fields if k != "verify_url"
    }
    return schemas.Certificate(**data, verify_url=verify_url(base_url, certificate.code))


def mask_name(name: str) -> str:
    """张卫国 -> 张*国, 张伟 -> 张*, 欧阳海峰 -> 欧**峰."""
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def is_holder(principal: Principal, certificate: Certificate) -> bool:
    return principal.role is Role.worker and principal.worker_id == certificate.worker_id


async def get_certificate(
    session: AsyncSession, certificate_id: uuid.UUID, *, for_update: bool = False
) -> Certificate:
    found = await session.get(Certificate, certificate_id, with_for_update=for_update or None)
    if found is None:
        raise NotFound(f"No certificate with id {certificate_id}.")
    return found


async def verify(session: AsyncSession, code: str) -> schemas.Verification:
    """Anyone with the code: valid or revoked, with the holder's name masked; 404 otherwise."""
    normalised = normalise_code(code)
    certificate = await session.scalar(select(Certificate).where(Certificate.code == normalised))
    if certificate is None:
        raise NotFound("No certificate has this verification code; check it was typed as printed.")
    return schemas.Verification(
        status="revoked" if certificate.revoked_at else "valid",
        code=certificate.code,
        holder=mask_name(certificate.worker_name),
        competition_name=certificate.competition_name,
        event_name=certificate.event_name,
        stage_name=certificate.stage_name,
        award_title=certificate.award_title,
        issued_on=certificate.issued_on,
        revoked_on=certificate.revoked_at.date() if certificate.revoked_at else None,
    )


async def revoke(
    session: AsyncSession, certificate: Certificate, reason: str, principal: Principal
) -> Certificate:
    if certificate.revoked_at is not None:
        raise Conflict(
            f"Certificate {certificate.id} was revoked on {certificate.revoked_at.date()}."
        )
    certificate.revoked_at = datetime.now(UTC)
    certificate.revoked_by = principal.sub
    certificate.revoke_reason = reason
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="certificate.revoked",
        entity_type="certificate",
        entity_id=certificate.id,
        before={"revoked_at": None},
        after={"revoked_at": certificate.revoked_at.isoformat(), "reason": reason},
    )
    return certificate
