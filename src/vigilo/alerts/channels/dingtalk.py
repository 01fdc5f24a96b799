"""DingTalk (钉钉) custom robot: `robot/send?access_token=...`. Protocol reference section 3.

加签 (signing): timestamp in milliseconds; HMAC-SHA256 keyed with the secret over
"timestamp\\nsecret"; base64; percent-encoded; `timestamp` and `sign` go in the query string.
The retry key `msgUuid` carries the alert's idempotency key. Robots cannot take uploaded
images: a snapshot is shown only through `image_url`, as a Markdown image.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable
from typing import Any, Literal
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

from vigilo.alerts.channels.base import Channel, ChannelConfigError, Clock, fingerprint, truncate_utf8
from vigilo.alerts.message import AlertMessage
from vigilo.alerts.outcome import DeliveryResult, Outcome

# DingTalk publishes no byte limit for robot text; 20,000 bytes is the figure commonly quoted for
# markdown/text content (unconfirmed, see im-protocols.md section 3). The title is only a preview.
TEXT_LIMIT = 20000
TITLE_LIMIT = 256


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """The base64 signature (not yet URL-encoded) for `timestamp_ms`."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode("utf-8"), string_to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def split_webhook(value: str) -> tuple[str | None, str]:
    """(base URL or None, access token) from a token or a whole robot webhook URL."""
    if not value.startswith(("http://", "https://")):
        return None, value
    parts = urlsplit(value)
    token = parse_qs(parts.query).get("access_token", [""])[0]
    if not token:
        raise ChannelConfigError("DingTalk webhook URL has no access_token parameter")
    return f"{parts.scheme}://{parts.netloc}", token


class DingTalkChannel(Channel):
    kind = "dingtalk"
    default_base_url = "https://oapi.dingtalk.com"

    def __init__(
        self,
        name: str,
        *,
        access_token: str,
        secret: str | None = None,
        keyword: str | None = None,
        format: Literal["text", "markdown"] = "markdown",
        base_url: str | None = None,
        timeout: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        url_base, token = split_webhook(access_token)
        super().__init__(name, base_url=base_url or url_base, timeout=timeout, clock=clock)
        self._token = token
        self._secret = secret or None
        self.keyword = keyword or None
        self.format = format

    @property
    def destination_key(self) -> str:
        return f"dingtalk:{fingerprint(self._token)}"

    def _secrets(self) -> Iterable[str]:
        return [s for s in (self._token, self._secret) if s]

    def _url(self) -> str:
        # Built by hand: the signature must be percent-encoded exactly once (`+` -> %2B), which
        # is what DingTalk's own samples do with quote_plus.
        url = f"{self.base_url}/robot/send?access_token={quote(self._token, safe='')}"
        if self._secret:
            timestamp = int(self.clock() * 1000)
            url += f"&timestamp={timestamp}&sign={quote_plus(dingtalk_sign(self._secret, timestamp))}"
        return url

    async def _send(self, message: AlertMessage) -> DeliveryResult:
        response = await self._post_json(self._url(), self._body(message))
        result, payload = self._read_code(response, "dingtalk")
        if result.ok:
            result.reason = "delivered"
            if message.snapshot and not message.image_url:
                result.reason += "; snapshot not shown (DingTalk robots take image links only)"
        elif result.outcome is Outcome.RATE_LIMITED and payload is not None:
            # The older throttle answer (130101) says how long the robot is punished.
            wait = _number(payload.get("wait"))
            if wait:
                result.retry_after = max(wait, result.retry_after or 0.0)
        return result

    def _with_keyword(self, title: str, text: str) -> tuple[str, str]:
        """DingTalk refuses a message without one of the robot's keywords (310000)."""
        if not self.keyword or self.keyword in f"{title}\n{text}":
            return title, text
        heading = re.match(r"#{1,6} ", text)
        at = heading.end() if heading else 0
        return f"{self.keyword} {title}", f"{text[:at]}{self.keyword} {text[at:]}"

    def _body(self, message: AlertMessage) -> dict[str, Any]:
        mobiles = message.mention_mobiles
        user_ids = message.mention_user_ids
        # A mention only shows when the @ also appears in the text itself.
        tail = " ".join([*(f"@{m}" for m in mobiles), *(f"@{u}" for u in user_ids)])
        markdown = self.format == "markdown" and message.body_format == "markdown"
        rendered = self.render(message, "markdown" if markdown else "text")
        title, text = self._with_keyword(rendered.title, rendered.text)
        separator = "\n\n" if markdown else "\n"
        room = TEXT_LIMIT - (len(tail.encode()) + len(separator) if tail else 0)
        text = truncate_utf8(text, room) + (f"{separator}{tail}" if tail else "")
        body: dict[str, Any]
        if markdown:
            body = {"msgtype": "markdown", "markdown": {"title": truncate_utf8(title, TITLE_LIMIT), "text": text}}
        else:
            body = {"msgtype": "text", "text": {"content": text}}
        body["at"] = {"atMobiles": mobiles, "atUserIds": user_ids, "isAtAll": message.at_all}
        if message.idempotency_key:
            body["msgUuid"] = message.idempotency_key
        return body


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
