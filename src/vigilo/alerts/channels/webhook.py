"""Generic JSON webhook with an Alertmanager-shaped body (protocol reference section 5).

When a secret is set, two headers let the receiver check the sender and reject replays:

    X-Vigilo-Timestamp: <unix seconds>
    X-Vigilo-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body bytes)>

The receiver recomputes the HMAC over the exact bytes received and refuses stale timestamps.
The summary and description (`annotations`, `title`, `message`) come from the `webhook` template
(`<locale>/alert/webhook[.<severity>].j2`, falling back to `text.j2`; a user folder overrides it).
Any 2xx status is success; the body is not read. 429 is a rate limit (Retry-After honoured),
408 and 5xx are transient, other statuses permanent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from vigilo.alerts.channels.base import Channel, ChannelConfigError, Clock, fingerprint
from vigilo.alerts.message import AlertMessage
from vigilo.alerts.outcome import DeliveryResult, Outcome, classify_http_status, parse_retry_after
from vigilo.alerts.rendering import Rendered

SIGNATURE_HEADER = "X-Vigilo-Signature"
TIMESTAMP_HEADER = "X-Vigilo-Timestamp"
_ZERO_TIME = "0001-01-01T00:00:00Z"


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class WebhookChannel(Channel):
    kind = "webhook"

    def __init__(
        self,
        name: str,
        *,
        url: str,
        secret: str | None = None,
        headers: Mapping[str, str] | None = None,
        include_snapshot: bool = False,
        base_url: str | None = None,
        timeout: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ChannelConfigError(f"webhook channel {name!r} needs an http:// or https:// URL")
        super().__init__(name, base_url=base_url, timeout=timeout, clock=clock)
        if base_url:  # replace scheme and host, keep the path
            url = base_url.rstrip("/") + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._url = url
        self._host = parts.hostname or ""
        self._secret = secret or None
        self._headers = dict(headers or {})
        self.include_snapshot = include_snapshot

    @property
    def destination_key(self) -> str:
        return f"webhook:{self._host}:{fingerprint(self._url)}"

    def _secrets(self) -> Iterable[str]:
        found = [self._url, *self._headers.values()]
        parts = urlsplit(self._url)
        found += [p for p in (parts.password, parts.query) if p]
        if self._secret:
            found.append(self._secret)
        return found

    def body(self, message: AlertMessage) -> dict[str, Any]:
        """The JSON document posted for `message`: Alertmanager's webhook shape (version 4), one
        entry in `alerts` per alert (a digest lists its alerts), with the summary and description
        rendered by the `webhook` template (zh-CN by default, user folder first)."""
        rendered = self.render(message, "")
        labels = _labels(message)
        annotations = {"summary": rendered.title, "description": rendered.text}
        key = message.idempotency_key or _label_hash(labels)
        if message.items:
            alerts = [self._entry(item, self.render(item, "")) for item in message.items]
        else:
            alerts = [self._entry(message, rendered)]
        count = int(message.labels.get("digest", len(alerts)) or len(alerts))
        document: dict[str, Any] = {
            "version": "4",
            "groupKey": f"vigilo:{key}",
            "truncatedAlerts": max(0, count - len(alerts)),
            "status": "firing",
            "receiver": self.name,
            "groupLabels": {"alertname": labels["alertname"]},
            "commonLabels": labels,
            "commonAnnotations": annotations,
            "externalURL": "",
            "alerts": alerts,
            # Vigilo's own fields; Alertmanager receivers ignore unknown keys.
            "title": rendered.title,
            "message": rendered.text,
            "severity": message.severity,
            "idempotencyKey": message.idempotency_key,
            "mentions": message.mentions,
            "atAll": message.at_all,
        }
        if message.image_url:
            document["imageUrl"] = message.image_url
        if self.include_snapshot and message.snapshot:
            document["snapshot"] = {
                "contentType": "image/jpeg",
                "base64": base64.b64encode(message.snapshot).decode("ascii"),
            }
        return document

    def _entry(self, message: AlertMessage, rendered: Rendered) -> dict[str, Any]:
        """One element of `alerts`."""
        labels = _labels(message)
        stamp = message.occurred_at if message.occurred_at is not None else self.clock()
        entry: dict[str, Any] = {
            "status": "firing",
            "labels": labels,
            "annotations": {"summary": rendered.title, "description": rendered.text},
            "startsAt": datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "endsAt": _ZERO_TIME,
            "generatorURL": "",
            "fingerprint": message.idempotency_key or _label_hash(labels),
        }
        if message.image_url:
            entry["annotations"]["image_url"] = message.image_url
        return entry

    async def _send(self, message: AlertMessage) -> DeliveryResult:
        data = json.dumps(self.body(message), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", **self._headers}
        if message.idempotency_key:
            headers["Idempotency-Key"] = message.idempotency_key
        if self._secret:
            timestamp = str(int(self.clock()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = webhook_signature(self._secret, timestamp, data)
        response = await self.client.post(self._url, content=data, headers=headers)
        failure = classify_http_status(response.status_code, parse_retry_after(response.headers.get("retry-after")))
        if failure is not None:
            return failure
        return DeliveryResult(Outcome.SENT, None, "delivered", None, response.status_code)


def _labels(message: AlertMessage) -> dict[str, str]:
    labels = {"alertname": message.labels.get("alertname", "vigilo"), **message.labels}
    labels.setdefault("severity", message.severity)
    return labels


def _label_hash(labels: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps(dict(labels), sort_keys=True).encode()).hexdigest()[:16]
