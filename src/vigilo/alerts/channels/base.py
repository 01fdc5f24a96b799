"""The channel interface the delivery worker talks to, and the HTTP plumbing channels share."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import httpx

from vigilo.alerts.message import AlertMessage
from vigilo.alerts.outcome import (
    DeliveryResult,
    Outcome,
    classify_code,
    classify_http_status,
    parse_retry_after,
)
from vigilo.alerts.rendering import MessageTemplates, Rendered, TemplateConfigError, default_templates
from vigilo.logs import RedactingFilter

log = logging.getLogger("vigilo.alerts")

Clock = Callable[[], float]


class _LibraryLogScrubber(logging.Filter):
    """Scrubs channel secrets from httpx's own request log lines.

    httpx logs every request URL at INFO ("HTTP Request: POST https://...?key=..."), and robot
    URLs carry their credential (WeCom bot `key`, DingTalk `access_token`, the Feishu hook token
    in the path). The app's handler redacts known secrets too, but a library logger must not
    depend on how the host application configured logging.
    """

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._redactor = RedactingFilter()

    def register(self, secrets: Iterable[str]) -> None:
        new = {s for s in secrets if s} - self._secrets
        if new:
            self._secrets |= new
            self._redactor = RedactingFilter(self._secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        clean = self._redactor.redact(text)
        if clean != text:
            record.msg, record.args = clean, None
        return True


_LIBRARY_SCRUBBER = _LibraryLogScrubber()
logging.getLogger("httpx").addFilter(_LIBRARY_SCRUBBER)


class ChannelConfigError(ValueError):
    """A channel cannot be built from its configuration (worded without secrets)."""


def fingerprint(secret: str) -> str:
    """A short, non-reversible tag for a secret, for keys and logs."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:12]


def truncate_utf8(text: str, limit: int, marker: str = "…") -> str:
    """`text` cut so that its UTF-8 encoding is at most `limit` bytes, with `marker` when cut."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    room = limit - len(marker.encode("utf-8"))
    return data[: max(room, 0)].decode("utf-8", errors="ignore") + marker


def fit_json(build: Callable[[str], dict[str, Any]], text: str, limit: int) -> dict[str, Any]:
    """`build(text)` with `text` cut (UTF-8 safe, with an ellipsis) until the JSON body is at most `limit` bytes."""
    budget = len(text.encode("utf-8"))
    for _ in range(6):
        body = build(truncate_utf8(text, budget))
        size = len(json.dumps(body, ensure_ascii=False).encode("utf-8"))
        if size <= limit or budget <= 0:
            return body
        budget = max(0, budget - (size - limit) - 16)
    return build(truncate_utf8(text, budget))


class Channel(ABC):
    """One configured destination.

    `send` never raises for delivery problems: every failure (network, HTTP status, platform
    code, unreadable body) comes back as a `DeliveryResult` whose outcome tells the caller
    what to do next. `destination_key` names the rate-limit bucket (one robot, one app and
    recipient set, one mailbox) and never contains a secret.
    """

    kind: ClassVar[str]
    default_base_url: ClassVar[str] = ""

    def __init__(
        self,
        name: str,
        *,
        base_url: str | None = None,
        timeout: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        self.name = name
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.timeout = timeout
        self.clock: Clock = clock or time.time
        self._client: httpx.AsyncClient | None = None
        self._redactor: RedactingFilter | None = None
        # The registry sets the configured templates (locale, zone, user folder); shipped zh-CN otherwise.
        self.templates: MessageTemplates = default_templates()

    # -- the interface -------------------------------------------------------------------

    @property
    @abstractmethod
    def destination_key(self) -> str:
        """Rate-limit bucket for this destination, e.g. `dingtalk:3f2a...`; no secrets."""

    async def send(self, message: AlertMessage) -> DeliveryResult:
        """Delivers `message` once (plus at most one internal retry after a token refresh)."""
        _LIBRARY_SCRUBBER.register(self._secrets())
        try:
            result = await self._send(message)
        except TemplateConfigError as exc:  # retrying will not fix a template; `alerts retry` after the fix
            result = DeliveryResult(Outcome.PERMANENT, None, str(exc))
        except httpx.TimeoutException as exc:
            result = DeliveryResult(Outcome.RETRY, None, f"timed out talking to the platform ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            result = DeliveryResult(Outcome.RETRY, None, f"network error: {type(exc).__name__}: {exc}")
        result.reason = self.scrub(result.reason)
        level = logging.INFO if result.ok else logging.WARNING
        log.log(
            level,
            "channel %s (%s): %s, code %s%s",
            self.name,
            self.kind,
            result.outcome.value,
            result.platform_code,
            "" if result.ok else f": {result.reason}",
        )
        return result

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> Channel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.destination_key}>"

    # -- for subclasses ------------------------------------------------------------------

    @abstractmethod
    async def _send(self, message: AlertMessage) -> DeliveryResult: ...

    def render(self, message: AlertMessage, format: str) -> Rendered:
        """The message through this channel's template (style `<kind>_<format>`, see rendering.py)."""
        style = f"{self.kind}_{format}" if format else self.kind
        return self.templates.render(message, style, channel=self.name)

    def _secrets(self) -> Iterable[str]:
        """Every secret this channel holds, so reasons can be scrubbed of them."""
        return ()

    def scrub(self, text: str) -> str:
        if self._redactor is None:
            self._redactor = RedactingFilter(self._secrets())
        return self._redactor.redact(text)

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout, trust_env=False)
        return self._client

    async def _post_json(self, url: str, body: dict[str, Any], **kwargs: Any) -> httpx.Response:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", **kwargs.pop("headers", {})}
        return await self.client.post(url, content=data, headers=headers, **kwargs)

    def _read_code(
        self,
        response: httpx.Response,
        table: str,
        *,
        code_keys: tuple[str, ...] = ("errcode",),
        message_keys: tuple[str, ...] = ("errmsg",),
    ) -> tuple[DeliveryResult, dict[str, Any] | None]:
        """Classifies a platform JSON reply: the body code decides; HTTP status when there is none."""
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        try:
            payload = response.json()
        except ValueError:
            payload = None
        code: Any = None
        if isinstance(payload, dict):
            for key in code_keys:
                if key in payload and payload[key] is not None:
                    code = payload[key]
                    break
        if isinstance(code, str) and code.lstrip("-").isdigit():
            code = int(code)
        if not isinstance(code, int) or isinstance(code, bool):
            by_status = classify_http_status(response.status_code, retry_after)
            if by_status is not None:
                return by_status, None
            what = "a non-JSON body" if payload is None else "JSON without a result code"
            # A 2xx without the platform's code is a proxy or gateway answering, not the platform.
            return (
                DeliveryResult(
                    Outcome.RETRY,
                    None,
                    f"HTTP {response.status_code} with {what}",
                    None,
                    response.status_code,
                ),
                None,
            )
        assert isinstance(payload, dict)
        platform_message = ""
        for key in message_keys:
            if isinstance(payload.get(key), str):
                platform_message = self.scrub(payload[key])
                break
        if code == 0 and response.status_code >= 300:
            by_status = classify_http_status(response.status_code, retry_after)
            assert by_status is not None
            return by_status, payload
        result = classify_code(
            table,
            code,
            http_status=response.status_code,
            platform_message="" if code == 0 else platform_message,
            retry_after=retry_after,
        )
        if code != 0 and response.status_code >= 500 and result.outcome is Outcome.PERMANENT:
            result.outcome = Outcome.RETRY
        return result, payload
