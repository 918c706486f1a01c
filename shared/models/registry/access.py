"""`access_revocations`: the registry's read model of who may no longer use a token.

**A contract, like an endpoint** (DESIGN.md section 2, read models). The registry alone writes
it, in the same transaction that disables an account or revokes a machine client
(`shared.auth.revocations.record_access`); every service reads it in SQL
(`shared.auth.revocations.AccessRevocations`) so that a disabled person or a revoked client
loses access everywhere within ACCESS_REVOCATION_CACHE_SECONDS, instead of keeping a valid
access token until it expires. Columns:

- `sub`: the token's `sub` (an account's or a machine client's id);
- `kind`: `account` or `client`;
- `active`: false refuses every token of `sub`;
- `not_before`: tokens issued (`iat`) before it are refused even once `active` is true again
  (a re-enabled account must sign in afresh);
- `updated_at`: when the registry last changed the row.

Only principals whose access changed have a row. Should the services move to separate
databases, the registry feeds this table from its events (`account.disabled`...) instead.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, String, func
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base


class AccessRevocation(Base):
    """One principal whose tokens are refused (or were, before `not_before`)."""

    __tablename__ = "access_revocations"

    sub: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean)
    not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
