"""The registry's RS256 signing keys: generated on first run, kept in KEY_DIR, published as JWKS.

`signing-key.pem` signs; every other `*.pem` in the folder is a retired key still published so
tokens it signed stay valid until they expire (see `python -m shared.cli rotate-key`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

CURRENT_KEY_FILE = "signing-key.pem"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    @property
    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return jwk


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def thumbprint(key: rsa.RSAPrivateKey) -> str:
    """RFC 7638 JWK thumbprint: a stable key id derived from the public key."""
    numbers = key.public_key().public_numbers()
    canonical = json.dumps(
        {"e": _b64(numbers.e), "kty": "RSA", "n": _b64(numbers.n)}, separators=(",", ":")
    )
    return (
        base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    )


def _load(path: Path) -> SigningKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path} is not an RSA private key")
    return SigningKey(kid=thumbprint(key), private_key=key)


def _generate(path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    try:
        # link() fails if another process won the race; then everyone uses the winner's key.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def load_or_create_keys(key_dir: Path) -> tuple[SigningKey, list[SigningKey]]:
    """Return the current signing key and every published key (current first)."""
    key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    current_path = key_dir / CURRENT_KEY_FILE
    if not current_path.exists():
        _generate(current_path)
    current = _load(current_path)
    retired = [_load(p) for p in sorted(key_dir.glob("*.pem")) if p.name != CURRENT_KEY_FILE]
    return current, [current, *retired]


def rotate_key(key_dir: Path) -> SigningKey:
    current_path = key_dir / CURRENT_KEY_FILE
    if current_path.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        current_path.rename(key_dir / f"retired-{stamp}.pem")
    current, _ = load_or_create_keys(key_dir)
    return current


def jwks(keys: list[SigningKey]) -> dict[str, Any]:
    return {"keys": [k.public_jwk for k in keys]}
