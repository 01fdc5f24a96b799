"""WeCom group robot (群机器人): `webhook/send?key=...`. Protocol reference section 2.

The key in the URL is the only credential (no signing). Mentions need the `text` type
(`mentioned_list` for user ids, `mentioned_mobile_list` for mobiles), so a message with
mentions goes as text whatever the configured format. A snapshot follows as an `image`
message: raw JPEG/PNG base64 plus the md5 of the raw bytes, at most 2 MB, re-encoded smaller
when needed.
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Iterable
from typing import Any, Literal

from PIL import Image, UnidentifiedImageError

from vigilo.alerts.channels.base import Channel, Clock, fingerprint, truncate_utf8
from vigilo.alerts.message import AlertMessage
from vigilo.alerts.outcome import DeliveryResult, Outcome

TEXT_LIMIT = 2048  # bytes
MARKDOWN_LIMIT = 4096  # bytes
IMAGE_LIMIT = 2 * 1024 * 1024  # bytes of raw image, before base64


def shrink_jpeg(data: bytes, limit: int = IMAGE_LIMIT) -> bytes:
    """`data` unchanged when under `limit`, else re-encoded as JPEG (lower quality, then smaller).

    Raises ValueError when the bytes are not an image.
    """
    if len(data) < limit and data[:3] == b"\xff\xd8\xff":
        return data
    try:
        opened = Image.open(io.BytesIO(data))
        opened.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError("snapshot is not a readable image") from exc
    image: Image.Image = opened.convert("RGB")
    for _ in range(8):
        for quality in (85, 70, 55):
            out = io.BytesIO()
            image.save(out, format="JPEG", quality=quality, optimize=True)
            if out.tell() < limit:
                return out.getvalue()
        image = image.resize((max(1, image.width * 3 // 4), max(1, image.height * 3 // 4)))
    raise ValueError("snapshot cannot be made smaller than the 2 MB limit")


class WeComBotChannel(Channel):
    kind = "wecom_bot"
    default_base_url = "https://qyapi.weixin.qq.com"

    def __init__(
        self,
        name: str,
        *,
        key: str,
        format: Literal["text", "markdown"] = "markdown",
        base_url: str | None = None,
        timeout: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(name, base_url=base_url, timeout=timeout, clock=clock)
        self._key = key
        self.format = format

    @property
    def destination_key(self) -> str:
        return f"wecom_bot:{fingerprint(self._key)}"

    def _secrets(self) -> Iterable[str]:
        return [self._key]

    async def _post(self, body: dict[str, Any]) -> DeliveryResult:
        response = await self._post_json(f"{self.base_url}/cgi-bin/webhook/send", body, params={"key": self._key})
        return self._read_code(response, "wecom_bot")[0]

    async def _send(self, message: AlertMessage) -> DeliveryResult:
        image: dict[str, Any] | None = None
        if message.snapshot:
            try:
                raw = shrink_jpeg(message.snapshot)
            except ValueError as exc:
                return DeliveryResult(Outcome.PERMANENT, None, str(exc))
            image = {
                "msgtype": "image",
                "image": {"base64": base64.b64encode(raw).decode("ascii"), "md5": hashlib.md5(raw).hexdigest()},
            }
        result = await self._post(self._body(message))
        if not result.ok:
            return result
        result.reason = "delivered"
        if image is not None:
            image_result = await self._post(image)
            if not image_result.ok:
                # The text is out; a retry would repeat it, so report the text as sent.
                result.reason += "; snapshot image not delivered: " + image_result.reason
        return result

    def _body(self, message: AlertMessage) -> dict[str, Any]:
        mobiles = message.mention_mobiles
        users = message.mention_user_ids
        if message.at_all:
            users = [*users, "@all"]
        if self.format == "text" or mobiles or users:
            text = self.render(message, "text").text
            content: dict[str, Any] = {"content": truncate_utf8(text, TEXT_LIMIT)}
            if users:
                content["mentioned_list"] = users
            if mobiles:
                content["mentioned_mobile_list"] = mobiles
            return {"msgtype": "text", "text": content}
        text = self.render(message, "markdown").text
        return {"msgtype": "markdown", "markdown": {"content": truncate_utf8(text, MARKDOWN_LIMIT)}}
