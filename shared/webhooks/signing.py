"""Webhook secrets and the Standard Webhooks headers (`webhook-id`, `-timestamp`, `-signature`).

Secrets are stored encrypted with the data key (`shared.crypto`, AES-GCM), bound to their
subscription's id as associated data (a ciphertext copied to another row does not open): the
dispatcher needs the secret itself to sign (HMAC), so a hash would not do, but a copy of the
database alone must not let anyone forge our messages.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

from standardwebhooks import Webhook

from shared.crypto import PersonalDataCipher


def new_secret() -> str:
    """24 random bytes in the `whsec_<base64>` form the standardwebhooks libraries read."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _aad(subscription_id: uuid.UUID) -> bytes:
    return b"webhook-secret:" + subscription_id.bytes


def seal_secret(cipher: PersonalDataCipher, subscription_id: uuid.UUID, secret: str) -> bytes:
    """The secret as stored in `webhook_subscriptions.secret_enc` (or `previous_secret_enc`)."""
    return cipher.encrypt(secret, _aad(subscription_id))


def open_secret(cipher: PersonalDataCipher, subscription_id: uuid.UUID, sealed: bytes) -> str:
    return cipher.decrypt(sealed, _aad(subscription_id))


@lru_cache(maxsize=1024)
def _webhook(secret: str) -> Webhook:
    """The signer of a secret (decoding the secret once, not for every message)."""
    return Webhook(secret)


def headers(msg_id: str, timestamp: datetime, body: str, secrets_: Sequence[str]) -> dict[str, str]:
    """The signed headers; with several secrets (a rotation's overlap) one signature each,
    space-separated, so a receiver holding either secret verifies the message."""
    signatures = [_webhook(s).sign(msg_id, timestamp, body) for s in secrets_]
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
        "user-agent": "shandong-skills-webhooks/1.0",
    }
