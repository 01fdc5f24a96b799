"""Fake WeCom: application API (gettoken, message/send, media/upload) and the group robot.

Follows the protocol reference sections 1.5 and 2.3. Errors come back as HTTP 200 with an
errcode, as on the real platform.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.server import FakeClock, Injected, Injections, LoopbackFake, RateWindow, client_ip, read_json

CORP_ID = "ww-fake-corp-0001"
APP_SECRET = "fake-app-secret-0123456789abcdef"
AGENT_ID = 1000002
BOT_KEY = "00000000-fake-bot0-key0-000000000001"

TEXT_TYPES = {"text": 2048, "markdown": 2048}
MSGTYPES = {"text", "markdown", "textcard", "image", "news", "file", "voice", "video", "mpnews", "template_card"}


def _err(code: int, msg: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"errcode": code, "errmsg": msg, **extra})


@dataclass
class TokenInfo:
    expires_at: float
    revoked: bool = False


@dataclass
class Delivery:
    """One message that reached its recipients."""

    body: dict[str, Any]
    recipients: list[str]


class FakeWeComApp(LoopbackFake):
    """Knobs (set on the instance): token_ttl, same_token_within_validity, allowed_ips,
    known_users, over_length ("reject" -> 45002, or "truncate"), api_limit_per_min, member_limit_per_min,
    gettoken_limit_per_min, duplicate_answer (errcode for a suppressed duplicate, default 0)."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.inject_queue = Injections()
        self._lock = threading.Lock()
        self.reset()
        self.app = Starlette(
            routes=[
                Route("/cgi-bin/gettoken", self.gettoken, methods=["GET"]),
                Route("/cgi-bin/message/send", self.message_send, methods=["POST"]),
                Route("/cgi-bin/media/upload", self.media_upload, methods=["POST"]),
            ]
        )

    def reset(self) -> None:
        self.corp_id = CORP_ID
        self.secret = APP_SECRET
        self.agent_id = AGENT_ID
        self.token_ttl = 7200
        self.same_token_within_validity = False
        self.allowed_ips: set[str] | None = None
        self.known_users: set[str] | None = None
        self.over_length = "reject"
        self.api_limit_per_min = 10_000
        self.member_limit_per_min = 30
        self.gettoken_limit_per_min = 1000
        self.duplicate_answer = 0
        self.tokens: dict[str, TokenInfo] = {}
        self.media: dict[str, tuple[bytes, float]] = {}
        self.gettoken_calls = 0
        self.requests: list[tuple[str, dict[str, Any]]] = []  # every business request (path, JSON body)
        self.delivered: list[Delivery] = []
        self.suppressed: list[dict[str, Any]] = []  # dropped by the duplicate check
        self.silently_dropped: list[tuple[str, dict[str, Any]]] = []  # (user, body) over 30/min
        self._dup_seen: dict[str, float] = {}
        self._counter = itertools.count(1)
        self._api_window = RateWindow(self.api_limit_per_min, 60)
        self._gettoken_window = RateWindow(self.gettoken_limit_per_min, 60)
        self._blocked_until = 0.0
        self._member_windows: dict[str, RateWindow] = defaultdict(lambda: RateWindow(self.member_limit_per_min, 60))
        if hasattr(self, "inject_queue"):
            self.inject_queue.clear()

    # -- control -------------------------------------------------------------------------

    def inject(self, path: str, status: int = 200, body: Any = None, headers: dict[str, str] | None = None) -> None:
        self.inject_queue.add(path, Injected(status, body, headers or {}))

    def revoke_tokens(self) -> None:
        """Early invalidation: every token issued so far answers 40014 from now on."""
        for info in self.tokens.values():
            info.revoked = True

    # -- endpoints -----------------------------------------------------------------------

    async def gettoken(self, request: Request) -> Response:
        injected = self.inject_queue.take("/cgi-bin/gettoken")
        if injected is not None:
            return injected.response()
        now = self.clock()
        with self._lock:
            self.gettoken_calls += 1
            self._gettoken_window.limit = self.gettoken_limit_per_min
            if self._gettoken_window.full(now):
                return _err(45009, "api freq out of limit")
            self._gettoken_window.add(now)
        if request.query_params.get("corpid") != self.corp_id:
            return _err(40013, "invalid corpid")
        if request.query_params.get("corpsecret") != self.secret:
            return _err(40001, "invalid credential, hint: [fake]")
        if ip_error := self._ip_check(request):
            return ip_error
        with self._lock:
            if self.same_token_within_validity:
                for token, info in self.tokens.items():
                    if not info.revoked and info.expires_at > now:
                        return _err(0, "ok", access_token=token, expires_in=int(info.expires_at - now))
            token = f"tok-{next(self._counter):04d}-" + hashlib.sha256(str(now).encode()).hexdigest()[:24]
            self.tokens[token] = TokenInfo(now + self.token_ttl)
        return _err(0, "ok", access_token=token, expires_in=self.token_ttl)

    def _ip_check(self, request: Request) -> Response | None:
        ip = client_ip(request)
        if self.allowed_ips is not None and ip not in self.allowed_ips:
            return _err(
                60020,
                f"not allow to access from your ip, hint: [1655882753557010848204971], from ip: {ip}, "
                "more info at https://open.work.weixin.qq.com/devtool/query?e=60020",
            )
        return None

    def _auth(self, request: Request) -> Response | None:
        token = request.query_params.get("access_token")
        if not token:
            return _err(41001, "access_token missing")
        info = self.tokens.get(token)
        if info is None or info.revoked:
            return _err(40014, "invalid access_token")
        if self.clock() >= info.expires_at:
            return _err(42001, "access_token expired")
        return self._ip_check(request)

    def _frequency(self) -> Response | None:
        now = self.clock()
        with self._lock:
            if now < self._blocked_until:
                return _err(45009, "api freq out of limit")
            self._api_window.limit = self.api_limit_per_min
            if self._api_window.full(now):
                self._blocked_until = now + 60  # minute-level block lasts 60 s
                return _err(45009, "api freq out of limit")
            self._api_window.add(now)
        return None

    async def message_send(self, request: Request) -> Response:
        body = await read_json(request)
        self.requests.append(("message/send", body if isinstance(body, dict) else {"_raw": True}))
        injected = self.inject_queue.take("/cgi-bin/message/send")
        if injected is not None:
            return injected.response()
        if error := self._auth(request):
            return error
        if error := self._frequency():
            return error
        if not isinstance(body, dict):
            return _err(47001, "data format error")
        if body.get("agentid") != self.agent_id:
            return _err(40056, "invalid agentid")
        msgtype = body.get("msgtype")
        if msgtype not in MSGTYPES:
            return _err(40008, "invalid message type")
        payload = body.get(msgtype)
        if not isinstance(payload, dict):
            return _err(40035, "invalid parameter")
        if msgtype in TEXT_TYPES:
            content = payload.get("content")
            if not isinstance(content, str) or not content:
                return _err(44004, "empty content")
            if len(content.encode()) > TEXT_TYPES[msgtype] and self.over_length == "reject":
                return _err(45002, "content size out of limit")
        elif msgtype == "textcard":
            if not all(isinstance(payload.get(k), str) and payload.get(k) for k in ("title", "description", "url")):
                return _err(40063, "some parameters are empty")
        elif msgtype == "image":
            media = self.media.get(str(payload.get("media_id")))
            if media is None or self.clock() - media[1] > 3 * 86400:
                return _err(40007, "invalid media_id")
        users = [u for u in str(body.get("touser", "")).split("|") if u]
        parties = [p for p in str(body.get("toparty", "")).split("|") if p]
        tags = [t for t in str(body.get("totag", "")).split("|") if t]
        if not users and not parties and not tags:
            return _err(40063, "some parameters are empty")
        if users == ["@all"]:
            valid, invalid = ["@all"], []
        elif self.known_users is None:
            valid, invalid = users, []
        else:
            valid = [u for u in users if u in self.known_users]
            invalid = [u.lower() for u in users if u not in self.known_users]
        if not valid and not parties and not tags:
            return _err(81013, "user & party & tag all invalid")
        now = self.clock()
        if body.get("enable_duplicate_check") == 1:
            interval = min(int(body.get("duplicate_check_interval", 1800)), 14400)
            fingerprint = json.dumps(body, sort_keys=True, ensure_ascii=False)
            with self._lock:
                seen = self._dup_seen.get(fingerprint)
                if seen is not None and now - seen < interval:
                    self.suppressed.append(body)
                    return _err(self.duplicate_answer, "ok", invaliduser="", msgid="")
                self._dup_seen[fingerprint] = now
        reached = []
        for user in valid:
            window = self._member_windows[user]
            if window.full(now):
                self.silently_dropped.append((user, body))  # the real API says nothing
                continue
            window.add(now)
            reached.append(user)
        self.delivered.append(Delivery(body, reached + parties + tags))
        return _err(
            0,
            "ok",
            invaliduser="|".join(invalid),
            invalidparty="",
            invalidtag="",
            unlicenseduser="",
            msgid=f"MSGID-{next(self._counter)}",
            response_code="",
        )

    async def media_upload(self, request: Request) -> Response:
        injected = self.inject_queue.take("/cgi-bin/media/upload")
        if injected is not None:
            return injected.response()
        if error := self._auth(request):
            return error
        kind = request.query_params.get("type")
        if kind not in ("image", "voice", "video", "file"):
            return _err(40005, "invalid file type")
        form = await request.form()
        upload = form.get("media")
        if upload is None or isinstance(upload, str):
            return _err(44001, "empty media data")
        data = await upload.read()
        self.requests.append(("media/upload", {"type": kind, "size": len(data), "filename": upload.filename}))
        if len(data) <= 5:
            return _err(40006, "invalid file size")
        if kind == "image":
            if len(data) > 10 * 1024 * 1024:
                return _err(40009, "invalid image size")
            if not (data.startswith(b"\xff\xd8\xff") or data.startswith(b"\x89PNG")):
                return _err(40004, "invalid media type")
        media_id = f"MEDIA-{next(self._counter)}"
        self.media[media_id] = (data, self.clock())
        return _err(0, "", type=kind, media_id=media_id, created_at=str(int(self.clock())))


class FakeWeComBot(LoopbackFake):
    """Group robot: `webhook/send?key=`. Knobs: keys, rate_limit (20/min), window ("sliding"/"fixed"),
    md5_mismatch_code, max_image_bytes (2 MB)."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.inject_queue = Injections()
        self.reset()
        self.app = Starlette(routes=[Route("/cgi-bin/webhook/send", self.send, methods=["POST"])])

    def reset(self) -> None:
        self.keys = {BOT_KEY}
        self.rate_limit = 20
        self.window = "sliding"
        self.md5_mismatch_code = 40035
        self.max_image_bytes = 2 * 1024 * 1024
        self.requests: list[dict[str, Any]] = []
        self.delivered: list[dict[str, Any]] = []
        self._windows: dict[str, RateWindow] = {}
        if hasattr(self, "inject_queue"):
            self.inject_queue.clear()

    def inject(self, status: int = 200, body: Any = None, headers: dict[str, str] | None = None) -> None:
        self.inject_queue.add("send", Injected(status, body, headers or {}))

    async def send(self, request: Request) -> Response:
        body = await read_json(request)
        self.requests.append(body if isinstance(body, dict) else {"_raw": True})
        injected = self.inject_queue.take("send")
        if injected is not None:
            return injected.response()
        key = request.query_params.get("key", "")
        if key not in self.keys:
            return _err(93000, "invalid webhook url, hint: [fake]")
        if not isinstance(body, dict):
            return _err(40035, "invalid parameter")
        msgtype = body.get("msgtype")
        payload = body.get(msgtype) if isinstance(msgtype, str) else None
        if msgtype not in ("text", "markdown", "markdown_v2", "image", "news", "file", "voice", "template_card"):
            return _err(40008, "invalid message type")
        if not isinstance(payload, dict):
            return _err(40035, "invalid parameter")
        if msgtype in ("text", "markdown", "markdown_v2"):
            content = payload.get("content")
            if not isinstance(content, str) or not content:
                return _err(44004, "empty content")
            limit = 2048 if msgtype == "text" else 4096
            if len(content.encode()) > limit:
                return _err(45002, "content size out of limit")
        if msgtype == "image":
            try:
                raw = base64.b64decode(str(payload.get("base64", "")), validate=True)
            except (binascii.Error, ValueError):
                return _err(40035, "invalid base64")
            if len(raw) > self.max_image_bytes:
                return _err(40009, "invalid image size")
            if hashlib.md5(raw).hexdigest() != payload.get("md5"):
                return _err(self.md5_mismatch_code, "image md5 mismatch")
        now = self.clock()
        window = self._windows.setdefault(key, RateWindow(self.rate_limit, 60, self.window))
        if window.full(now):
            return _err(45009, "api freq out of limit")
        window.add(now)
        self.delivered.append(body)
        return _err(0, "ok")
