"""Webhook subscriptions (admins: all; integration clients: their own), the delivery log,
redelivery and test pings. Sending is the dispatcher's job (`shared.webhooks`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.webhooks import schemas
from shared import audit, outbox
from shared.auth.principal import Principal
from shared.crypto import PersonalDataCipher
from shared.errors import Conflict, FieldError, InvalidInput, NotFound
from shared.models.webhooks import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from shared.pagination import Page, paginate
from shared.webhooks.audience import load_owners, missing_scopes
from shared.webhooks.signing import new_secret, seal_secret
from shared.webhooks.ssrf import UnsafeUrl, check_url

SERVICE = "registry"


def _snapshot(subscription: WebhookSubscription) -> dict[str, object]:
    return schemas.Subscription.model_validate(subscription).model_dump(mode="json")


async def _check_url(url: str, allowed_hosts: Sequence[str]) -> None:
    try:
        await check_url(url, allowed_hosts)
    except UnsafeUrl as exc:
        raise InvalidInput(
            f"The URL is refused: {exc}.", errors=[FieldError(field="url", message=str(exc))]
        ) from exc


async def _check_audience(session: AsyncSession, owner_sub: str, patterns: list[str]) -> None:
    """Refuse event types carrying facts the owner may not read (`shared.webhooks.audience`):
    judged by the owner's grant as stored, whoever makes the change."""
    owner = (await load_owners(session, [owner_sub])).get(owner_sub)
    if owner is None:  # cannot happen for a signed-in caller; refuse rather than guess
        raise InvalidInput(
            "The subscription's owner is unknown.",
            errors=[FieldError(field="event_types", message="the owner is unknown")],
        )
    refused = missing_scopes(patterns, owner)
    if refused:
        errors = [
            FieldError(
                field="event_types",
                message=f"`{pattern}` needs the read scope {' and '.join(scopes)}: "
                f"{owner.describe()}",
            )
            for pattern, scopes in refused.items()
        ]
        raise InvalidInput(
            "These event types carry facts the subscription's owner may not read: "
            + "; ".join(e.message for e in errors)
            + ". Subscribe to the families your scopes cover, or ask an admin for the scope.",
            errors=errors,
        )


async def create_subscription(
    session: AsyncSession,
    data: schemas.SubscriptionCreate,
    principal: Principal,
    allowed_hosts: Sequence[str],
    cipher: PersonalDataCipher,
) -> schemas.SubscriptionWithSecret:
    await _check_audience(session, principal.sub, data.event_types)
    await _check_url(data.url, allowed_hosts)
    subscription_id, secret = uuid.uuid4(), new_secret()
    subscription = WebhookSubscription(
        id=subscription_id,
        owner_sub=principal.sub,
        url=data.url,
        description=data.description,
        event_types=data.event_types,
        competition_id=data.competition_id,
        locality_code=data.locality_code,
        secret_enc=seal_secret(cipher, subscription_id, secret),
    )
    await audit.add_created(
        session,
        subscription,
        service=SERVICE,
        principal=principal,
        action="webhook_subscription.create",
        entity_type="webhook_subscription",
        after=lambda: _snapshot(subscription),
    )
    return schemas.SubscriptionWithSecret.model_validate(
        {**_snapshot(subscription), "secret": secret}
    )


async def get_subscription(
    session: AsyncSession, subscription_id: uuid.UUID, principal: Principal, *, lock: bool = False
) -> WebhookSubscription:
    """The subscription, if the caller manages it (admins manage all); else 404."""
    stmt = select(WebhookSubscription).where(WebhookSubscription.id == subscription_id)
    if lock:
        stmt = stmt.with_for_update()
    subscription = await session.scalar(stmt)
    if subscription is None or not (principal.is_admin or subscription.owner_sub == principal.sub):
        raise NotFound(f"No webhook subscription with id {subscription_id}.")
    return subscription


async def list_subscriptions(
    session: AsyncSession, principal: Principal, *, limit: int, cursor: str | None
) -> Page[schemas.Subscription]:
    stmt = select(WebhookSubscription)
    if not principal.is_admin:
        stmt = stmt.where(WebhookSubscription.owner_sub == principal.sub)
    return await paginate(
        session,
        stmt,
        order_by=[WebhookSubscription.created_at, WebhookSubscription.id],
        limit=limit,
        cursor=cursor,
        transform=schemas.Subscription.model_validate,
    )


async def update_subscription(
    session: AsyncSession,
    subscription_id: uuid.UUID,
    data: schemas.SubscriptionUpdate,
    principal: Principal,
    allowed_hosts: Sequence[str],
) -> WebhookSubscription:
    subscription = await get_subscription(session, subscription_id, principal, lock=True)
    before = _snapshot(subscription)
    fields = data.model_fields_set
    if data.url is not None:
        await _check_url(data.url, allowed_hosts)
        subscription.url = data.url
    if data.event_types is not None:
        await _check_audience(session, subscription.owner_sub, data.event_types)
        subscription.event_types = data.event_types
    if "description" in fields:
        subscription.description = data.description
    if "competition_id" in fields:
        subscription.competition_id = data.competition_id
    if "locality_code" in fields:
        subscription.locality_code = data.locality_code
    if data.is_active is not None:
        subscription.is_active = data.is_active
        if data.is_active:
            subscription.disabled_reason = None
    await session.flush()
    await session.refresh(subscription)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="webhook_subscription.update",
        entity_type="webhook_subscription",
        entity_id=subscription.id,
        before=before,
        after=_snapshot(subscription),
    )
    return subscription


async def delete_subscription(
    session: AsyncSession, subscription_id: uuid.UUID, principal: Principal
) -> None:
    """Delete it with its deliveries and their log (nothing more is sent)."""
    subscription = await get_subscription(session, subscription_id, principal, lock=True)
    before = _snapshot(subscription)
    await session.delete(subscription)
    await session.flush()
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="webhook_subscription.delete",
        entity_type="webhook_subscription",
        entity_id=subscription_id,
        before=before,
    )


async def rotate_secret(
    session: AsyncSession,
    subscription_id: uuid.UUID,
    data: schemas.SecretRotation,
    principal: Principal,
    cipher: PersonalDataCipher,
) -> schemas.SubscriptionWithSecret:
    """A new secret; the current one keeps signing too for `overlap_seconds`."""
    subscription = await get_subscription(session, subscription_id, principal, lock=True)
    if data.overlap_seconds:
        # Still sealed for this same row: moved as it is, never decrypted here.
        subscription.previous_secret_enc = subscription.secret_enc
        subscription.previous_secret_expires_at = datetime.now(UTC) + timedelta(
            seconds=data.overlap_seconds
        )
    else:
        subscription.previous_secret_enc = None
        subscription.previous_secret_expires_at = None
    secret = new_secret()
    subscription.secret_enc = seal_secret(cipher, subscription.id, secret)
    await session.flush()
    await session.refresh(subscription)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="webhook_subscription.rotate_secret",
        entity_type="webhook_subscription",
        entity_id=subscription.id,
        after={"previous_secret_expires_at": _snapshot(subscription)["previous_secret_expires_at"]},
    )
    return schemas.SubscriptionWithSecret.model_validate(
        {**_snapshot(subscription), "secret": secret}
    )


async def ping(
    session: AsyncSession, subscription_id: uuid.UUID, principal: Principal
) -> WebhookDelivery:
    """Queue a `webhook.ping` for this subscription only, through the normal delivery path."""
    subscription = await get_subscription(session, subscription_id, principal)
    if not subscription.is_active:
        raise Conflict("The subscription is disabled: enable it first (PATCH is_active).")
    event = outbox.emit(
        session,
        service=SERVICE,
        type="webhook.ping",
        subject=f"webhook-subscription:{subscription.id}",
        data={
            "subscription_id": str(subscription.id),
            "message": "Ping from Shandong Skills: your endpoint is reachable.",
        },
    )
    event.fanned_out_at = datetime.now(UTC)  # sent to this subscription only
    await session.flush()
    delivery = WebhookDelivery(
        subscription_id=subscription.id,
        event_seq=event.seq,
        event_id=event.id,
        event_type=event.type,
        subject=event.subject,
    )
    session.add(delivery)
    await session.flush()
    await session.refresh(delivery)
    return delivery


async def list_deliveries(
    session: AsyncSession,
    subscription_id: uuid.UUID,
    principal: Principal,
    *,
    status: DeliveryStatus | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    cursor: str | None,
) -> Page[schemas.Delivery]:
    await get_subscription(session, subscription_id, principal)
    stmt = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status)
    if since is not None:
        stmt = stmt.where(WebhookDelivery.created_at >= since)
    if until is not None:
        stmt = stmt.where(WebhookDelivery.created_at < until)
    return await paginate(
        session,
        stmt,
        order_by=[WebhookDelivery.created_at, WebhookDelivery.id],
        limit=limit,
        cursor=cursor,
        transform=schemas.Delivery.model_validate,
    )


async def _get_delivery(
    session: AsyncSession, subscription_id: uuid.UUID, delivery_id: uuid.UUID, principal: Principal
) -> WebhookDelivery:
    await get_subscription(session, subscription_id, principal)
    delivery = await session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.subscription_id != subscription_id:
        raise NotFound(f"No delivery with id {delivery_id} for this subscription.")
    return delivery


async def get_delivery(
    session: AsyncSession, subscription_id: uuid.UUID, delivery_id: uuid.UUID, principal: Principal
) -> schemas.DeliveryDetail:
    delivery = await _get_delivery(session, subscription_id, delivery_id, principal)
    attempts = (
        await session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery_id)
            .order_by(WebhookAttempt.id)
        )
    ).all()
    return schemas.DeliveryDetail.model_validate(
        {
            **schemas.Delivery.model_validate(delivery).model_dump(),
            "attempt_log": [schemas.Attempt.model_validate(a) for a in attempts],
        }
    )


async def redeliver(
    session: AsyncSession, subscription_id: uuid.UUID, delivery_id: uuid.UUID, principal: Principal
) -> WebhookDelivery:
    """Queue one delivery again, whatever its state, with a fresh retry schedule."""
    delivery = await _get_delivery(session, subscription_id, delivery_id, principal)
    delivery.status = DeliveryStatus.pending
    delivery.attempts = 0
    delivery.next_attempt_at = datetime.now(UTC)
    delivery.lease_id = None
    delivery.locked_until = None
    await session.flush()
    await session.refresh(delivery)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="webhook_delivery.redeliver",
        entity_type="webhook_delivery",
        entity_id=delivery.id,
    )
    return delivery


async def redeliver_failed(
    session: AsyncSession,
    subscription_id: uuid.UUID,
    data: schemas.RedeliverFailed,
    principal: Principal,
) -> int:
    """Queue again every failed delivery created in [since, until)."""
    await get_subscription(session, subscription_id, principal)
    stmt = (
        update(WebhookDelivery)
        .where(
            WebhookDelivery.subscription_id == subscription_id,
            WebhookDelivery.status == DeliveryStatus.failed,
            WebhookDelivery.created_at >= data.since,
            WebhookDelivery.created_at < (data.until or func.now()),
        )
        .values(
            status=DeliveryStatus.pending,
            attempts=0,
            next_attempt_at=func.now(),
            lease_id=None,
            locked_until=None,
        )
        .returning(WebhookDelivery.id)
        .execution_options(synchronize_session=False)
    )
    count = len((await session.scalars(stmt)).all())
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="webhook_delivery.redeliver_failed",
        entity_type="webhook_subscription",
        entity_id=subscription_id,
        after={**data.model_dump(mode="json"), "redelivered": count},
    )
    return count
