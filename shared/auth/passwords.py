"""Password hashing with Argon2id (pwdlib), run off the event loop because it is CPU-bound."""

from __future__ import annotations

import functools
from pathlib import Path

import anyio.to_thread
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

_hasher = PasswordHash.recommended()
# Verified against when the user does not exist, so a wrong username costs as much as a wrong
# password and response times do not reveal which usernames exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password-0")


def configure(time_cost: int, memory_kib: int) -> None:
    """Set Argon2id's cost for new hashes (existing hashes carry their own parameters)."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHash((Argon2Hasher(time_cost=time_cost, memory_cost=memory_kib),))
    _DUMMY_HASH = _hasher.hash("not-a-real-password-0")


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_hasher.hash, password)


async def verify_password(password: str, password_hash: str | None) -> bool:
    return (
        await anyio.to_thread.run_sync(_hasher.verify, password, password_hash or _DUMMY_HASH)
        and password_hash is not None
    )


@functools.cache
def common_passwords() -> frozenset[str]:
    """The small list of passwords refused outright (`common_passwords.txt`)."""
    path = Path(__file__).with_name("common_passwords.txt")
    return frozenset(
        line.strip().lower()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    )


def validate_password_policy(password: str, username: str | None = None) -> str | None:
    """Return why a password is refused, or None when it is acceptable."""
    # The username itself, or (for usernames long enough to be a guess) one wrapped in digits
    # and symbols, is the first thing tried.
    name, lowered = (username or "").lower(), password.lower()
    if name and (lowered == name or (len(name) >= 6 and name in lowered)):
        return "must not contain the username"
    if password.lower() in common_passwords():
        return "is too common (it is on the list of passwords tried first by attackers)"
    if len(password) < 10:
        return "must be at least 10 characters long"
    if len(password) > 256:
        return "must be at most 256 characters long"
    classes = sum(
        [
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        ]
    )
    if classes < 3:
        return "must mix at least three of: lower case, upper case, digits, symbols"
    return None
