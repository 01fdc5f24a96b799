"""The event → alert adapter (wording, keys, snapshot, episode dedupe through the real AlertService and
outbox), signed snapshot links, and the shared database engine helper."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import text

from vigilo.alerts.service import AlertService
from vigilo.config import load_settings
from vigilo.config.cameras import EventAlertsConfig
from vigilo.db import make_engine
from vigilo.phone.alerting import EventAlerter, SnapshotLinks, camera_alert, link_secret, phone_alert
from vigilo.phone.events import CameraEvent, PhoneEvent

T0 = dt.datetime(2026, 6, 7, 1, 5, 0, tzinfo=dt.UTC)  # 09:05 in Shanghai


def phone_event(tmp_path: Path, change: str = "started", **values: object) -> PhoneEvent:
    snapshot = tmp_path / "7.jpg"
    snapshot.write_bytes(b"\xff\xd8jpeg")
    base: dict[str, object] = {
        "id": 7, "change": change, "camera": "room-101", "zone": "desks", "status": "new", "severity": "urgent",
        "track_ids": (1, 2, 3), "started_at": T0, "last_seen_at": T0 + dt.timedelta(seconds=42),
        "ended_at": T0 + dt.timedelta(seconds=42) if change == "ended" else None, "peak_score": 0.812,
        "phone_count": 3, "snapshot": snapshot, "key": "abc123",
    }  # fmt: skip
    return PhoneEvent(**{**base, **values})  # type: ignore[arg-type]


def test_started_alert_carries_everything_a_message_needs(tmp_path: Path) -> None:
    shanghai = dt.timezone(dt.timedelta(hours=8))
    alert = phone_alert(phone_event(tmp_path), tz=shanghai, image_url="https://v.example/s.jpg")
    assert alert.title == "发现手机：room-101 / desks"
    assert "**手机数量**：3 部\n\n**置信度**：0.81" in alert.body and "**级别**：紧急" in alert.body
    assert "2026-06-07 09:05:00" in alert.body and "0.81" in alert.body and "#7" in alert.body
    assert alert.labels == {"camera": "room-101", "zone": "desks", "kind": "phone", "change": "started"}
    assert (alert.severity, alert.phones, alert.score) == ("urgent", 3, 0.812)
    assert alert.snapshot == b"\xff\xd8jpeg" and alert.image_url == "https://v.example/s.jpg"
    assert getattr(alert, "occurred_at", T0.timestamp()) == T0.timestamp()
    assert alert.episode == "phone:abc123" and alert.key == "phone:abc123:started"
    english = phone_alert(phone_event(tmp_path), locale="en")
    assert english.title == "Phone seen: room-101 / desks" and "**Phones**：3" in english.body


def test_ended_note_has_the_duration_and_no_image(tmp_path: Path) -> None:
    alert = phone_alert(phone_event(tmp_path, "ended", status="ended"), image_url="https://v.example/s.jpg")
    assert alert.title.startswith("手机告警结束") and "**持续时间**：42 秒" in alert.body
    assert alert.snapshot is None and alert.image_url is None and alert.episode is None
    assert alert.key == "phone:abc123:ended" and alert.labels["kind"] == "phone_ended"
    whole_frame = phone_alert(phone_event(tmp_path, zone="frame"))
    assert whole_frame.title == "发现手机：room-101" and "区域" not in whole_frame.body


def test_camera_alerts() -> None:
    offline = camera_alert(CameraEvent(3, "room-101", "offline", T0, "HTTP 503", None))
    assert offline.title == "摄像头离线：room-101" and "HTTP 503" in offline.body
    assert offline.labels["kind"] == "camera_offline" and offline.score == 1.0 and offline.snapshot is None
    online = camera_alert(CameraEvent(4, "room-101", "online", T0, "", 12.4), locale="en")
    assert online.title == "Camera back online: room-101" and "12 s" in online.body
    assert online.key != offline.key


def test_alerter_follows_the_config_and_the_outbox_dedupes_an_episode(tmp_path: Path) -> None:
    config = tmp_path / "vigilo.yaml"
    config.write_text(
        f"storage: {{data_dir: {tmp_path}}}\nalerts: {{channels: {{ops: 'webhook+https://hooks.example.cn/x'}}}}\n"
    )
    settings = load_settings(config, env_file=None)
    service = AlertService.from_settings(settings)
    try:
        alerter = EventAlerter(service.submit, EventAlertsConfig(camera=False))
        alerter.phone(phone_event(tmp_path))
        alerter.phone(phone_event(tmp_path, "updated", status="ongoing"))  # updates are off by default
        alerter.phone(phone_event(tmp_path, key="abc123", id=7))  # the same start again: suppressed
        alerter.camera(CameraEvent(3, "room-101", "offline", T0, "HTTP 503", None))  # camera alerts off
        alerter.phone(phone_event(tmp_path, "ended", status="ended"))
        rows = service.rows(None, None, 10)
        assert sorted(r.idempotency_key for r in rows) == ["phone:abc123:ended", "phone:abc123:started"]
        assert all(r.channel == "ops" and r.state == "pending" for r in rows)
        started = next(r for r in rows if r.idempotency_key.endswith("started"))
        assert started.episode == "phone:abc123" and started.snapshot_path is not None
    finally:
        service.outbox.close()


def test_signed_links(tmp_path: Path) -> None:
    links = SnapshotLinks("https://vigilo.example.cn/", b"key", ttl_seconds=60)
    url = links.url(7, now=1000.0)
    assert url.startswith("https://vigilo.example.cn/api/v1/events/7/snapshot.jpg?exp=1060&sig=")
    sig = url.rsplit("sig=", 1)[1]
    assert links.verify(7, 1060, sig, now=1059.0)
    assert not links.verify(7, 1060, sig, now=1061.0)  # expired
    assert not links.verify(8, 1060, sig, now=1000.0)  # another event
    assert not links.verify(7, 2060, sig, now=1000.0)  # a longer life
    assert not SnapshotLinks("https://x", b"other").verify(7, 1060, sig, now=1000.0)
    first = link_secret(None, tmp_path)
    assert first == link_secret(None, tmp_path) == (tmp_path / "link-secret").read_bytes()  # kept
    assert (tmp_path / "link-secret").stat().st_mode & 0o077 == 0
    assert link_secret("configured", tmp_path) == b"configured"


def test_db_engine_pragmas_and_passthrough(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'sub' / 'x.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 10000
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    engine.dispose()
    assert (tmp_path / "sub" / "x.db").exists()
    memory = make_engine("sqlite://")
    with memory.connect() as connection:
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_db_engine_other_databases_pass_through() -> None:
    other = make_engine("postgresql://u:p@db.invalid/vigilo")  # no driver named: the shipped psycopg 3
    assert other.pool._pre_ping  # type: ignore[attr-defined]
    assert other.url.drivername == "postgresql+psycopg"
