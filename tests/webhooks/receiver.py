"""A real webhook receiver on loopback for tests and the benchmark.

A tiny ASGI app served by uvicorn in a thread. Every request is verified with the
`standardwebhooks` package's own `Webhook.verify` against the receiver's secrets; unverifiable
requests are answered 400 and counted in `rejected`. Answers can be scripted (500 then 200,
410, 429 with Retry-After...), and the receiver can be stopped and started again on its port.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Message:
    webhook_id: str
    type: str
    data: dict[str, Any]
    body: bytes
    headers: dict[str, str]
    status: int  # what we answered
    at: float = field(default_factory=time.monotonic)


class Receiver:
    def __init__(self, secrets: Sequence[str] = (), port: int | None = None) -> None:
        self.port = port or free_port()
        self.secrets = list(secrets)
        self.lock = threading.Lock()
        self.messages: list[Message] = []  # every verified request, in arrival order
        self.rejected = 0
        self.script: list[tuple[int, dict[str, str]]] = []  # answers to give first
        self.default_status = 200
        self.delay = 0.0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    # --------------------------------------------------------------------------- the app

    def _verified(self, body: bytes, headers: dict[str, str]) -> bool:
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
            return True
        return False

    async def app(self, scope: dict[str, Any], receive: Callable[..., Any], send: Any) -> None:
        assert scope["type"] == "http"
        if scope["method"] == "GET" and scope["path"] == "/stats":
            await self._stats(send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        extra: dict[str, str] = {}
        with self.lock:
            if not self._verified(body, headers):
                self.rejected += 1
                status = 400
            else:
                status, extra = self.script.pop(0) if self.script else (self.default_status, {})
                payload = json.loads(body)
                self.messages.append(
                    Message(
                        webhook_id=headers["webhook-id"],
                        type=payload["type"],
                        data=payload["data"],
                        body=body,
                        headers=headers,
                        status=status,
                    )
                )
        if self.delay:
            await asyncio.sleep(self.delay)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"text/plain")]
                + [(k.encode(), v.encode()) for k, v in extra.items()],
            }
        )
        await send({"type": "http.response.body", "body": f"answered {status}".encode()})

    async def _stats(self, send: Any) -> None:
        with self.lock:
            stats = {
                "accepted": len({m.webhook_id for m in self.messages if 200 <= m.status < 300}),
                "messages": len(self.messages),
                "rejected": self.rejected,
            }
        body = json.dumps(stats).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    # ------------------------------------------------------------------------- lifecycle

    def start(self) -> Receiver:
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            interface="asgi3",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"receiver did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None

    # --------------------------------------------------------------------------- queries

    def accepted(self) -> list[Message]:
        """Messages answered 2xx, in arrival order."""
        with self.lock:
            return [m for m in self.messages if 200 <= m.status < 300]

    def accepted_ids(self) -> set[str]:
        return {m.webhook_id for m in self.accepted()}


def main() -> None:
    """Run a receiver as its own process (the benchmark): `python -m tests.webhooks.receiver
    --port 9000 --secret whsec_...`; `GET /stats` answers the counts."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", action="append", default=[])
    args = parser.parse_args()
    receiver = Receiver(args.secret, args.port)
    uvicorn.run(
        receiver.app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        lifespan="off",
        interface="asgi3",
        access_log=False,
    )


if __name__ == "__main__":
    main()
