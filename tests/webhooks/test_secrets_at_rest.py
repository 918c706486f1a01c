"""Webhook signing secrets are encrypted at rest with the data key (issue 13, section 8): never
readable in the database, bound to their row, decrypted by the dispatcher to sign; migration
0045 encrypts the secrets of existing subscriptions."""

from __future__ import annotations

import base64
import os
import uuid
from pathlib import Path

import asyncpg
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.crypto import MissingDataKey, PersonalDataCipher
from shared.migrate import alembic_config
from shared.webhooks import signing
from shared.webhooks.dispatcher import Dispatcher
from tests.conftest import Services
from tests.dbutil import PgServer, asyncpg_dsn
from tests.webhooks.conftest import emit, new_prefix, run_until
from tests.webhooks.receiver import Receiver


async def _rows_text(sessionmaker: async_sessionmaker[AsyncSession]) -> str:
    """Every column of every subscription, as text (bytea shown as hex)."""
    async with sessionmaker() as session:
        rows = await session.scalars(
            text("SELECT row_to_json(s)::text FROM webhook_subscriptions s")
        )
        return "\n".join(rows)


async def test_secrets_are_stored_encrypted_and_still_sign(
    services: Services,
    admin_headers: dict[str, str],
    dispatcher: Dispatcher,
    sessionmaker: async_sessionmaker[AsyncSession],
    receiver: Receiver,
) -> None:
    receiver.start()
    created = await services.registry.post(
        "/v1/webhook-subscriptions",
        json={"url": receiver.url, "event_types": ["*"]},
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    sub = created.json()
    rotated = await services.registry.post(
        f"/v1/webhook-subscriptions/{sub['id']}/rotate-secret",
        json={"overlap_seconds": 3600},
        headers=admin_headers,
    )
    assert rotated.status_code == 200, rotated.text
    old, new = sub["secret"], rotated.json()["secret"]
    stored = await _rows_text(sessionmaker)
    for secret in (old, new):
        # Neither the secret nor its key bytes (base64 or hex) are anywhere in the row.
        key = base64.b64decode(secret.removeprefix("whsec_"))
        for form in (secret, secret.removeprefix("whsec_"), key.hex()):
            assert form not in stored
    # The receiver knows only the old secret: the overlap signature (old, decrypted by the
    # dispatcher) verifies.
    receiver.secrets.append(old)
    [event_id] = await emit(sessionmaker, [(new_prefix() + ".x", "entry:1", {"n": 1})])
    await run_until(dispatcher, lambda: receiver.accepted_ids() == {event_id})
    # Both secrets open with the data key, bound to their own row.
    cipher: PersonalDataCipher = services.apps["registry"].state.cipher
    async with sessionmaker() as session:
        row = (
            await session.execute(
                text(
                    "SELECT secret_enc, previous_secret_enc FROM webhook_subscriptions "
                    "WHERE id = :id"
                ),
                {"id": sub["id"]},
            )
        ).one()
    sub_id = uuid.UUID(sub["id"])
    assert signing.open_secret(cipher, sub_id, row.secret_enc) == new
    assert signing.open_secret(cipher, sub_id, row.previous_secret_enc) == old


async def test_a_secret_copied_to_another_row_does_not_sign(
    services: Services,
    admin_headers: dict[str, str],
    dispatcher: Dispatcher,
    sessionmaker: async_sessionmaker[AsyncSession],
    receiver: Receiver,
) -> None:
    """Someone able to write the table copies a subscription's sealed secret to their own:
    it does not open there, the delivery fails with a clear error, nothing is sent."""
    receiver.start()
    ids = []
    for _ in range(2):
        created = await services.registry.post(
            "/v1/webhook-subscriptions",
            json={"url": receiver.url, "event_types": ["*"]},
            headers=admin_headers,
        )
        ids.append(created.json()["id"])
    async with sessionmaker() as session, session.begin():
        await session.execute(
            text(
                "UPDATE webhook_subscriptions SET secret_enc = "
                "(SELECT secret_enc FROM webhook_subscriptions WHERE id = :a) WHERE id = :b"
            ),
            {"a": ids[0], "b": ids[1]},
        )
        await session.execute(
            text("UPDATE webhook_subscriptions SET is_active = false WHERE id = :a"),
            {"a": ids[0]},
        )
    await emit(sessionmaker, [(new_prefix() + ".x", "entry:1", {"n": 1})])
    base = f"/v1/webhook-subscriptions/{ids[1]}/deliveries"

    async def attempted() -> bool:
        items = (await services.registry.get(base, headers=admin_headers)).json()["items"]
        return bool(items) and items[0]["attempts"] > 0

    await run_until(dispatcher, attempted)
    [delivery] = (await services.registry.get(base, headers=admin_headers)).json()["items"]
    assert "does not decrypt" in delivery["last_error"]
    assert receiver.messages == []
    assert receiver.rejected == 0


async def test_migration_0045_encrypts_existing_secrets_and_fills_the_read_model(
    pg_server: PgServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    name = await pg_server.create_database()
    url = pg_server.url_for(name)
    config = alembic_config(url)
    secret, previous = signing.new_secret(), signing.new_secret()
    sub_id, disabled, active, revoked = (uuid.uuid4() for _ in range(4))
    try:
        command.upgrade(config, "0042")
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            await conn.execute(
                "INSERT INTO webhook_subscriptions "
                "(id, owner_sub, url, event_types, secret, previous_secret) "
                "VALUES ($1, 'x', 'https://8.8.8.8/h', ARRAY['*'], $2, $3)",
                sub_id,
                secret,
                previous,
            )
            # The read model of withdrawn access starts with those already disabled/revoked.
            await conn.execute(
                "INSERT INTO accounts (id, username, display_name, password_hash, role, "
                "is_active) VALUES ($1, 'gone', 'gone', 'x', 'judge', false), "
                "($2, 'here', 'here', 'x', 'judge', true)",
                disabled,
                active,
            )
            await conn.execute(
                "INSERT INTO machine_clients (id, client_id, name, secret_hash, is_active, "
                "revoked_at) VALUES ($1, 'old', 'old', 'x', false, now())",
                revoked,
            )
        finally:
            await conn.close()
        # No key to be found: the migration stops rather than invent one.
        monkeypatch.delenv("DATA_KEY", raising=False)
        monkeypatch.setenv("KEY_DIR", str(tmp_path / "empty"))
        with pytest.raises(MissingDataKey):
            command.upgrade(config, "0045")
        assert not (tmp_path / "empty").exists()
        data_key = base64.b64encode(os.urandom(32)).decode()
        monkeypatch.setenv("DATA_KEY", data_key)
        command.upgrade(config, "0045")
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            row = await conn.fetchrow(
                "SELECT row_to_json(s)::text AS everything, secret_enc, previous_secret_enc "
                "FROM webhook_subscriptions s"
            )
            withdrawn = await conn.fetch("SELECT sub, kind, active FROM access_revocations")
        finally:
            await conn.close()
        assert {(r["sub"], r["kind"], r["active"]) for r in withdrawn} == {
            (str(disabled), "account", False),
            (str(revoked), "client", False),
        }
        assert row is not None
        assert secret not in row["everything"]
        assert previous not in row["everything"]
        cipher = PersonalDataCipher.from_master(base64.b64decode(data_key))
        assert signing.open_secret(cipher, sub_id, row["secret_enc"]) == secret
        assert signing.open_secret(cipher, sub_id, row["previous_secret_enc"]) == previous
        # And back: the downgrade restores them readable.
        command.downgrade(config, "0042")
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            back = await conn.fetchrow("SELECT secret, previous_secret FROM webhook_subscriptions")
        finally:
            await conn.close()
        assert back is not None
        assert (back["secret"], back["previous_secret"]) == (secret, previous)
    finally:
        await pg_server.drop_database(name)
