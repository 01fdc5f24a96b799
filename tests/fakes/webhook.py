"""Fake webhook receiver: verifies Vigilo's HMAC signature and timestamp, records what arrived."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.server import FakeClock, Injected, Injections, LoopbackFake, read_json

SECRET = "fake-webhook-secret-0123456789"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    raw: bytes
    body: Any


class FakeWebhookReceiver(LoopbackFake):
    """Knobs: secret (None = no check), tolerance_s (300)."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.inject_queue = Injections()
        self.reset()
        self.app = Starlette(routes=[Route("/{path:path}", self.receive, methods=["POST"])])

    def reset(self) -> None:
        self.secret: str | None = SECRET
        self.tolerance_s = 300.0
        self.received: list[Received] = []
        self.rejected: list[Received] = []
        if hasattr(self, "inject_queue"):
            self.inject_queue.clear()

    def inject(self, status: int = 200, body: Any = None, headers: dict[str, str] | None = None) -> None:
        self.inject_queue.add("any", Injected(status, body, headers or {}))

    async def receive(self, request: Request) -> Response:
        raw = await request.body()
        item = Received(request.url.path, dict(request.headers), raw, await read_json(request))
        injected = self.inject_queue.take("any")
        if injected is not None:
            self.received.append(item)
            return injected.response()
        if self.secret is not None:
            timestamp = request.headers.get("x-vigilo-timestamp", "")
            signature = request.headers.get("x-vigilo-signature", "")
            expected = (
                "sha256=" + hmac.new(self.secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
            )
            if not timestamp.isdigit() or abs(self.clock() - int(timestamp)) > self.tolerance_s:
                self.rejected.append(item)
                return JSONResponse({"error": "stale timestamp"}, status_code=401)
            if not hmac.compare_digest(signature, expected):
                self.rejected.append(item)
                return JSONResponse({"error": "bad signature"}, status_code=401)
        self.received.append(item)
        return Response(status_code=204)
