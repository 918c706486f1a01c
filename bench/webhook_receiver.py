"""The webhook benchmark's receiver: a bare ASGI app for `uvicorn --http httptools --workers N`.

One receiver stands for one subscriber (its own port, its own secret). Every POST is verified
with the `standardwebhooks` package (`Webhook.verify`: signature and timestamp) and answered
204; an unverifiable one is answered 400. Each worker process appends the `webhook-id` of every
verified request to `<BENCH_RECEIVER_OUT>/<pid>.ids` (and `!` for each rejected one), so the
harness counts losses and duplicates across all workers after the run without any shared state
slowing the receiver down. Configured by the environment: BENCH_RECEIVER_SECRET,
BENCH_RECEIVER_OUT.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

FLUSH_EVERY = 256
SIGNED = (b"webhook-id", b"webhook-timestamp", b"webhook-signature")

_webhook = Webhook(os.environ.get("BENCH_RECEIVER_SECRET", "whsec_" + "A" * 32))
_out_dir = Path(os.environ.get("BENCH_RECEIVER_OUT", "."))
_pending: list[str] = []


def _flush() -> None:
    if _pending:
        with (_out_dir / f"{os.getpid()}.ids").open("a") as fh:
            fh.write("\n".join(_pending) + "\n")
        _pending.clear()


async def _answer(send: Any, status: int) -> None:
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                _flush()
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    if scope["method"] != "POST":  # the harness's readiness probe
        await _answer(send, 204)
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = {k.decode(): v.decode() for k, v in scope["headers"] if k in SIGNED}
    try:
        _webhook.verify(body, headers)
    except WebhookVerificationError:
        _pending.append("!")
        await _answer(send, 400)
    else:
        _pending.append(headers["webhook-id"])
        await _answer(send, 204)
    if len(_pending) >= FLUSH_EVERY:
        _flush()
