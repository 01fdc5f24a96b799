"""One camera watched end to end: source → detector → tracker → rules → episodes → event store → callbacks.

`on_event` receives every stored phone event (started, updated, ended) and `on_camera` every offline /
online report: that is where the alert pipeline plugs in. Callbacks run on the watcher's thread; one
that raises is logged and does not stop the watcher.
"""

from __future__ import annotations

import datetime as dt
import logging
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vigilo.config.cameras import FRAME_ZONE, CameraConfig, EventsConfig
from vigilo.phone.clips import ClipRecorder, ClipWriter
from vigilo.phone.detector import PERSON, PhoneDetector
from vigilo.phone.episodes import EpisodeChange, EpisodeMachine
from vigilo.phone.events import CameraEvent, EventStore, PhoneEvent
from vigilo.phone.rules import RuleEngine, Zone
from vigilo.phone.sources import Frame, FrameSource, SourceEvent, open_source, redact
from vigilo.phone.tracker import IouTracker, TrackedDetection
from vigilo.vision.detection import Detection
from vigilo.vision.draw import draw_detections, draw_header, draw_polygon
from vigilo.vision.imageio import encode_jpeg

log = logging.getLogger(__name__)

PhoneCallback = Callable[[PhoneEvent], None]
CameraCallback = Callable[[CameraEvent], None]


@dataclass(frozen=True)
class CameraStatus:
    camera: str
    source: str
    online: bool | None  # None until the first frame (or the first offline report)
    schedule_active: bool
    fps: float  # frames processed per second, recently
    lag_ms: float | None  # capture → processed, median of recent frames (None for files not played in real time)
    last_frame_at: dt.datetime | None
    detections: int  # phones in the last processed frame
    open_episodes: int
    frames: int
    dropped: int
    reconnects: int
    finished: bool
    last_error: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "camera": self.camera,
            "source": self.source,
            "online": self.online,
            "schedule_active": self.schedule_active,
            "fps": round(self.fps, 2),
            "lag_ms": None if self.lag_ms is None else round(self.lag_ms, 1),
            "last_frame_at": None if self.last_frame_at is None else self.last_frame_at.isoformat(),
            "detections": self.detections,
            "open_episodes": self.open_episodes,
            "frames": self.frames,
            "dropped": self.dropped,
            "reconnects": self.reconnects,
            "finished": self.finished,
            "last_error": self.last_error,
        }


class CameraWatcher:
    """Watches one camera on its own thread (`start`/`stop`), or on the caller's (`run`)."""

    def __init__(
        self,
        camera: CameraConfig,
        detector: PhoneDetector,
        store: EventStore,
        *,
        events: EventsConfig | None = None,
        on_event: PhoneCallback | None = None,
        on_camera: CameraCallback | None = None,
        source: FrameSource | None = None,
    ) -> None:
        self.camera = camera
        self.detector = detector
        self.store = store
        self.events = events or EventsConfig()
        self.on_event = on_event
        self.on_camera = on_camera
        if camera.person.enabled and PERSON not in detector.classes:
            raise ValueError(f"camera {camera.name}: the person rule needs 'person' in detector.classes")
        if camera.person.enabled and detector.zoom is not None and detector.zoom.mode == "persons":
            # the zoomed pass uses persons for crops and drops them from its results
            raise ValueError(f"camera {camera.name}: the person rule does not work with detector.zoom.mode persons")
        self.rules = RuleEngine(camera, detector.config.threshold)
        self.tracker = IouTracker(
            high_threshold=self.rules.min_threshold,
            low_threshold=camera.tracking.low_threshold,
            min_iou=camera.tracking.iou,
            max_age=camera.tracking.max_age_seconds,
        )
        self.machine = EpisodeMachine(camera.name, camera.episode)
        self.source = source or open_source(
            camera.source,
            fps=camera.fps,
            loop=camera.loop,
            realtime=camera.realtime,
            offline_seconds=camera.offline_seconds,
            reconnect_initial=camera.reconnect.initial_seconds,
            reconnect_max=camera.reconnect.max_seconds,
            name=camera.name,
        )
        self._zones = {z.name: z for z in self.rules.zones}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._processed: deque[float] = deque(maxlen=20)
        self._lags: deque[float] = deque(maxlen=20)
        self._last_frame_wall: float | None = None
        self._last_detections = 0
        self._schedule_active = True
        self._next_cleanup = 0.0
        self._clip_writer: ClipWriter | None = None
        self._clips: ClipRecorder | None = None
        if self.events.clips.enabled:
            self._clip_writer = ClipWriter(store.attach_clip)
            self._clips = ClipRecorder(self.events.clips, camera.fps, self._clip_writer.submit)

    # running

    def start(self) -> CameraWatcher:
        self._thread = threading.Thread(target=self.run, name=f"watch-{self.camera.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.request_stop()
        self.wait(timeout)

    def request_stop(self) -> None:
        """Asks the thread to stop (open episodes end) without waiting; `wait` joins it."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Waits for the watcher's thread; True when it has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def run(self) -> None:
        """Watches until stopped or, for a file that does not loop, until its end; open episodes then end."""
        self.source.start()
        try:
            while not self._stop.is_set():
                self._report_source(self.source.drain_events())
                frame = self.source.next(timeout=0.25)
                if frame is not None:
                    self.process(frame)
                elif self.source.finished:
                    break
                else:
                    now, _ = self.source.now()
                    self._emit(self.machine.tick(now), None)
                self._maybe_cleanup()
        finally:
            self.source.stop()
            self._report_source(self.source.drain_events())
            self._emit(self.machine.finish(), None)
            self._close_clips()

    def process(self, frame: Frame) -> list[PhoneEvent]:
        """Runs one sampled frame through detector, tracker, rules and episodes; returns the events stored."""
        now, wall = frame.monotonic, frame.wall
        active = self.rules.active(wall)
        if active != self._schedule_active and not active:
            self.tracker.reset()
            self.rules.reset()
        self._schedule_active = active
        if not active:
            changes = self.machine.tick(now)
            self._last_detections = 0
        else:
            changes = self._observe(frame)
        if self._clips is not None:
            self._clips.add(frame.monotonic, frame.image)
        events = self._emit(changes, frame)
        self._processed.append(time.monotonic())
        if not self.source.fast:
            self._lags.append(time.monotonic() - frame.monotonic)
        self._last_frame_wall = wall
        return events

    def _observe(self, frame: Frame) -> list[EpisodeChange]:
        low = min(self.camera.tracking.low_threshold, self.rules.min_threshold)
        found = self.detector.detect([frame.image], threshold=low)[0]
        phones = [d for d in found if d.label != PERSON]
        persons = [d for d in found if d.label == PERSON]
        tracked = self.tracker.update(phones, frame.monotonic)
        height, width = frame.image.shape[:2]
        observations = self.rules.observe(tracked, persons, (width, height), frame.monotonic)
        self._last_detections = len({t.track_id for obs in observations for t in obs.counted})
        return self.machine.observe(observations, frame.monotonic, frame.wall)

    # output

    def _emit(self, changes: Sequence[EpisodeChange], frame: Frame | None) -> list[PhoneEvent]:
        stored = []
        for change in changes:
            snapshot = None
            if frame is not None and change.detections and self.events.snapshots:
                snapshot = self.snapshot(
                    frame.image, change.detections, self._zones.get(change.episode.zone), frame.wall
                )
            try:
                event = self.store.apply(change, snapshot)
            except Exception:
                log.exception("camera %s: cannot store the %s event", self.camera.name, change.kind)
                continue
            stored.append(event)
            self._record_clip(change, event)
            self._call(self.on_event, event)
        return stored

    def _record_clip(self, change: EpisodeChange, event: PhoneEvent) -> None:
        if self._clips is None:
            return
        episode = change.episode
        if change.kind == "started":
            target = self.store.clip_path(event.id, event.camera, event.started_at)
            self._clips.start(episode.key, event.id, episode.started, target)
        elif change.kind == "ended":
            self._clips.end(episode.key, episode.ended if episode.ended is not None else episode.last_seen)

    def _close_clips(self) -> None:
        """Open clips end with the camera; the writer finishes what is queued before the watcher returns."""
        if self._clips is not None and self._clip_writer is not None:
            self._clips.close()
            self._clip_writer.close()

    def _report_source(self, reports: Sequence[SourceEvent]) -> None:
        for report in reports:
            log.warning("camera %s is %s: %s", self.camera.name, report.kind, report.reason)
            try:
                event = self.store.record_camera(self.camera.name, report)
            except Exception:
                log.exception("camera %s: cannot store the %s report", self.camera.name, report.kind)
                continue
            self._call(self.on_camera, event)

    def _call(self, callback: Callable[[Any], None] | None, event: object) -> None:
        if callback is None:
            return
        try:
            callback(event)
        except Exception:
            log.exception("camera %s: event callback failed", self.camera.name)

    def snapshot(
        self, image: np.ndarray, detections: Sequence[TrackedDetection], zone: Zone | None, wall: float
    ) -> bytes:
        """The annotated JPEG: boxes with track ids, the zone outline, the camera name and the local time."""
        boxes = [
            Detection(f"{t.detection.label} #{t.track_id}", t.detection.score, t.detection.box, t.detection.class_id)
            for t in detections
        ]
        out, font = image, self.events.snapshot_font
        if zone is not None and zone.name != FRAME_ZONE:
            out = draw_polygon(out, zone.polygon, zone.name, font=font)
        out = draw_detections(out, boxes, font=font)
        local = self.camera.schedule.local(wall)
        header = [self.camera.name + ("" if zone is None or zone.name == FRAME_ZONE else f" / {zone.name}")]
        header.append(local.strftime("%Y-%m-%d %H:%M:%S %Z").strip())
        return encode_jpeg(draw_header(out, header, font=font), self.events.snapshot_quality)

    def _maybe_cleanup(self) -> None:
        now = time.monotonic()
        if now < self._next_cleanup:
            return
        self._next_cleanup = now + self.events.cleanup_interval_seconds
        try:
            self.store.cleanup(retain_days=self.events.retain_days, max_disk_mb=self.events.max_disk_mb)
        except Exception:
            log.exception("event cleanup failed")

    # status

    def status(self) -> CameraStatus:
        stamps = list(self._processed)
        span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
        fps = (len(stamps) - 1) / span if span > 0 else 0.0
        if stamps and time.monotonic() - stamps[-1] > 5.0:
            fps = 0.0
        lags = list(self._lags)
        stats = self.source.stats
        return CameraStatus(
            camera=self.camera.name,
            source=redact(self.camera.source),
            online=stats.online,
            schedule_active=self._schedule_active,
            fps=fps,
            lag_ms=statistics.median(lags) * 1000 if lags else None,
            last_frame_at=None
            if self._last_frame_wall is None
            else dt.datetime.fromtimestamp(self._last_frame_wall, tz=dt.UTC),
            detections=self._last_detections,
            open_episodes=len(self.machine.open),
            frames=stats.frames,
            dropped=stats.dropped,
            reconnects=stats.reconnects,
            finished=self.source.finished,
            last_error=stats.last_error,
        )
