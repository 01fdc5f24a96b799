"""WeCom (企业微信) self-built application messages: gettoken, message/send, media/upload.

Protocol reference section 1. The access token is cached per application (corp id + a hash
of the secret) and shared by every channel of that application; it is reused until five
minutes before `expires_in` runs out, and dropped as soon as a call answers 40001/40014/42001,
after which the call is made once more with a fresh token.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from vigilo.alerts.channels.base import Channel, Clock, fingerprint, truncate_utf8
from vigilo.alerts.message import AlertMessage
from vigilo.alerts.outcome import DeliveryResult, Outcome
from vigilo.i18n import message as i18n_message

log = logging.getLogger("vigilo.alerts")

TOKEN_ERRORS = frozenset({40001, 40014, 42001, 41001})
TEXT_LIMIT = 2048  # bytes, text and markdown
TEXTCARD_TITLE_LIMIT = 128  # bytes
TEXTCARD_LIMIT = 512  # bytes of description
_FROM_IP = re.compile(r"from ip:\s*([0-9a-fA-F.:]+)")


@dataclass
class _Token:
    value: str
    refresh_at: float  # clock time after which a new token is fetched


# Shared by all channels of one application within the process; keyed without the secret itself.
_TOKENS: dict[tuple[str, str, str], _Token] = {}
_TOKEN_LOCKS: dict[tuple[str, str, str, str], asyncio.Lock] = {}


def clear_token_cache() -> None:
    _TOKENS.clear()
    _TOKEN_LOCKS.clear()


class _TokenFailure(Exception):
    def __init__(self, result: DeliveryResult) -> None:
        super().__init__(result.reason)
        self.result = result


class WeComAppChannel(Channel):
    kind = "wecom"
    default_base_url = "https://qyapi.weixin.qq.com"

    def __init__(
        self,
        name: str,
        *,
        corp_id: str,
        agent_id: int,
        secret: str,
        touser: Iterable[str] = ("@all",),
        toparty: Iterable[str] = (),
        totag: Iterable[str] = (),
        format: Literal["text", "markdown", "textcard"] = "text",
        card_url: str | None = None,
        duplicate_check_interval: int = 1800,
        safe: bool = False,
        base_url: str | None = None,
        timeout: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(name, base_url=base_url, timeout=timeout, clock=clock)
        self.corp_id = corp_id
        self.agent_id = agent_id
        self._secret = secret
        self.touser = list(touser)
        self.toparty = list(toparty)
        self.totag = list(totag)
        self.format = format
        self.card_url = card_url
        self.duplicate_check_interval = duplicate_check_interval
        self.safe = safe
        # media_id per idempotency key, so a retried send repeats byte-identical JSON and
        # WeCom's duplicate check can drop it (media ids live 3 days).
        self._media: dict[str, tuple[str, float]] = {}

    @property
    def destination_key(self) -> str:
        recipients = "|".join(sorted(self.touser)) + "/" + "|".join(sorted(self.toparty))
        recipients += "/" + "|".join(sorted(self.totag))
        return f"wecom:{self.corp_id}:{self.agent_id}:{fingerprint(recipients)}"

    def _secrets(self) -> Iterable[str]:
        tokens = [t.value for k, t in _TOKENS.items() if k == self._cache_key]
        return [self._secret, *tokens]

    @property
    def _cache_key(self) -> tuple[str, str, str]:
        return (self.base_url, self.corp_id, fingerprint(self._secret))

    # -- token -----------------------------------------------------------------------------

    async def _token(self, *, force: bool = False) -> str:
        key = self._cache_key
        # One lock per app and event loop: concurrent sends fetch one token, not one each.
        lock = _TOKEN_LOCKS.setdefault((*key, str(id(asyncio.get_running_loop()))), asyncio.Lock())
        async with lock:
            cached = _TOKENS.get(key)
            if cached is not None and not force and self.clock() < cached.refresh_at:
                return cached.value
            response = await self.client.get(
                f"{self.base_url}/cgi-bin/gettoken",
                params={"corpid": self.corp_id, "corpsecret": self._secret},
            )
            result, payload = self._read_code(response, "wecom_gettoken")
            if not result.ok or payload is None:
                result.reason = "getting the access token failed: " + self._explain(result, payload)
                raise _TokenFailure(result)
            token = payload.get("access_token")
            if not isinstance(token, str) or not token:
                raise _TokenFailure(
                    DeliveryResult(
                        Outcome.RETRY,
                        0,
                        "gettoken answered without an access_token",
                        None,
                        response.status_code,
                    )
                )
            try:
                expires_in = float(payload.get("expires_in", 7200))
            except (TypeError, ValueError):
                expires_in = 7200.0
            # Refresh five minutes early (half the lifetime for unusually short tokens).
            margin = 300.0 if expires_in > 600 else expires_in / 2
            _TOKENS[key] = _Token(token, self.clock() + expires_in - margin)
            self._redactor = None  # the new token joins the scrub list
            log.debug("channel %s: new WeCom access token, valid %.0f s", self.name, expires_in)
            return token

    def _drop_token(self, token: str) -> None:
        cached = _TOKENS.get(self._cache_key)
        if cached is not None and cached.value == token:
            del _TOKENS[self._cache_key]

    async def _call(
        self,
        path: str,
        *,
        json_body: dict[str, Any] | None = None,
        files: Any = None,
        params: dict[str, str] | None = None,
    ) -> tuple[DeliveryResult, dict[str, Any] | None]:
        """POST to a business API with the token; on a token error fetch a new one and try once more."""
        for attempt in (1, 2):
            token = await self._token(force=attempt == 2)
            query = {"access_token": token, **(params or {})}
            url = f"{self.base_url}/cgi-bin/{path}"
            if files is not None:
                response = await self.client.post(url, params=query, files=files)
            else:
                response = await self._post_json(url, json_body or {}, params=query)
            result, payload = self._read_code(response, "wecom")
            if result.outcome is Outcome.REFRESH_TOKEN:
                self._drop_token(token)
                if attempt == 1:
                    log.info(
                        "channel %s: WeCom token rejected (code %s), refreshing",
                        self.name,
                        result.platform_code,
                    )
                    continue
            return result, payload
        raise AssertionError("unreachable")

    # -- sending ---------------------------------------------------------------------------

    async def _send(self, message: AlertMessage) -> DeliveryResult:
        try:
            media_id = await self._upload_snapshot(message) if message.snapshot else None
            if isinstance(media_id, DeliveryResult):
                media_id.reason = "uploading the snapshot failed: " + media_id.reason
                return media_id
            result, payload = await self._call("message/send", json_body=self._body(message))
            if not result.ok:
                result.reason = self._explain(result, payload)
                return result
            result.reason = self._partial_note(payload) or "delivered"
            if media_id is not None:
                image = self._envelope(message, "image")
                image["image"] = {"media_id": media_id}
                image_result, image_payload = await self._call("message/send", json_body=image)
                if not image_result.ok:
                    # The text is out; a retry would repeat it, so report the text as sent.
                    result.reason += "; snapshot image not delivered: " + self._explain(image_result, image_payload)
            return result
        except _TokenFailure as failure:
            return failure.result

    async def _upload_snapshot(self, message: AlertMessage) -> str | DeliveryResult:
        assert message.snapshot is not None
        key = message.idempotency_key
        cached = self._media.get(key) if key else None
        if cached is not None and self.clock() - cached[1] < 2 * 86400:
            return cached[0]
        files = {"media": ("snapshot.jpg", message.snapshot, "image/jpeg")}
        result, payload = await self._call("media/upload", files=files, params={"type": "image"})
        if not result.ok or payload is None:
            result.reason = self._explain(result, payload)
            return result
        media_id = payload.get("media_id")
        if not isinstance(media_id, str) or not media_id:
            return DeliveryResult(
                Outcome.RETRY, 0, "media/upload answered without a media_id", None, result.http_status
            )
        if key:
            self._media[key] = (media_id, self.clock())
        return media_id

    def _envelope(self, message: AlertMessage, msgtype: str) -> dict[str, Any]:
        body: dict[str, Any] = {"msgtype": msgtype, "agentid": self.agent_id}
        # An app message has no @-mentions: mentioned user ids are added as recipients. `at_all`
        # does not widen the audience to the whole company; that is the configured touser's call.
        if "@all" in self.touser:
            body["touser"] = "@all"
        else:
            users = [*self.touser, *message.mention_user_ids]
            if users:
                body["touser"] = "|".join(dict.fromkeys(users))
            if self.toparty:
                body["toparty"] = "|".join(self.toparty)
            if self.totag:
                body["totag"] = "|".join(self.totag)
        if self.safe:
            body["safe"] = 1
        if message.idempotency_key and self.duplicate_check_interval > 0:
            body["enable_duplicate_check"] = 1
            body["duplicate_check_interval"] = self.duplicate_check_interval
        return body

    def _body(self, message: AlertMessage) -> dict[str, Any]:
        fmt = self.format
        if fmt == "textcard" and not (self.card_url or message.image_url):
            fmt = "text"  # textcard needs a url
        body = self._envelope(message, fmt)
        # The duplicate check compares whole request bodies; a per-alert reference keeps two
        # different alerts with the same wording from being merged into one.
        ref = f"\n\nref: {message.idempotency_key}" if "enable_duplicate_check" in body else ""
        rendered = self.render(message, fmt)
        if fmt == "textcard":
            button = rendered.extras.get("button") or i18n_message("alerts_card_button", self.templates.locale)
            body["textcard"] = {
                "title": truncate_utf8(rendered.title, TEXTCARD_TITLE_LIMIT),
                "description": truncate_utf8(rendered.text, TEXTCARD_LIMIT - len(ref.encode())) + ref,
                "url": self.card_url or message.image_url,
                "btntxt": button[:4],
            }
        else:
            body[fmt] = {"content": truncate_utf8(rendered.text, TEXT_LIMIT - len(ref.encode())) + ref}
        return body

    @staticmethod
    def _partial_note(payload: dict[str, Any] | None) -> str:
        if not payload:
            return ""
        parts = []
        for key, label in (
            ("invaliduser", "users"),
            ("invalidparty", "departments"),
            ("invalidtag", "tags"),
            ("unlicenseduser", "unlicensed users"),
        ):
            value = payload.get(key)
            if isinstance(value, str) and value:
                parts.append(f"{label} {value}")
        return ("delivered, but not to invalid " + ", ".join(parts)) if parts else ""

    @staticmethod
    def _explain(result: DeliveryResult, payload: dict[str, Any] | None) -> str:
        if result.platform_code == 60020 and payload is not None:
            match = _FROM_IP.search(str(payload.get("errmsg", "")))
            ip = match.group(1) if match else "this server's address"
            return (
                f"WeCom refuses calls from {ip}: add it to the application's trusted IPs "
                "(企业可信IP) in the WeCom admin console (code 60020)"
            )
        return result.reason
