import uuid

from registry_client import AuthenticatedClient
from registry_client.api.enterprises import create_enterprise, get_enterprise, update_enterprise
from registry_client.api.localities import list_localities
from registry_client.models import (
    EnterpriseCreate,
    EnterpriseSize,
    EnterpriseUpdate,
    Industry,
    LocalityLevel,
    PageLocality,
    Problem,
)


async def example(client: AuthenticatedClient, credit_code: str) -> list[str]:
    # Pages: follow `next_cursor` until it is null.
    cities: list[str] = []
    cursor: str | None = None
    while True:
        page = await list_localities.asyncio(
            client=client, level=LocalityLevel.CITY, limit=10, cursor=cursor
        )
        assert isinstance(page, PageLocality)
        cities += [locality.code for locality in page.items]
        if not isinstance(page.next_cursor, str):
            break
        cursor = page.next_cursor

    # Retries: repeat a create with the same Idempotency-Key; the repeat answers the first
    # result and says so in `Idempotent-Replayed: true`.
    body = EnterpriseCreate(
        credit_code=credit_code,
        name="济南二机床集团有限公司",
        locality_code="370100",
        industry=Industry.HIGH_END_EQUIPMENT,
        size=EnterpriseSize.LARGE,
    )
    key = str(uuid.uuid4())
    created = await create_enterprise.asyncio_detailed(
        client=client, body=body, idempotency_key=key
    )
    again = await create_enterprise.asyncio_detailed(client=client, body=body, idempotency_key=key)
    assert again.headers["Idempotent-Replayed"] == "true"
    enterprise = created.parsed
    assert not isinstance(enterprise, Problem)
    assert enterprise is not None
    assert again.parsed == enterprise

    # Changes: send the ETag you read as If-Match (428 without it, 412 when stale).
    read = await get_enterprise.asyncio_detailed(enterprise.id, client=client)
    etag = read.headers["ETag"]
    change = EnterpriseUpdate(size=EnterpriseSize.MEDIUM)
    updated = await update_enterprise.asyncio_detailed(
        enterprise.id, client=client, body=change, if_match=etag
    )
    assert updated.status_code == 200
    stale = await update_enterprise.asyncio_detailed(
        enterprise.id, client=client, body=change, if_match=etag
    )
    assert stale.status_code == 412
    assert isinstance(stale.parsed, Problem)  # every error is application/problem+json
    return cities
