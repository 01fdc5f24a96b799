"""Fake DingTalk custom robot (`/robot/send`), per the protocol reference section 3.5.

Check order: method -> token -> IP -> sign/timestamp -> keyword -> body schema -> rate limit.
Every answer is HTTP 200 with an errcode, as on the real platform.
"""

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

TOKEN = "fake-dingtalk-token-0123456789abcdef0123456789abcdef"
SECRET = "SECfake0000000000000000000000000000000000000000000000000000000000"

MSGTYPES = {"text", "markdown", "link", "actionCard", "feedCard", "image"}


def _err(code: int, msg: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"errcode": code, "errmsg": msg, **extra})


@dataclass
class Robot:
    secret: str | None = None
    keywords: list[str] = field(default_factory=list)
    allowed_ips: set[str] | None = None
    window: RateWindow = field(default_factory=lambda: RateWindow(20, 60))
    blocked_until: float = 0.0


def visible_text(body: dict[str, Any]) -> str:
    """The text fields a keyword check looks at (title/text/content of every message type)."""
    msgtype = body.get("msgtype")
    payload = body.get(msgtype) if isinstance(msgtype, str) else None
    if not isinstance(payload, dict):
        return ""
    parts = [str(payload.get(k, "")) for k in ("content", "title", "text")]
    for link in payload.get("links", []) if isinstance(payload.get("links"), list) else []:
        parts.append(str(link.get("title", "")))
    return "\n".join(parts)


class FakeDingTalk(LoopbackFake):
    """Knobs: robots (token -> Robot), rate_limit (20), block_seconds (600), throttle_code
    (410100 or 130101), honour_msg_uuid."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.inject_queue = Injections()
        self.reset()
        self.app = Starlette(routes=[Route("/robot/send", self.send, methods=["GET", "POST"])])

    def reset(self) -> None:
        self.robots: dict[str, Robot] = {TOKEN: Robot(secret=SECRET)}
        self.rate_limit = 20
        self.block_seconds = 600.0
        self.throttle_code = 410100
        self.honour_msg_uuid = True
        self.requests: list[dict[str, Any]] = []  # {"query": {...}, "body": ...}
        self.delivered: list[dict[str, Any]] = []
        self.duplicates: list[dict[str, Any]] = []
        self._uuids: set[str] = set()
        if hasattr(self, "inject_queue"):
            self.inject_queue.clear()

    def inject(self, status: int = 200, body: Any = None, headers: dict[str, str] | None = None) -> None:
        self.inject_queue.add("send", Injected(status, body, headers or {}))

    async def send(self, request: Request) -> Response:
        body = await read_json(request)
        query = dict(request.query_params)
        self.requests.append({"query": query, "body": body, "raw_query": request.url.query})
        injected = self.inject_queue.take("send")
        if injected is not None:
            return injected.response()
        if request.method != "POST":
            return _err(43002, "需要POST请求")
        token = query.get("access_token")
        if not token:
            return _err(40035, "缺少参数 access_token")
        robot = self.robots.get(token)
        if robot is None:
            return _err(300005, "token is not exist")
        ip = client_ip(request)
        if robot.allowed_ips is not None and ip not in robot.allowed_ips:
            return _err(310000, f"ip {ip} not in whitelist")
        if robot.secret is not None:
            timestamp, sign = query.get("timestamp", ""), query.get("sign", "")
            if not timestamp.isdigit() or abs(self.clock() * 1000 - int(timestamp)) > 3600 * 1000:
                return _err(310000, "invalid timestamp")
            expected = base64.b64encode(
                hmac.new(robot.secret.encode(), f"{timestamp}\n{robot.secret}".encode(), hashlib.sha256).digest()
            ).decode()
            # request.query_params is decoded once, as the real server does: a raw `+` became a space.
            if not hmac.compare_digest(sign, expected):
                return _err(310000, "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]")
        if not isinstance(body, dict):
            return _err(400105, "unsupported message type")  # the platform has no code of its own for bad JSON
        if robot.keywords and not any(k in visible_text(body) for k in robot.keywords):
            return _err(310000, "keywords not in content, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]")
        msgtype = body.get("msgtype")
        if msgtype not in MSGTYPES or not isinstance(body.get(msgtype), dict):
            return _err(400105, "不支持的消息类型")
        now = self.clock()
        if now < robot.blocked_until:
            return self._throttled(robot, now)
        robot.window.limit = self.rate_limit
        if robot.window.full(now):
            robot.blocked_until = now + self.block_seconds
            return self._throttled(robot, now)
        robot.window.add(now)
        uuid = body.get("msgUuid")
        if self.honour_msg_uuid and isinstance(uuid, str) and uuid:
            if uuid in self._uuids:
                self.duplicates.append(body)
                return _err(0, "ok")
            self._uuids.add(uuid)
        self.delivered.append(body)
        return _err(0, "ok")

    def _throttled(self, robot: Robot, now: float) -> Response:
        if self.throttle_code == 130101:
            wait = int(robot.blocked_until - now)
            return _err(130101, "send too fast, exceed 20 times per minute", status="fail", wait=wait, punish="block")
        return _err(self.throttle_code, "发送速度太快而限流")
