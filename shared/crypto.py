"""Personal data at rest: AES-GCM encryption and a keyed hash for exact lookup.

One 32-byte master key (DATA_KEY, base64; else generated on first run into KEY_DIR/data.key)
is split with HKDF into an encryption key and a lookup (HMAC) key, so the hash of an identity
number cannot be recomputed by someone holding only the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

DATA_KEY_FILE = "data.key"


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


@dataclass(frozen=True)
class PersonalDataCipher:
    enc_key: bytes
    lookup_key: bytes

    @classmethod
    def from_master(cls, master: bytes) -> PersonalDataCipher:
        if len(master) != 32:
            raise ValueError("DATA_KEY must be 32 bytes, base64-encoded")
        return cls(_derive(master, b"skills/pii/encrypt"), _derive(master, b"skills/pii/lookup"))

    @cached_property
    def _aead(self) -> AESGCM:
        # One key schedule per cipher, not per value (bulk imports encrypt a million numbers).
        return AESGCM(self.enc_key)

    def encrypt(self, value: str, aad: bytes | None = None) -> bytes:
        """`aad` (associated data) binds the ciphertext to its place, e.g. a row's id: it must
        be given again to decrypt, so a ciphertext copied to another row does not open."""
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, value.encode(), aad)

    def decrypt(self, blob: bytes, aad: bytes | None = None) -> str:
        return self._aead.decrypt(blob[:12], blob[12:], aad).decode()

    def encrypt_file(self, data: bytes, context: bytes) -> bytes:
        """Encrypt a file (an upload waiting to be imported). `context` (e.g. the job's id) is
        authenticated with it, so an encrypted file copied onto another row does not open."""
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, data, context)

    def decrypt_file(self, blob: bytes, context: bytes) -> bytes:
        return self._aead.decrypt(blob[:12], blob[12:], context)

    def lookup_hash(self, value: str) -> bytes:
        return hmac.digest(self.lookup_key, value.encode(), hashlib.sha256)


class MissingDataKey(RuntimeError):
    """No DATA_KEY and no KEY_DIR/data.key where one must already exist."""


def load_cipher(data_key: str | None, key_dir: Path, *, create: bool = True) -> PersonalDataCipher:
    """The cipher of DATA_KEY, else of KEY_DIR/data.key, generated there on first run unless
    `create` is false (processes that only read data, such as the webhook dispatcher, must
    never invent a key of their own: they would fail to decrypt what the registry wrote)."""
    if data_key:
        return PersonalDataCipher.from_master(base64.b64decode(data_key))
    path = key_dir / DATA_KEY_FILE
    if not path.exists() and not create:
        raise MissingDataKey(
            f"No data key: set DATA_KEY or point KEY_DIR at the registry's keys ({path} is "
            "missing)."
        )
    return PersonalDataCipher.from_master(load_secret_file(path))


def load_secret_file(path: Path) -> bytes:
    """32 random bytes kept base64-encoded in `path`, made (mode 0600) on first use; several
    processes starting at once all end up with the first writer's key."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(base64.b64encode(secrets.token_bytes(32)))
        try:
            os.link(tmp, path)  # first writer wins when several workers start at once
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return base64.b64decode(path.read_bytes())


def mask_id_number(id_number: str) -> str:
    """`37010219850615003X` -> `3701**********003X` (region prefix and last four kept)."""
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]


def mask_phone(phone: str) -> str:
    return (
        phone[:3] + "*" * max(0, len(phone) - 7) + phone[-4:]
        if len(phone) >= 7
        else "*" * len(phone)
    )
