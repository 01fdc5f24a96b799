"""Stream-watch events → alerts: one message when a phone episode starts (with the snapshot), optional
updates, a short note when it ends, and camera offline / online notices.

`phone_alert` and `camera_alert` build plain `Alert`s (title and Markdown-lite body, zh-CN by default);
`EventAlerter` is the watcher callback pair that filters by `events.alerts`, builds and submits them.
Deduplication: the `started` alert carries the episode key (`Alert.episode`), so a repeated start of
the same episode inside `alerts.policy.repeat_interval` is suppressed; every alert has a stable
idempotency key derived from the episode (or camera event) so a retried submit is stored once.

Snapshot links: DingTalk and Feishu robots cannot take uploaded images, only URLs. `SnapshotLinks`
signs `/api/v1/events/{id}/snapshot.jpg?exp=…&sig=…` (HMAC-SHA256 of id and expiry) on
`server.public_url`; the API checks the signature when one is given.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from vigilo.alerts.message import Severity
from vigilo.alerts.policy import Alert
from vigilo.config.cameras import FRAME_ZONE, EventAlertsConfig
from vigilo.i18n import Locale
from vigilo.phone.events import CameraEvent, PhoneEvent

log = logging.getLogger(__name__)

Submit = Callable[[Alert], object]

_TEXT: dict[str, dict[Locale, str]] = {
    "started": {"zh-CN": "发现手机：{where}", "en": "Phone seen: {where}"},
    "updated": {"zh-CN": "手机告警更新：{where}", "en": "Phone alert update: {where}"},
    "ended": {"zh-CN": "手机告警结束：{where}", "en": "Phone alert over: {where}"},
    "offline": {"zh-CN": "摄像头离线：{camera}", "en": "Camera offline: {camera}"},
    "online": {"zh-CN": "摄像头恢复在线：{camera}", "en": "Camera back online: {camera}"},
    "camera": {"zh-CN": "摄像头", "en": "Camera"},
    "zone": {"zh-CN": "区域", "en": "Zone"},
    "phones": {"zh-CN": "手机数量", "en": "Phones"},
    "phones_value": {"zh-CN": "{count} 部", "en": "{count}"},
    "score": {"zh-CN": "置信度", "en": "Score"},
    "severity": {"zh-CN": "级别", "en": "Severity"},
    "urgent": {"zh-CN": "紧急", "en": "urgent"},
    "default": {"zh-CN": "一般", "en": "normal"},
    "start_time": {"zh-CN": "开始时间", "en": "Started"},
    "end_time": {"zh-CN": "结束时间", "en": "Ended"},
    "duration": {"zh-CN": "持续时间", "en": "Duration"},
    "seconds": {"zh-CN": "{value} 秒", "en": "{value} s"},
    "time": {"zh-CN": "时间", "en": "Time"},
    "reason": {"zh-CN": "原因", "en": "Reason"},
    "down": {"zh-CN": "离线时长", "en": "Down for"},
    "event": {"zh-CN": "事件编号", "en": "Event"},
}


def _t(key: str, locale: Locale, **params: object) -> str:
    return _TEXT[key][locale].format(**params)


def _where(camera: str, zone: str) -> str:
    return camera if zone == FRAME_ZONE else f"{camera} / {zone}"


def _local(value: dt.datetime, tz: dt.tzinfo | None) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def _lines(pairs: list[tuple[str, str]]) -> str:
    # a blank line between rows: DingTalk's Markdown joins single-newline lines into one paragraph
    return "\n\n".join(f"**{name}**：{value}" for name, value in pairs)


def _at(alert: Alert, when: dt.datetime) -> Alert:
    """Stamps when it happened, for templates that show it (fields of newer `Alert`s only)."""
    if "occurred_at" in {f.name for f in dataclasses.fields(Alert)}:
        alert.__dict__["occurred_at"] = when.timestamp()
    return alert


@dataclass(frozen=True)
class SnapshotLinks:
    """Signed, expiring links to `/api/v1/events/{id}/snapshot.jpg` on the server's public URL."""

    base_url: str
    secret: bytes
    ttl_seconds: float = 7 * 86400

    def signature(self, event_id: int, expires: int) -> str:
        digest = hmac.new(self.secret, f"{event_id}.{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode().rstrip("=")

    def url(self, event_id: int, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + self.ttl_seconds)
        path = f"/api/v1/events/{event_id}/snapshot.jpg"
        return f"{self.base_url.rstrip('/')}{path}?exp={expires}&sig={self.signature(event_id, expires)}"

    def verify(self, event_id: int, expires: int, signature: str, now: float | None = None) -> bool:
        if expires < (time.time() if now is None else now):
            return False
        return hmac.compare_digest(self.signature(event_id, expires), signature)


def link_secret(configured: str | None, data_dir: Path) -> bytes:
    """The configured key, or a random one kept in `<data_dir>/link-secret` (so links outlive a restart)."""
    if configured:
        return configured.encode()
    path = data_dir / "link-secret"
    try:
        return path.read_bytes().strip() or _new_secret(path)
    except FileNotFoundError:
        return _new_secret(path)


def _new_secret(path: Path) -> bytes:
    value = secrets.token_urlsafe(32).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    partial.write_bytes(value)
    partial.chmod(0o600)
    partial.replace(path)
    return value


# `kind` picks the message template: a start or update is a phone alert; the end is a note of its own
_KINDS = {"started": "phone", "updated": "phone", "ended": "phone_ended"}


def _severity(value: str) -> Severity:
    return "urgent" if value == "urgent" else "default"


def _snapshot(event: PhoneEvent) -> bytes | None:
    if event.snapshot is None:
        return None
    try:
        return event.snapshot.read_bytes()
    except OSError as exc:
        log.warning("event %s: cannot read the snapshot %s: %s", event.id, event.snapshot, exc)
        return None


def phone_alert(
    event: PhoneEvent,
    *,
    locale: Locale = "zh-CN",
    tz: dt.tzinfo | None = None,
    image_url: str | None = None,
    with_snapshot: bool = True,
) -> Alert:
    """The alert for one phone event change; `started`/`updated` carry the snapshot, `ended` is a note."""
    severity = _severity(event.severity)
    rows = [(_t("camera", locale), event.camera)]
    if event.zone != FRAME_ZONE:
        rows.append((_t("zone", locale), event.zone))
    rows.append((_t("phones", locale), _t("phones_value", locale, count=event.phone_count)))
    rows.append((_t("score", locale), f"{event.peak_score:.2f}"))
    rows.append((_t("severity", locale), _t(severity, locale)))
    rows.append((_t("start_time", locale), _local(event.started_at, tz)))
    if event.change == "ended" and event.ended_at is not None:
        rows.append((_t("end_time", locale), _local(event.ended_at, tz)))
        rows.append((_t("duration", locale), _t("seconds", locale, value=f"{event.duration_seconds:.0f}")))
    rows.append((_t("event", locale), f"#{event.id}"))
    episode = event.key or f"event-{event.id}"
    key = {
        "started": f"phone:{episode}:started",
        "updated": f"phone:{episode}:updated:{event.last_seen_at.timestamp():.3f}",
        "ended": f"phone:{episode}:ended",
    }[event.change]
    show_image = event.change != "ended"
    alert = Alert(
        title=_t(event.change, locale, where=_where(event.camera, event.zone)),
        body=_lines(rows),
        labels={"camera": event.camera, "zone": event.zone, "kind": _KINDS[event.change], "change": event.change},
        score=event.peak_score,
        phones=event.phone_count,
        severity=severity,
        snapshot=_snapshot(event) if show_image and with_snapshot else None,
        image_url=image_url if show_image else None,
        key=key,
        episode=f"phone:{episode}" if event.change == "started" else None,
    )
    return _at(alert, event.ended_at if event.change == "ended" and event.ended_at else event.started_at)


def camera_alert(event: CameraEvent, *, locale: Locale = "zh-CN", tz: dt.tzinfo | None = None) -> Alert:
    """Camera offline (with the last error) or back online (with how long it was down)."""
    rows = [(_t("camera", locale), event.camera), (_t("time", locale), _local(event.at, tz))]
    if event.kind == "offline":
        rows.append((_t("reason", locale), event.reason or "-"))
    elif event.down_seconds is not None:
        rows.append((_t("down", locale), _t("seconds", locale, value=f"{event.down_seconds:.0f}")))
    alert = Alert(
        title=_t(event.kind, locale, camera=event.camera),
        body=_lines(rows),
        labels={"camera": event.camera, "kind": f"camera_{event.kind}"},
        score=1.0,  # not a detection: the notification threshold does not apply
        phones=0,
        severity="default",
        key=f"camera:{event.camera}:{event.kind}:{event.id}:{event.at.timestamp():.3f}",
    )
    return _at(alert, event.at)


class EventAlerter:
    """The watcher callbacks (`on_event`, `on_camera`) that turn events into submitted alerts.

    `submit` is `AlertService.submit` (blocking; the watcher threads call it). A failing submit is
    logged and the watcher goes on (the event itself is already stored).
    """

    def __init__(
        self,
        submit: Submit,
        config: EventAlertsConfig | None = None,
        *,
        links: SnapshotLinks | None = None,
        locale: Locale = "zh-CN",
        timezones: Mapping[str, dt.tzinfo | None] | None = None,
    ) -> None:
        self.submit = submit
        self.config = config or EventAlertsConfig()
        self.links = links
        self.locale = locale
        self.timezones = dict(timezones or {})

    def wants(self, change: str) -> bool:
        config = self.config
        return config.enabled and bool(getattr(config, change, False))

    def phone(self, event: PhoneEvent) -> None:
        if not self.wants(event.change):
            return
        url = self.links.url(event.id) if self.links is not None and event.snapshot is not None else None
        tz = self.timezones.get(event.camera)
        self._submit(phone_alert(event, locale=self.locale, tz=tz, image_url=url))

    def camera(self, event: CameraEvent) -> None:
        if not self.wants("camera"):
            return
        self._submit(camera_alert(event, locale=self.locale, tz=self.timezones.get(event.camera)))

    def _submit(self, alert: Alert) -> None:
        try:
            self.submit(alert)
        except Exception:
            log.exception("cannot queue the alert %s", alert.key)
