"""Request body limit, enforced before the body is read into memory."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vigilo.i18n import message, pick_locale


class BodySizeLimit:
    """ASGI middleware: rejects bodies above `max_bytes` with 413, whether or not Content-Length is sent.

    Written by hand because Starlette has no body limit and uvicorn's only applies to headers.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, default_locale: str = "zh-CN") -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.default_locale = default_locale

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(scope, send)
            return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            msg = await receive()
            if msg["type"] == "http.request":
                received += len(msg.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return msg

        async def tracking_send(msg: Message) -> None:
            nonlocal response_started
            if msg["type"] == "http.response.start":
                response_started = True
            await send(msg)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not response_started:
                await self._reject(scope, send)

    async def _reject(self, scope: Scope, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        accept = headers.get(b"accept-language", b"").decode("latin-1")
        locale = pick_locale(accept, "en" if self.default_locale == "en" else "zh-CN")
        limit_mb = round(self.max_bytes / (1024 * 1024), 2)
        body = json.dumps(
            {"code": "body_too_large", "message": message("body_too_large", locale, limit_mb=limit_mb)},
            ensure_ascii=False,
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass
