"""Fake Feishu/Lark custom bot (`/open-apis/bot/v2/hook/{token}`), per the protocol reference 4.6."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.server import FakeClock, Injected, Injections, LoopbackFake, RateWindow, client_ip, read_json

TOKEN = "fake-feishu-hook-0000-0000-000000000001"
SECRET = "fakeFeishuSecret0123456789"
MSG_TYPES = {"text", "post", "image", "share_chat", "interactive"}


@dataclass
class Bot:
    secret: str | None = None
    keywords: list[str] = field(default_factory=list)
    allowed_ips: set[str] | None = None
    per_second: RateWindow = field(default_factory=lambda: RateWindow(5, 1))
    per_minute: RateWindow = field(default_factory=lambda: RateWindow(100, 60))


def _visible_text(node: Any, key: str = "") -> str:
    """Text-like fields (text, title, content, lark_md), not links (`href`)."""
    if isinstance(node, dict):
        return "\n".join(_visible_text(v, k) for k, v in node.items() if k not in ("href", "url", "tag"))
    if isinstance(node, list):
        return "\n".join(_visible_text(v, key) for v in node)
    return str(node) if isinstance(node, str) and key in ("text", "title", "content") else ""


class FakeFeishu(LoopbackFake):
    """Knobs: bots (token -> Bot), legacy_success (answer only StatusCode), rate_limit_status (HTTP
    status sent with 11232; 200 by default)."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.inject_queue = Injections()
        self.reset()
        self.app = Starlette(routes=[Route("/open-apis/bot/v2/hook/{token}", self.hook, methods=["POST"])])

    def reset(self) -> None:
        self.bots: dict[str, Bot] = {TOKEN: Bot(secret=SECRET)}
        self.legacy_success = False
        self.rate_limit_status = 200
        self.requests: list[dict[str, Any]] = []
        self.delivered: list[dict[str, Any]] = []
        if hasattr(self, "inject_queue"):
            self.inject_queue.clear()

    def inject(self, status: int = 200, body: Any = None, headers: dict[str, str] | None = None) -> None:
        self.inject_queue.add("hook", Injected(status, body, headers or {}))

    @staticmethod
    def _fail(code: int, msg: str, status: int = 200) -> JSONResponse:
        return JSONResponse({"code": code, "data": {}, "msg": msg}, status_code=status)

    async def hook(self, request: Request) -> Response:
        raw = await request.body()
        body = await read_json(request)
        self.requests.append(body if isinstance(body, dict) else {"_raw": raw[:200].decode(errors="replace")})
        injected = self.inject_queue.take("hook")
        if injected is not None:
            return injected.response()
        bot = self.bots.get(request.path_params["token"])
        if bot is None:
            return self._fail(19001, "param invalid: incoming webhook access token invalid")
        if len(raw) > 20 * 1024 or not isinstance(body, dict):
            return self._fail(9499, "Bad Request")
        if bot.secret is not None:
            timestamp = str(body.get("timestamp", ""))
            sign = body.get("sign")
            ok = timestamp.isdigit() and abs(self.clock() - int(timestamp)) <= 3600
            if ok:
                key = f"{timestamp}\n{bot.secret}".encode()
                expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
                ok = isinstance(sign, str) and hmac.compare_digest(sign, expected)
            if not ok:
                return self._fail(19021, "sign match fail or timestamp is not within one hour from current time")
        if bot.allowed_ips is not None and client_ip(request) not in bot.allowed_ips:
            return self._fail(19022, "Ip Not Allowed")
        if bot.keywords:
            text = _visible_text(body.get("content")) + _visible_text(body.get("card"))
            if not any(k in text for k in bot.keywords):
                return self._fail(19024, "Key Words Not Found")
        msg_type = body.get("msg_type")
        if msg_type not in MSG_TYPES:
            return self._fail(9499, "Bad Request")
        payload_key = "card" if msg_type == "interactive" else "content"
        if not isinstance(body.get(payload_key), dict):
            return self._fail(9499, "Bad Request")
        now = self.clock()
        if bot.per_second.full(now) or bot.per_minute.full(now):
            return self._fail(
                11232, "frequency limited psm[lark.oapi.app_platform_runtime]appID[1]", self.rate_limit_status
            )
        bot.per_second.add(now)
        bot.per_minute.add(now)
        self.delivered.append(body)
        if self.legacy_success:
            return JSONResponse({"StatusCode": 0, "StatusMessage": "success"})
        return JSONResponse(
            {"code": 0, "msg": "success", "data": {}, "Extra": None, "StatusCode": 0, "StatusMessage": "success"}
        )
