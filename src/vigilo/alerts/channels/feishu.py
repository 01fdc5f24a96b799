"""Feishu (飞书) and Lark custom bots: `open-apis/bot/v2/hook/<token>`. Protocol reference section 4.

Same protocol on both; only the host differs. Signing differs from DingTalk: the timestamp is
in seconds, the HMAC-SHA256 *key* is "timestamp\\nsecret" and the message is empty; `timestamp`
and `sign` travel in the JSON body. Success is `code` 0, or `StatusCode` 0 on old deployments.
Webhooks cannot upload images (an `image_key` needs a Feishu app), so snapshots are shown
through `image_url` only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from typing import Any, Literal
from urllib.parse import urlsplit

from vigilo.alerts.channels.base import Channel, ChannelConfigError, Clock, fingerprint, fit_json
from vigilo.alerts.message import AlertMessage
from vigilo.alerts.outcome import DeliveryResult
from vigilo.i18n import message as i18n_message

FEISHU_BASE_URL = "https://open.feishu.cn"
LARK_BASE_URL = "https://open.larksuite.com"
_HOOK_PATH = "/open-apis/bot/v2/hook/"
# A request body over 20 KB is refused with 9499 (im-protocols.md 4.4); keep room for timestamp and sign.
BODY_LIMIT = 20 * 1024 - 256


def feishu_sign(secret: str, timestamp_s: int) -> str:
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


def split_hook(value: str) -> tuple[str | None, str]:
    """(base URL or None, hook token) from a token or a whole webhook URL."""
    if not value.startswith(("http://", "https://")):
        return None, value
    parts = urlsplit(value)
    token = parts.path.split(_HOOK_PATH, 1)[-1].strip("/") if _HOOK_PATH in parts.path else ""
    if not token:
        raise ChannelConfigError("Feishu webhook URL does not end in /open-apis/bot/v2/hook/<token>")
    return f"{parts.scheme}://{parts.netloc}", token


class FeishuChannel(Channel):
    kind = "feishu"
    default_base_url = FEISHU_BASE_URL

    def __init__(
        self,
        name: str,
        *,
        hook: str,
        secret: str | None = None,
        keyword: str | None = None,
        format: Literal["text", "post", "interactive"] = "interactive",
        base_url: str | None = None,
        timeout: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        url_base, token = split_hook(hook)
        super().__init__(name, base_url=base_url or url_base, timeout=timeout, clock=clock)
        self._token = token
        self._secret = secret or None
        self.keyword = keyword or None
        self.format = format

    @property
    def destination_key(self) -> str:
        return f"{self.kind}:{fingerprint(self._token)}"

    def _secrets(self) -> Iterable[str]:
        return [s for s in (self._token, self._secret) if s]

    async def _send(self, message: AlertMessage) -> DeliveryResult:
        body = self._body(message)
        if self._secret:
            timestamp = int(self.clock())
            body = {"timestamp": str(timestamp), "sign": feishu_sign(self._secret, timestamp), **body}
        response = await self._post_json(f"{self.base_url}{_HOOK_PATH}{self._token}", body)
        result, _ = self._read_code(
            response, "feishu", code_keys=("code", "StatusCode"), message_keys=("msg", "StatusMessage")
        )
        if result.ok:
            result.reason = "delivered"
            if message.snapshot and not message.image_url:
                result.reason += "; snapshot not shown (Feishu webhooks take image links only)"
        return result

    def _with_keyword(self, title: str, text: str) -> tuple[str, str]:
        if self.keyword and self.keyword not in f"{title}\n{text}":
            return f"{self.keyword} {title}", text
        return title, text

    def _body(self, message: AlertMessage) -> dict[str, Any]:
        rendered = self.render(message, self.format)
        title, text = self._with_keyword(rendered.title, rendered.text)
        if self.format == "text":
            return fit_json(lambda t: self._text_body(message, t), text if rendered.text else title, BODY_LIMIT)
        if self.format == "post":
            link = rendered.extras.get("snapshot_text") or "snapshot"
            return fit_json(lambda t: self._post_body(message, title, t, link), text, BODY_LIMIT)
        color = rendered.extras.get("color") or ("red" if message.severity == "urgent" else "orange")
        return fit_json(lambda t: self._card_body(message, title, t, color), text, BODY_LIMIT)

    def _text_body(self, message: AlertMessage, text: str) -> dict[str, Any]:
        mentions = [f'<at user_id="{uid}"></at>' for uid in message.mention_user_ids]
        if message.at_all:
            mentions.append(f'<at user_id="all">{i18n_message("alerts_at_all", self.templates.locale)}</at>')
        if mentions:
            text += "\n" + " ".join(mentions)
        return {"msg_type": "text", "content": {"text": text}}

    def _post_body(self, message: AlertMessage, title: str, text: str, link: str) -> dict[str, Any]:
        paragraphs: list[list[dict[str, Any]]] = [
            [{"tag": "text", "text": line}] for line in text.splitlines() if line.strip()
        ]
        if message.image_url:
            paragraphs.append([{"tag": "a", "text": link, "href": message.image_url}])
        at = [{"tag": "at", "user_id": uid} for uid in message.mention_user_ids]
        if message.at_all:
            at.append({"tag": "at", "user_id": "all"})
        if at:
            paragraphs.append(at)
        return {"msg_type": "post", "content": {"post": {"zh_cn": {"title": title, "content": paragraphs}}}}

    def _card_body(self, message: AlertMessage, title: str, markdown: str, color: str) -> dict[str, Any]:
        mentions = [f"<at id={uid}></at>" for uid in message.mention_user_ids]
        if message.at_all:
            mentions.append("<at id=all></at>")
        if mentions:
            markdown += "\n" + " ".join(mentions)
        return {
            "msg_type": "interactive",
            "card": {
                "config": {"wide_screen_mode": True},
                "header": {"title": {"tag": "plain_text", "content": title}, "template": color},
                "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": markdown}}],
            },
        }


class LarkChannel(FeishuChannel):
    """Lark, the international Feishu: same protocol on open.larksuite.com."""

    kind = "lark"
    default_base_url = LARK_BASE_URL
