"""The event store: phone episodes and camera offline/online reports, through SQLAlchemy 2.

SQLite at `storage.resolved_database_url()` by default, PostgreSQL (or anything SQLAlchemy speaks) by URL.
Snapshots are JPEG files under `<data_dir>/snapshots/<camera>/<date>/<id>.jpg`; the row keeps the path
relative to the data folder. `cleanup` applies retention by age and by disk size.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Boolean, DateTime, Float, Integer, String, delete, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from vigilo.db import make_engine
from vigilo.phone.episodes import ChangeKind, EpisodeChange
from vigilo.phone.sources import SourceEvent

log = logging.getLogger(__name__)

EventStatus = Literal["new", "ongoing", "ended"]
_STATUS: dict[ChangeKind, EventStatus] = {"started": "new", "updated": "ongoing", "ended": "ended"}


class _Base(DeclarativeBase):
    pass


class EventRow(_Base):
    __tablename__ = "phone_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    episode_key: Mapped[str] = mapped_column(String(64), unique=True)
    camera: Mapped[str] = mapped_column(String(128), index=True)
    zone: Mapped[str] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    track_ids: Mapped[str] = mapped_column(String(1024))  # JSON list
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)  # naive UTC
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    peak_score: Mapped[float] = mapped_column(Float)
    phone_count: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[str | None] = mapped_column(String(512), nullable=True)
    snapshot_bytes: Mapped[int] = mapped_column(Integer, default=0)


class CameraEventRow(_Base):
    __tablename__ = "camera_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    camera: Mapped[str] = mapped_column(String(128), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    reason: Mapped[str] = mapped_column(String(512))
    down_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)


class ClipRow(_Base):
    """An episode's clip. Its own table rather than columns on phone_events: `create_all` adds new tables to
    an existing database but never new columns, and there is no migration tool here."""

    __tablename__ = "event_clips"

    event_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(512))  # relative to the data folder
    size: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)  # the episode's, for retention order


class CameraSwitchRow(_Base):
    """A camera switched on or off through the API, so the choice survives a restart."""

    __tablename__ = "camera_switches"

    camera: Mapped[str] = mapped_column(String(128), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    configured: Mapped[bool] = mapped_column(Boolean)  # the YAML's `enabled` when the switch was made
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime)


@dataclass(frozen=True)
class CameraSwitch:
    enabled: bool
    configured: bool
    changed_at: dt.datetime


def _to_db(wall: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(wall, tz=dt.UTC).replace(tzinfo=None)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _from_db(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.replace(tzinfo=dt.UTC)


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True)
class PhoneEvent:
    """One phone episode as stored, at one change (`started`, `updated` or `ended`)."""

    id: int
    change: ChangeKind
    camera: str
    zone: str
    status: EventStatus
    severity: str
    track_ids: tuple[int, ...]
    started_at: dt.datetime  # aware, UTC
    last_seen_at: dt.datetime
    ended_at: dt.datetime | None
    peak_score: float
    phone_count: int
    snapshot: Path | None  # absolute path of the JPEG, when one was kept
    key: str = ""  # the episode's stable id (alert deduplication)
    clip: Path | None = None  # absolute path of the MP4, when one was made

    @property
    def duration_seconds(self) -> float:
        end = self.ended_at or self.last_seen_at
        return max(0.0, (end - self.started_at).total_seconds())

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "phone",
            "id": self.id,
            "change": self.change,
            "camera": self.camera,
            "zone": self.zone,
            "status": self.status,
            "severity": self.severity,
            "track_ids": list(self.track_ids),
            "started_at": _iso(self.started_at),
            "last_seen_at": _iso(self.last_seen_at),
            "ended_at": _iso(self.ended_at),
            "duration_s": round(self.duration_seconds, 2),
            "peak_score": round(self.peak_score, 4),
            "phone_count": self.phone_count,
            "snapshot": str(self.snapshot) if self.snapshot else None,
            "clip": str(self.clip) if self.clip else None,
        }


@dataclass(frozen=True)
class CameraEvent:
    """A camera went offline (no frame for `offline_seconds`) or came back online."""

    id: int
    camera: str
    kind: Literal["offline", "online"]
    at: dt.datetime
    reason: str
    down_seconds: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "camera",
            "id": self.id,
            "camera": self.camera,
            "kind": self.kind,
            "at": _iso(self.at),
            "reason": self.reason,
            "down_s": None if self.down_seconds is None else round(self.down_seconds, 2),
        }


@dataclass(frozen=True)
class CleanupReport:
    events_deleted: int
    camera_events_deleted: int
    snapshots_deleted: int
    bytes_freed: int


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name, flags=re.UNICODE).strip("._") or "camera"


class EventStore:
    """Stores episode changes and camera reports; thread-safe (one lock around writes)."""

    def __init__(self, url: str, data_dir: Path) -> None:
        self.engine = make_engine(url)
        self.data_dir = data_dir
        _Base.metadata.create_all(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._lock = threading.Lock()

    def close(self) -> None:
        self.engine.dispose()

    # writing

    def apply(self, change: EpisodeChange, snapshot_jpeg: bytes | None = None) -> PhoneEvent:
        """Creates the row on `started`, updates it otherwise; a new snapshot replaces the old one."""
        ep = change.episode
        with self._lock, self._sessions.begin() as session:
            row = session.scalar(select(EventRow).where(EventRow.episode_key == ep.key))
            if row is None:
                row = EventRow(episode_key=ep.key, camera=ep.camera, zone=ep.zone, snapshot_bytes=0)
                session.add(row)
            row.status = _STATUS[change.kind]
            row.severity = ep.severity
            row.track_ids = json.dumps(sorted(ep.track_ids))
            row.started_at = _to_db(ep.started_wall)
            row.last_seen_at = _to_db(ep.last_seen_wall)
            row.ended_at = None if ep.ended_wall is None else _to_db(ep.ended_wall)
            row.peak_score = ep.peak_score
            row.phone_count = ep.phone_count
            session.flush()
            if snapshot_jpeg is not None:
                self._write_snapshot(row, snapshot_jpeg)
            return self._event(row, change.kind)

    def record_camera(self, camera: str, report: SourceEvent) -> CameraEvent:
        with self._lock, self._sessions.begin() as session:
            row = CameraEventRow(
                camera=camera,
                kind=report.kind,
                at=_to_db(report.wall),
                reason=report.reason[:512],
                down_seconds=report.down_seconds,
            )
            session.add(row)
            session.flush()
            return _camera_event(row)

    def _write_snapshot(self, row: EventRow, jpeg: bytes) -> None:
        relative = Path("snapshots") / _safe(row.camera) / row.started_at.strftime("%Y-%m-%d") / f"{row.id}.jpg"
        target = self.data_dir / relative
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_suffix(".tmp")
            temporary.write_bytes(jpeg)
            temporary.replace(target)
        except OSError as exc:
            log.warning("cannot write snapshot %s: %s", target, exc.strerror or exc)
            return
        row.snapshot = relative.as_posix()
        row.snapshot_bytes = len(jpeg)

    def clip_path(self, event_id: int, camera: str, started_at: dt.datetime) -> Path:
        """Where an event's clip goes: beside the snapshots, `<data_dir>/clips/<camera>/<date>/<id>.mp4`."""
        return self.data_dir / "clips" / _safe(camera) / started_at.strftime("%Y-%m-%d") / f"{event_id}.mp4"

    def attach_clip(self, event_id: int, path: Path) -> None:
        """Records a finished clip file for the event (the file is deleted if the event is gone)."""
        with self._lock, self._sessions.begin() as session:
            row = session.get(EventRow, event_id)
            if row is None:
                path.unlink(missing_ok=True)
                return
            clip = session.get(ClipRow, event_id) or ClipRow(event_id=event_id)
            clip.path = path.relative_to(self.data_dir).as_posix()
            clip.size = path.stat().st_size
            clip.started_at = row.started_at
            session.add(clip)

    def set_camera_switch(self, camera: str, enabled: bool, configured: bool) -> None:
        """Stores an API enable/disable of `camera` (`configured`: the YAML's `enabled` at that moment)."""
        with self._lock, self._sessions.begin() as session:
            row = session.get(CameraSwitchRow, camera) or CameraSwitchRow(camera=camera)
            row.enabled, row.configured, row.changed_at = enabled, configured, _to_db(time.time())
            session.add(row)

    def clear_camera_switch(self, camera: str) -> None:
        with self._lock, self._sessions.begin() as session:
            session.execute(delete(CameraSwitchRow).where(CameraSwitchRow.camera == camera))

    def camera_switches(self) -> dict[str, CameraSwitch]:
        with self._sessions() as session:
            rows = session.scalars(select(CameraSwitchRow))
            return {r.camera: CameraSwitch(r.enabled, r.configured, _from_db(r.changed_at) or _now()) for r in rows}

    # reading

    def get(self, event_id: int) -> PhoneEvent | None:
        with self._sessions() as session:
            row = session.get(EventRow, event_id)
            if row is None:
                return None
            clip = session.get(ClipRow, event_id)
            return self._event(row, None, clip.path if clip else None)

    def query(
        self,
        *,
        camera: str | None = None,
        zone: str | None = None,
        status: EventStatus | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[PhoneEvent]:
        """Newest first. `since`/`until` compare with the start time (aware datetimes)."""
        query = select(EventRow).order_by(EventRow.started_at.desc(), EventRow.id.desc()).limit(limit).offset(offset)
        if camera is not None:
            query = query.where(EventRow.camera == camera)
        if zone is not None:
            query = query.where(EventRow.zone == zone)
        if status is not None:
            query = query.where(EventRow.status == status)
        if since is not None:
            query = query.where(EventRow.started_at >= _to_db(since.timestamp()))
        if until is not None:
            query = query.where(EventRow.started_at < _to_db(until.timestamp()))
        with self._sessions() as session:
            rows = list(session.scalars(query))
            ids = [row.id for row in rows]
            found = session.execute(select(ClipRow.event_id, ClipRow.path).where(ClipRow.event_id.in_(ids)))
            clips: dict[int, str] = {event_id: path for event_id, path in found}
            return [self._event(row, None, clips.get(row.id)) for row in rows]

    def camera_events(self, camera: str | None = None, limit: int = 100) -> list[CameraEvent]:
        query = select(CameraEventRow).order_by(CameraEventRow.at.desc(), CameraEventRow.id.desc()).limit(limit)
        if camera is not None:
            query = query.where(CameraEventRow.camera == camera)
        with self._sessions() as session:
            return [_camera_event(row) for row in session.scalars(query)]

    def _event(self, row: EventRow, change: ChangeKind | None, clip: str | None = None) -> PhoneEvent:
        status: EventStatus = row.status  # type: ignore[assignment]
        kind: ChangeKind = change or {"new": "started", "ongoing": "updated"}.get(status, "ended")  # type: ignore[assignment]
        started = _from_db(row.started_at)
        last_seen = _from_db(row.last_seen_at)
        assert started is not None and last_seen is not None
        return PhoneEvent(
            id=row.id,
            change=kind,
            camera=row.camera,
            zone=row.zone,
            status=status,
            severity=row.severity,
            track_ids=tuple(json.loads(row.track_ids)),
            started_at=started,
            last_seen_at=last_seen,
            ended_at=_from_db(row.ended_at),
            peak_score=row.peak_score,
            phone_count=row.phone_count,
            snapshot=self.data_dir / row.snapshot if row.snapshot else None,
            key=row.episode_key,
            clip=self.data_dir / clip if clip else None,
        )

    # retention

    def snapshot_bytes(self) -> int:
        with self._sessions() as session:
            return int(session.scalar(select(func.coalesce(func.sum(EventRow.snapshot_bytes), 0))) or 0)

    def clip_bytes(self) -> int:
        with self._sessions() as session:
            return int(session.scalar(select(func.coalesce(func.sum(ClipRow.size), 0))) or 0)

    def cleanup(self, *, retain_days: float, max_disk_mb: float, now: float | None = None) -> CleanupReport:
        """Deletes events (with snapshots and clips) last seen more than `retain_days` ago; then, while
        snapshots and clips together take more than `max_disk_mb`, the oldest clips go first (the larger and
        less needed evidence), then the oldest snapshots. Event rows outlive their files in the second step."""
        cutoff = _to_db((time.time() if now is None else now) - retain_days * 86400)
        budget = int(max_disk_mb * 1024 * 1024)
        files: list[Path] = []
        with self._lock, self._sessions.begin() as session:
            old = list(session.scalars(select(EventRow).where(EventRow.last_seen_at < cutoff)))
            old_ids = [row.id for row in old]
            old_clips = list(session.scalars(select(ClipRow).where(ClipRow.event_id.in_(old_ids))))
            old_snapshots = [row for row in old if row.snapshot]
            freed = sum(c.size for c in old_clips) + sum(r.snapshot_bytes for r in old_snapshots)
            files += [self.data_dir / c.path for c in old_clips]
            files += [self.data_dir / r.snapshot for r in old_snapshots if r.snapshot]
            for item in [*old_clips, *old]:
                session.delete(item)
            cameras = session.execute(delete(CameraEventRow).where(CameraEventRow.at < cutoff))
            session.flush()
            total = int(session.scalar(select(func.coalesce(func.sum(EventRow.snapshot_bytes), 0))) or 0)
            total += int(session.scalar(select(func.coalesce(func.sum(ClipRow.size), 0))) or 0)
            shrunk = 0
            if total > budget:
                for clip in session.scalars(select(ClipRow).order_by(ClipRow.started_at, ClipRow.event_id)):
                    if total <= budget:
                        break
                    files.append(self.data_dir / clip.path)
                    total, freed = total - clip.size, freed + clip.size
                    session.delete(clip)
            if total > budget:
                oldest = session.scalars(
                    select(EventRow).where(EventRow.snapshot.is_not(None)).order_by(EventRow.started_at, EventRow.id)
                )
                for row in oldest:
                    if total <= budget:
                        break
                    assert row.snapshot is not None
                    files.append(self.data_dir / row.snapshot)
                    total -= row.snapshot_bytes
                    freed += row.snapshot_bytes
                    row.snapshot, row.snapshot_bytes = None, 0
                    shrunk += 1
            deleted_cameras = int(getattr(cameras, "rowcount", 0) or 0)
        for path in files:
            path.unlink(missing_ok=True)
        return CleanupReport(len(old), deleted_cameras, len(old_snapshots) + shrunk, freed)


def _camera_event(row: CameraEventRow) -> CameraEvent:
    at = _from_db(row.at)
    assert at is not None
    kind: Literal["offline", "online"] = "online" if row.kind == "online" else "offline"
    return CameraEvent(row.id, row.camera, kind, at, row.reason, row.down_seconds)
