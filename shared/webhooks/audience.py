"""Who may receive which events: a subscription never carries more than its owner may read.

A webhook is an answer to its subscription's owner, so the rule of every answer holds
(DESIGN.md section 5, issue 13): it never contains facts about a person the owner may not read.
The events of a family need the read scope that the family's API needs:

- `worker.*`, `honour.*`, `mentorship.*`, `reserve.*` (workers, grades, localities, honours,
  the craftsman reserve): `registry:read`;
- `competition.*`, `registration.*`, `entry.*`, `stage.*`, `schedule.*`, `assignments.*`,
  `scores.*`, `nomination.*` (competitions, entries and their competitors, stages,
  nominations): `competitions:read`;
- `results.*`, `award.*`, `appeal.*` (results, awards, appeals): `results:read`.

`internal` (our own services) reads everything, as in every service's policy.

Checked twice:
- when a subscription is created or its event types change: a pattern that can match an event
  its owner may not read is refused (422 naming the pattern and the scope), against the owner's
  grant as stored (a machine client's scopes), not the caller's: an admin editing a client's
  subscription gives it no more than the client holds;
- by the dispatcher, for every event at fan-out and again for every delivery before it is
  sent: the owner as it is *now* (`load_owners`). A disabled account, a revoked client, a
  client whose grant no longer has the scope, or an owner that no longer exists gets nothing.
  An organiser (no API lets one own a subscription today; the rule is here so that none can
  ever be one that reads too much) gets only events all of whose localities its scope covers.

An event type whose family is not in `FAMILY_SCOPES` is delivered to admins only: a new family
must be classified here first (`tests/webhooks/test_audience.py` checks the catalogue).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.principal import Principal, PrincipalKind, Role
from shared.models.registry.access import AccessRevocation
from shared.models.registry.core import Account, MachineClient
from shared.scope import covers
from shared.webhooks.matching import DIRECT_TYPES, locality_codes

REGISTRY_READ = "registry:read"
COMPETITIONS_READ = "competitions:read"
RESULTS_READ = "results:read"
#: Our own services' machine client: reads everything.
INTERNAL = "internal"

#: The read scope each event family needs (the family is the type's first segment).
FAMILY_SCOPES: dict[str, str] = {
    "worker": REGISTRY_READ,
    "honour": REGISTRY_READ,
    "mentorship": REGISTRY_READ,
    "reserve": REGISTRY_READ,
    "competition": COMPETITIONS_READ,
    "registration": COMPETITIONS_READ,
    "entry": COMPETITIONS_READ,
    "stage": COMPETITIONS_READ,
    "schedule": COMPETITIONS_READ,
    "assignments": COMPETITIONS_READ,
    "scores": COMPETITIONS_READ,
    "nomination": COMPETITIONS_READ,
    "results": RESULTS_READ,
    "award": RESULTS_READ,
    "appeal": RESULTS_READ,
}


def family(pattern_or_type: str) -> str:
    return pattern_or_type.split(".", 1)[0]


def scopes_for_pattern(pattern: str) -> set[str]:
    """The read scopes the events a pattern can match need: `*` all of them; `worker.*` or
    `worker.created` the family's. A family we do not know needs none here (nothing of it is
    ever sent to a machine client: see `may_receive`)."""
    if pattern == "*":
        return set(FAMILY_SCOPES.values())
    scope = FAMILY_SCOPES.get(family(pattern))
    return {scope} if scope else set()


@dataclass(frozen=True)
class Owner:
    """A subscription's owner as it stands now: an account or a machine client."""

    sub: str
    role: Role
    active: bool
    scopes: frozenset[str] = field(default_factory=frozenset)
    locality_code: str | None = None
    enterprise_id: uuid.UUID | None = None

    def reads(self, scope: str) -> bool:
        return scope in self.scopes or INTERNAL in self.scopes

    def describe(self) -> str:
        if self.role is Role.integration:
            held = ", ".join(sorted(self.scopes)) or "none"
            return f"the machine client owning it holds only the scopes {held}"
        return f"its owner (role {self.role.value}) may not read them"


def missing_scopes(patterns: Sequence[str], owner: Owner) -> dict[str, list[str]]:
    """For each pattern the owner may not subscribe to, the read scopes it lacks."""
    if owner.role is Role.admin:
        return {}
    refused: dict[str, list[str]] = {}
    for pattern in patterns:
        needed = scopes_for_pattern(pattern)
        if owner.role is Role.integration:
            lacking = sorted(s for s in needed if not owner.reads(s))
        else:
            # People other than admins subscribe to nothing personal (organisers: no API today).
            lacking = sorted(needed)
        if lacking:
            refused[pattern] = lacking
    return refused


def may_receive(owner: Owner | None, event_type: str, data: Mapping[str, Any]) -> bool:
    """May this owner, as it stands now, receive this event?"""
    if owner is None or not owner.active:
        return False
    if event_type in DIRECT_TYPES:  # a test ping, asked for by the owner itself
        return True
    if owner.role is Role.admin:
        return True
    scope = FAMILY_SCOPES.get(family(event_type))
    if scope is None:
        return False  # not classified yet: nobody but admins
    if owner.role is Role.integration:
        return owner.reads(scope)
    if owner.role is Role.organiser:
        # Every locality the event names (the competitor's, the organiser's, both sides of a
        # transfer or a mentorship) must be in the organiser's scope: a fact about someone
        # outside it must not arrive through a side door.
        principal = Principal(
            sub=owner.sub,
            kind=PrincipalKind.account,
            role=Role.organiser,
            name=owner.sub,
            locality_code=owner.locality_code,
            enterprise_id=owner.enterprise_id,
        )
        codes = locality_codes(data)
        enterprise = data.get("enterprise_id")
        return bool(codes) and all(covers(principal, code, enterprise) for code in codes)
    return False


async def load_owners(session: AsyncSession, subs: Iterable[str]) -> dict[str, Owner]:
    """The owners among `subs` as they stand now (a sub that is no account or client is left
    out: it receives nothing). Three small queries by primary key, whatever the traffic."""
    wanted = set(subs)
    ids: dict[uuid.UUID, str] = {}
    for sub in wanted:
        try:
            ids[uuid.UUID(sub)] = sub
        except ValueError:
            continue
    if not ids:
        return {}
    withdrawn = set(
        (
            await session.scalars(
                select(AccessRevocation.sub).where(
                    AccessRevocation.sub.in_(list(wanted)), AccessRevocation.active.is_(False)
                )
            )
        ).all()
    )
    owners: dict[str, Owner] = {}
    accounts = await session.execute(
        select(
            Account.id,
            Account.role,
            Account.is_active,
            Account.locality_code,
            Account.enterprise_id,
        ).where(Account.id.in_(list(ids)))
    )
    for row in accounts:
        sub = ids[row.id]
        owners[sub] = Owner(
            sub=sub,
            role=Role(row.role),
            active=bool(row.is_active) and sub not in withdrawn,
            locality_code=row.locality_code,
            enterprise_id=row.enterprise_id,
        )
    clients = await session.execute(
        select(
            MachineClient.id,
            MachineClient.scopes,
            MachineClient.is_active,
            MachineClient.revoked_at,
        ).where(MachineClient.id.in_(list(ids)))
    )
    for client in clients:
        sub = ids[client.id]
        owners[sub] = Owner(
            sub=sub,
            role=Role.integration,
            active=bool(client.is_active) and client.revoked_at is None and sub not in withdrawn,
            scopes=frozenset(client.scopes or ()),
        )
    return owners
