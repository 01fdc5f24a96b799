"""Alerts and silences from outside (`POST /api/v1/alerts`, `/api/v1/alerts/silences`).

Plain functions over `AlertService`, so the HTTP router stays thin and the rules (key check, size
limits, what a request may set) are tested without HTTP. Raise `InboundError` with a stable code
(the API maps it to a JSON error in the caller's language).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from vigilo.alerts.policy import Alert
from vigilo.alerts.service import AlertService
from vigilo.alerts.silences import StoredSilence, parse_duration

MAX_TITLE = 200
MAX_BODY = 4000


class InboundError(Exception):
    def __init__(self, status: int, code: str, **params: object) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.params = params


class InboundAlert(BaseModel):
    """The body of `POST /api/v1/alerts`."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=MAX_TITLE)
    body: str = Field("", max_length=MAX_BODY)
    labels: dict[str, str] = Field(default_factory=dict, max_length=32)
    severity: Literal["default", "urgent"] | None = None
    phones: int = Field(1, ge=0, le=1000)
    score: float = Field(1.0, ge=0, le=1)
    snapshot: str | None = Field(None, description="JPEG/PNG, base64 (a data: URL is fine).")
    idempotency_key: str | None = Field(None, min_length=1, max_length=200)
    episode: str | None = Field(None, max_length=200)


class InboundSilence(BaseModel):
    model_config = ConfigDict(extra="forbid")

    match: dict[str, str] = Field(min_length=1, max_length=16)
    duration: str = Field(description="e.g. 30m, 2h, 1d")
    comment: str = Field("", max_length=500)
    created_by: str = Field("api", max_length=100)


def key_ok(presented: str | None, keys: Sequence[SecretStr]) -> bool:
    """Constant-time comparison against every configured key; no keys configured: always False."""
    if not presented:
        return False
    given = presented.encode()
    found = False
    for key in keys:  # no early exit: the time taken does not tell which key nearly matched
        found |= hmac.compare_digest(given, key.get_secret_value().encode())
    return found


def presented_key(authorization: str | None, x_api_key: str | None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return x_api_key


_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")


def decode_snapshot(text: str, max_bytes: int) -> bytes:
    encoded = text.split(",", 1)[1] if text.startswith("data:") else text
    if len(encoded) > (max_bytes * 4) // 3 + 4:
        raise InboundError(413, "body_too_large", limit_mb=round(max_bytes / 1024 / 1024, 2))
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise InboundError(422, "invalid_request", reason="snapshot is not valid base64") from None
    if len(data) > max_bytes:
        raise InboundError(413, "body_too_large", limit_mb=round(max_bytes / 1024 / 1024, 2))
    if not data.startswith(_IMAGE_MAGIC):
        raise InboundError(422, "image_unreadable")
    return data


def raise_alert(service: AlertService, request: InboundAlert, max_snapshot_bytes: int) -> list[int]:
    """Submits `request` through the policy (threshold, routes, silences, grouping) -> outbox ids.

    The same idempotency key sent twice returns the same rows (the outbox's unique key per
    channel), so a caller may retry a request whose answer it did not get.
    """
    snapshot = decode_snapshot(request.snapshot, max_snapshot_bytes) if request.snapshot else None
    labels = {"kind": "external", **request.labels}
    alert = Alert(
        title=request.title,
        body=request.body,
        labels=labels,
        score=request.score,
        phones=request.phones,
        severity=request.severity,
        snapshot=snapshot,
        key=request.idempotency_key or "",
        episode=request.episode,
    )
    return service.submit(alert)


def add_silence(service: AlertService, request: InboundSilence) -> StoredSilence:
    try:
        seconds = parse_duration(request.duration)
    except ValueError as exc:
        raise InboundError(422, "invalid_request", reason=str(exc)) from None
    stored = service.silences.add(request.match, seconds, request.comment, request.created_by)
    service.silences.load_into(service.policy)
    return stored


def expire_silence(service: AlertService, silence_id: int) -> StoredSilence:
    stored = service.silences.expire(silence_id)
    if stored is None:
        raise InboundError(404, "not_found")
    service.silences.load_into(service.policy)
    return stored
