"""Disabled accounts and revoked clients refused everywhere; webhook secrets encrypted at rest.

- `access_revocations`: the registry's read model of principals whose tokens are refused
  (contract in `shared.models.registry.access`), filled with the accounts already disabled and
  the machine clients already revoked.
- `webhook_subscriptions.secret` and `previous_secret` (readable) become `secret_enc` and
  `previous_secret_enc`, encrypted with the data key and bound to the row's id
  (`shared.webhooks.signing.seal_secret`). Existing secrets are encrypted here, which needs the
  data key: DATA_KEY, or KEY_DIR/data.key as the registry uses it. With subscriptions to
  convert and no key, the migration stops with that message rather than invent a key (the
  registry and the dispatcher could then never decrypt them). With no subscription, no key is
  needed.

Revision ID: 0045
Revises: 0046
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import op

if TYPE_CHECKING:
    from shared.crypto import PersonalDataCipher

revision: str = "0045"
down_revision: str | None = "0046"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _cipher() -> "PersonalDataCipher":
    # Imported and loaded only when there are secrets to convert.
    from shared.config import Settings
    from shared.crypto import load_cipher

    settings = Settings()
    return load_cipher(settings.data_key, settings.key_dir, create=False)


def upgrade() -> None:
    op.create_table(
        "access_revocations",
        sa.Column("sub", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("sub", name=op.f("pk_access_revocations")),
    )
    op.execute(
        """
        INSERT INTO access_revocations (sub, kind, active, not_before)
        SELECT id::text, 'account', false, updated_at FROM accounts WHERE NOT is_active
        UNION ALL
        SELECT id::text, 'client', false, coalesce(revoked_at, updated_at)
        FROM machine_clients WHERE NOT is_active OR revoked_at IS NOT NULL
        """
    )

    op.add_column("webhook_subscriptions", sa.Column("secret_enc", sa.LargeBinary(), nullable=True))
    op.add_column(
        "webhook_subscriptions", sa.Column("previous_secret_enc", sa.LargeBinary(), nullable=True)
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT id, secret, previous_secret FROM webhook_subscriptions")
    ).all()
    if rows:
        from shared.webhooks.signing import seal_secret

        cipher = _cipher()
        for row in rows:
            conn.execute(
                sa.text(
                    "UPDATE webhook_subscriptions SET secret_enc = :secret, "
                    "previous_secret_enc = :previous WHERE id = :id"
                ),
                {
                    "id": row.id,
                    "secret": seal_secret(cipher, row.id, row.secret),
                    "previous": seal_secret(cipher, row.id, row.previous_secret)
                    if row.previous_secret
                    else None,
                },
            )
    op.alter_column("webhook_subscriptions", "secret_enc", nullable=False)
    op.drop_column("webhook_subscriptions", "previous_secret")
    op.drop_column("webhook_subscriptions", "secret")


def downgrade() -> None:
    op.add_column(
        "webhook_subscriptions", sa.Column("secret", sa.String(length=128), nullable=True)
    )
    op.add_column(
        "webhook_subscriptions",
        sa.Column("previous_secret", sa.String(length=128), nullable=True),
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT id, secret_enc, previous_secret_enc FROM webhook_subscriptions")
    ).all()
    if rows:
        from shared.webhooks.signing import open_secret

        cipher = _cipher()
        for row in rows:
            conn.execute(
                sa.text(
                    "UPDATE webhook_subscriptions SET secret = :secret, "
                    "previous_secret = :previous WHERE id = :id"
                ),
                {
                    "id": row.id,
                    "secret": open_secret(cipher, row.id, row.secret_enc),
                    "previous": open_secret(cipher, row.id, row.previous_secret_enc)
                    if row.previous_secret_enc
                    else None,
                },
            )
    op.alter_column("webhook_subscriptions", "secret", nullable=False)
    op.drop_column("webhook_subscriptions", "previous_secret_enc")
    op.drop_column("webhook_subscriptions", "secret_enc")
    op.drop_table("access_revocations")
