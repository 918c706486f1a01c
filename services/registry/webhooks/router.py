"""Webhook subscription endpoints: admins manage all, integration clients (scope
`webhooks:manage`) their own; the delivery log, redelivery and a test ping."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from services.registry.webhooks import schemas, service
from shared.auth.deps import require
from shared.auth.principal import Principal, Role
from shared.db import SessionDep
from shared.errors import error_responses
from shared.models.webhooks import DeliveryStatus
from shared.pagination import CursorQuery, LimitQuery, Page

router = APIRouter(prefix="/v1/webhook-subscriptions", tags=["webhooks"])

#: Admins, and machine clients granted `webhooks:manage` (for their own subscriptions).
WebhookManager = Annotated[Principal, Depends(require(Role.admin, scopes=("webhooks:manage",)))]


def _allowed_hosts(request: Request) -> list[str]:
    hosts: list[str] = request.app.state.settings.webhook_allowed_hosts
    return hosts


@router.post(
    "",
    operation_id="createWebhookSubscription",
    response_model=schemas.SubscriptionWithSecret,
    status_code=201,
    summary="Subscribe to events",
    responses=error_responses(401, 403, 422),
)
async def create_subscription(
    request: Request,
    session: SessionDep,
    principal: WebhookManager,
    data: schemas.SubscriptionCreate,
    response: Response,
) -> schemas.SubscriptionWithSecret:
    """Register an endpoint for events. The answer holds the signing `secret` **once**.

    `url` must be the URL of **your own receiver**, reachable from this server at a public
    address: the example's `your-receiver.example` is a placeholder that resolves nowhere, so
    "Try it out" answers 422 at `url` until you put your URL there. To try webhooks without
    a server of your own, use a public request inspector's URL.

    Each message is a POST of `{type, timestamp, data}` signed per Standard Webhooks
    (`webhook-id`, `webhook-timestamp`, `webhook-signature`); answer 2xx within 15 s. Other
    answers are retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 24 h (with jitter;
    `Retry-After` honoured on 429 and 503), then the delivery is marked failed. 410 Gone
    disables the subscription. Events about the same subject arrive in order."""
    created = await service.create_subscription(
        session, data, principal, _allowed_hosts(request), request.app.state.cipher
    )
    response.headers["Location"] = f"/v1/webhook-subscriptions/{created.id}"
    return created


@router.get(
    "",
    operation_id="listWebhookSubscriptions",
    response_model=Page[schemas.Subscription],
    summary="List webhook subscriptions",
    responses=error_responses(401, 403, 422),
)
async def list_subscriptions(
    session: SessionDep,
    principal: WebhookManager,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.Subscription]:
    """Subscriptions in creation order: all of them for admins, a client's own otherwise."""
    return await service.list_subscriptions(session, principal, limit=limit, cursor=cursor)


@router.get(
    "/{subscription_id}",
    operation_id="getWebhookSubscription",
    response_model=schemas.Subscription,
    summary="Get a webhook subscription",
    responses=error_responses(401, 403, 404, 422),
)
async def get_subscription(
    session: SessionDep, principal: WebhookManager, subscription_id: uuid.UUID
) -> schemas.Subscription:
    """One subscription (without its secret, which is shown only at creation and rotation)."""
    return schemas.Subscription.model_validate(
        await service.get_subscription(session, subscription_id, principal)
    )


@router.patch(
    "/{subscription_id}",
    operation_id="updateWebhookSubscription",
    response_model=schemas.Subscription,
    summary="Update a webhook subscription",
    responses=error_responses(401, 403, 404, 422),
)
async def update_subscription(
    request: Request,
    session: SessionDep,
    principal: WebhookManager,
    subscription_id: uuid.UUID,
    data: schemas.SubscriptionUpdate,
) -> schemas.Subscription:
    """Change the URL, event types or filters; `is_active: false` pauses deliveries (they
    wait and resume, in order, on `is_active: true`)."""
    return schemas.Subscription.model_validate(
        await service.update_subscription(
            session, subscription_id, data, principal, _allowed_hosts(request)
        )
    )


@router.delete(
    "/{subscription_id}",
    operation_id="deleteWebhookSubscription",
    status_code=204,
    summary="Delete a webhook subscription",
    responses=error_responses(401, 403, 404, 422),
)
async def delete_subscription(
    session: SessionDep, principal: WebhookManager, subscription_id: uuid.UUID
) -> Response:
    """Delete the subscription with its delivery log; nothing more is sent to it."""
    await service.delete_subscription(session, subscription_id, principal)
    return Response(status_code=204)


@router.post(
    "/{subscription_id}/rotate-secret",
    operation_id="rotateWebhookSecret",
    response_model=schemas.SubscriptionWithSecret,
    summary="Rotate the signing secret",
    responses=error_responses(401, 403, 404, 422),
)
async def rotate_secret(
    request: Request,
    session: SessionDep,
    principal: WebhookManager,
    subscription_id: uuid.UUID,
    data: schemas.SecretRotation,
) -> schemas.SubscriptionWithSecret:
    """A new secret, shown once. For `overlap_seconds` every message carries two signatures
    (new and old, space-separated in `webhook-signature`), so either secret verifies it."""
    return await service.rotate_secret(
        session, subscription_id, data, principal, request.app.state.cipher
    )


@router.post(
    "/{subscription_id}/ping",
    operation_id="pingWebhookSubscription",
    response_model=schemas.Delivery,
    status_code=202,
    summary="Send a test ping",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def ping(
    session: SessionDep, principal: WebhookManager, subscription_id: uuid.UUID
) -> schemas.Delivery:
    """Queue a `webhook.ping` event for this subscription only; it goes through the normal
    delivery path (signature, retries, log). Follow it in the delivery log."""
    return schemas.Delivery.model_validate(await service.ping(session, subscription_id, principal))


@router.get(
    "/{subscription_id}/deliveries",
    operation_id="listWebhookDeliveries",
    response_model=Page[schemas.Delivery],
    summary="List deliveries",
    responses=error_responses(401, 403, 404, 422),
)
async def list_deliveries(
    session: SessionDep,
    principal: WebhookManager,
    subscription_id: uuid.UUID,
    status: Annotated[DeliveryStatus | None, Query(description="Only this status.")] = None,
    since: Annotated[datetime | None, Query(description="Created at or after.")] = None,
    until: Annotated[datetime | None, Query(description="Created before.")] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.Delivery]:
    """The subscription's deliveries in creation order, with their state and last answer."""
    return await service.list_deliveries(
        session,
        subscription_id,
        principal,
        status=status,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )


@router.post(
    "/{subscription_id}/deliveries/redeliver",
    operation_id="redeliverFailedDeliveries",
    response_model=schemas.RedeliveryResult,
    status_code=202,
    summary="Redeliver failed deliveries",
    responses=error_responses(401, 403, 404, 422),
)
async def redeliver_failed(
    session: SessionDep,
    principal: WebhookManager,
    subscription_id: uuid.UUID,
    data: schemas.RedeliverFailed,
) -> schemas.RedeliveryResult:
    """Queue again every failed delivery created in the time range, with a fresh schedule."""
    count = await service.redeliver_failed(session, subscription_id, data, principal)
    return schemas.RedeliveryResult(redelivered=count)


@router.get(
    "/{subscription_id}/deliveries/{delivery_id}",
    operation_id="getWebhookDelivery",
    response_model=schemas.DeliveryDetail,
    summary="Get a delivery and its attempts",
    responses=error_responses(401, 403, 404, 422),
)
async def get_delivery(
    session: SessionDep,
    principal: WebhookManager,
    subscription_id: uuid.UUID,
    delivery_id: uuid.UUID,
) -> schemas.DeliveryDetail:
    """One delivery with every attempt: status code, latency and a short excerpt of a text
    answer from a public address (at most 200 characters, control characters removed; nothing
    from an address admitted by WEBHOOK_ALLOWED_HOSTS), or the error (refused connection,
    timeout, refused by the SSRF guard)."""
    return await service.get_delivery(session, subscription_id, delivery_id, principal)


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/redeliver",
    operation_id="redeliverWebhookDelivery",
    response_model=schemas.Delivery,
    status_code=202,
    summary="Redeliver one delivery",
    responses=error_responses(401, 403, 404, 422),
)
async def redeliver(
    session: SessionDep,
    principal: WebhookManager,
    subscription_id: uuid.UUID,
    delivery_id: uuid.UUID,
) -> schemas.Delivery:
    """Queue the delivery again now (failed or not), with the same `webhook-id`."""
    return schemas.Delivery.model_validate(
        await service.redeliver(session, subscription_id, delivery_id, principal)
    )


#: Events sent to webhook subscribers (the OpenAPI `webhooks` section).
webhooks = APIRouter(tags=["webhooks"])


@webhooks.post("webhook.ping", summary="A test ping")
async def webhook_ping(event: schemas.PingEvent) -> None:
    """Sent only to the subscription it was requested for
    (`POST /v1/webhook-subscriptions/{id}/ping`)."""
