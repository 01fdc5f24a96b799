"""The event store on SQLite: one row per episode through its changes, camera reports, retention."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import numpy as np

from vigilo.config.cameras import EpisodeConfig
from vigilo.phone.episodes import EpisodeChange, EpisodeMachine
from vigilo.phone.events import EventStore
from vigilo.phone.rules import WHOLE_FRAME, Zone, ZoneObservation
from vigilo.phone.sources import SourceEvent
from vigilo.phone.tracker import TrackedDetection
from vigilo.vision.detection import Detection
from vigilo.vision.imageio import encode_jpeg

ZONE = Zone("desk", WHOLE_FRAME, 0.35, 0.0)


def episode(machine: EpisodeMachine, wall0: float, seconds: float = 2.0) -> list[EpisodeChange]:
    phone = [TrackedDetection(7, Detection("cell phone", 0.8, (0, 0, 10, 20)))]
    changes = machine.observe([ZoneObservation(ZONE, phone, phone, 0.0)], 0.0, wall0)
    changes += machine.observe([ZoneObservation(ZONE, phone, phone, 0.0)], seconds, wall0 + seconds)
    changes += machine.finish()
    return changes


def jpeg(kb: int) -> bytes:
    noise = np.random.default_rng(kb).integers(0, 255, (kb * 8, 128, 3), dtype=np.uint8)
    return encode_jpeg(noise, 95)


def test_one_row_per_episode(tmp_path: Path) -> None:
    store = EventStore(f"sqlite:///{tmp_path / 'db' / 'vigilo.db'}", tmp_path)
    wall0 = time.time()
    started, ended = episode(EpisodeMachine("room 101", EpisodeConfig()), wall0)
    first = store.apply(started, jpeg(4))
    assert (first.change, first.status, first.camera, first.zone) == ("started", "new", "room 101", "desk")
    assert first.snapshot is not None and first.snapshot.read_bytes()[:2] == b"\xff\xd8"
    assert first.snapshot.is_relative_to(tmp_path / "snapshots" / "room_101")
    last = store.apply(ended)
    assert last.id == first.id and last.status == "ended" and last.snapshot == first.snapshot
    assert last.ended_at is not None and abs(last.duration_seconds - 2.0) < 1e-3
    assert abs(last.started_at.timestamp() - wall0) < 1e-3
    assert last.track_ids == (7,) and last.to_json()["duration_s"] == 2.0
    got = store.get(first.id)
    assert got is not None and got.status == "ended"
    assert [e.id for e in store.query(camera="room 101", status="ended")] == [first.id]
    assert store.query(camera="other") == [] and store.query(zone="desk", status="new") == []
    since = dt.datetime.fromtimestamp(wall0 + 1, tz=dt.UTC)
    assert store.query(since=since) == [] and len(store.query(until=since)) == 1
    report = store.record_camera("room 101", SourceEvent("offline", 0.0, wall0, "HTTP 503"))
    assert report.kind == "offline" and [e.id for e in store.camera_events("room 101")] == [report.id]
    store.close()


def test_retention_by_age_and_by_size(tmp_path: Path) -> None:
    store = EventStore(f"sqlite:///{tmp_path / 'vigilo.db'}", tmp_path)
    now = time.time()
    machine = EpisodeMachine("cam", EpisodeConfig())
    old = store.apply(episode(machine, now - 10 * 86400)[0], jpeg(20))
    store.record_camera("cam", SourceEvent("offline", 0.0, now - 10 * 86400, "gone"))
    recent = [store.apply(episode(machine, now - 3600 * (5 - i))[0], jpeg(20)) for i in range(4)]
    assert old.snapshot is not None and old.snapshot.exists()
    sizes = [e.snapshot.stat().st_size for e in recent if e.snapshot]
    report = store.cleanup(retain_days=7, max_disk_mb=(sizes[-1] + sizes[-2] + 100) / 1024 / 1024, now=now)
    assert report.events_deleted == 1 and report.camera_events_deleted == 1
    assert report.snapshots_deleted == 3  # the old event's, then the two oldest recent ones
    assert store.get(old.id) is None and not old.snapshot.exists()
    kept = [store.get(e.id) for e in recent]
    assert all(e is not None for e in kept)  # rows stay; only their snapshots went
    assert [e.snapshot is not None for e in kept if e] == [False, False, True, True]
    assert not recent[0].snapshot.exists() and recent[3].snapshot.exists()  # type: ignore[union-attr]
    assert store.snapshot_bytes() <= sizes[-1] + sizes[-2] + 100
    assert store.camera_events() == []
    store.close()
