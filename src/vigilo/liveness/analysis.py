"""`vigilo face analyze`: per-frame face signals and, for videos, action events.

Events come from the rules the liveness sessions use (:mod:`vigilo.liveness.decision`): the baseline is
collected with `collect_baseline` (the first `baseline_frames` good, frontal, steady frames), every frame is
compared to it with `deltas`, and

* blink: `blink_update` (both eyes close below `blink_closed_ratio` of the open level and reopen above
  `blink_open_ratio`, the closure lasting `blink_min_ms`-`blink_max_ms`), the event spanning the closed frames;
* turn_left / turn_right: `turned` (yaw `turn_yaw` past neutral, the subject's own direction);
* mouth_open / smile: `mouth_opened` / `smiled` (a rise over neutral).

As in a session, frames failing the quality gates are skipped, blink / mouth / smile count only on frames
facing the camera (`facing`), and each action must start from neutral: after an event the signal has to go
back to neutral (`pose_neutral`, `eyes_open`, `mouth_neutral`, `smile_neutral`) before the next one. Unlike a
session nothing is asked for, so every action is tracked at once and nothing fails. Frame times come from
the video's frame rate.

Per-frame flags use the same predicates: against the video's baseline once it has settled, and before that
(and for still images) against a default baseline (frontal, open-eye EAR :data:`DEFAULT_OPEN_EYES`, closed
mouth, smile 0). `smiling` is the smile model's own decision (`smile >= 0.5`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vigilo.config.liveness import LivenessThresholds
from vigilo.liveness.actions import Action
from vigilo.liveness.decision import (
    Baseline,
    Deltas,
    blink_update,
    collect_baseline,
    deltas,
    eyes_closed,
    facing,
    mouth_neutral,
    mouth_opened,
    pose_neutral,
    quality_hint,
    smile_neutral,
    smiled,
    turned,
)
from vigilo.liveness.signals import FaceAnalyzer, FaceSignals

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".y4m", ".gif"})
DEFAULT_OPEN_EYES = 0.28
"""Open-eye EAR assumed before a video's baseline settles and for still images (people range 0.19-0.40)."""
SMILE_THRESHOLD = 0.5
DEFAULT_FPS = 30.0
EVENT_TYPES = ("blink", "turn_left", "turn_right", "mouth_open", "smile")


class AnalysisError(Exception):
    """A path that cannot be analysed (missing, empty folder, not an image or video)."""


@dataclass(frozen=True)
class Event:
    type: str
    start_frame: int
    end_frame: int

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "start_frame": self.start_frame, "end_frame": self.end_frame}


@dataclass
class _Run:
    """One action tracked over time: armed at neutral, active while its rule holds, ended back at neutral."""

    kind: str
    armed: bool = False
    start: int | None = None
    end: int | None = None

    def step(self, frame: int, active: bool, neutral: bool, out: list[Event]) -> None:
        if self.start is not None and self.end is not None:
            if active:
                self.end = frame
            elif neutral:
                out.append(Event(self.kind, self.start, self.end))
                self.start = self.end = None
                self.armed = True
        elif not self.armed:
            self.armed = neutral
        elif active:
            self.start = self.end = frame

    def finish(self, out: list[Event]) -> None:
        if self.start is not None and self.end is not None:
            out.append(Event(self.kind, self.start, self.end))
            self.start = self.end = None


@dataclass
class EventTracker:
    """Session rules over a whole video, every action at once (see the module docstring)."""

    th: LivenessThresholds
    fps: float = DEFAULT_FPS
    baseline: Baseline | None = None
    baseline_frame: int | None = None
    samples: list[list[float]] = field(default_factory=list)
    sample_geometry: list[list[float]] = field(default_factory=list)
    # BlinkTrack fields (vigilo.liveness.decision.blink_update), in ms
    closed_since: float | None = None
    last_closed_at: float | None = None
    last_open_at: float | None = None
    blink_first: int | None = None
    blink_last: int | None = None
    events: list[Event] = field(default_factory=list)
    runs: dict[str, _Run] = field(
        default_factory=lambda: {kind: _Run(kind) for kind in ("turn_left", "turn_right", "mouth_open", "smile")}
    )

    def update(self, frame: int, sig: FaceSignals, aspect: float = 1.0) -> Deltas | None:
        """Feeds one frame; returns its deltas from the baseline (None while there is none or the frame is
        unusable)."""
        if quality_hint(sig, self.th) is not None:
            return None
        if self.baseline is None:
            _, self.baseline = collect_baseline(self.samples, self.sample_geometry, sig, self.th, aspect)
            self.baseline_frame = frame if self.baseline is not None else None
            return None
        d = deltas(sig, self.baseline)
        turn = turned(d, self.th)
        still = pose_neutral(d, self.th)
        self.runs["turn_left"].step(frame, turn is Action.TURN_LEFT, still, self.events)
        self.runs["turn_right"].step(frame, turn is Action.TURN_RIGHT, still, self.events)
        if facing(d, self.th):
            self.runs["mouth_open"].step(frame, mouth_opened(d, self.th), mouth_neutral(d, self.th), self.events)
            self.runs["smile"].step(frame, smiled(d, self.th), smile_neutral(d, self.th), self.events)
            self._blink(frame, d)
        return d

    def _blink(self, frame: int, d: Deltas) -> None:
        step = blink_update(self, frame * 1000.0 / self.fps, d, self.th)
        if step == "closed":
            self.blink_first = frame if self.blink_first is None else self.blink_first
            self.blink_last = frame
            return
        if step == "half":
            return
        if step == "blink" and self.blink_first is not None and self.blink_last is not None:
            self.events.append(Event("blink", self.blink_first, self.blink_last))
        if step == "too_long":
            # eyes closed too long: not a blink; a new one needs the eyes open first
            self.closed_since = self.last_closed_at = self.last_open_at = None
        self.blink_first = self.blink_last = None

    def finish(self) -> list[Event]:
        """All events, in order of their first frame (actions still held at the end included)."""
        for run in self.runs.values():
            run.finish(self.events)
        return sorted(self.events, key=lambda e: (e.start_frame, e.end_frame, e.type))


def frame_row(
    path: Path, frame: int, sig: FaceSignals, th: LivenessThresholds, baseline: Baseline | None
) -> dict[str, Any]:
    """The JSON line of one frame; signals are null without a face."""
    row: dict[str, Any] = {"path": str(path), "frame": frame, "face": sig.faces > 0, "faces": sig.faces}
    if sig.faces == 0:
        keys = ("yaw", "pitch", "roll", "ear", "mar", "smile", "smiling", "eyes_closed", "mouth_open")
        return row | dict.fromkeys(keys)
    d = deltas(sig, baseline or Baseline(0.0, 0.0, DEFAULT_OPEN_EYES, 0.0, 0.0))
    return row | {
        "yaw": round(sig.yaw, 2),
        "pitch": round(sig.pitch, 2),
        "roll": round(sig.roll, 2),
        "ear": round((sig.eye_openness_left + sig.eye_openness_right) / 2.0, 4),
        "mar": round(sig.mouth_open, 4),
        "smile": round(sig.smile, 4),
        "smiling": sig.smile >= SMILE_THRESHOLD,
        "eyes_closed": eyes_closed(d, th),
        "mouth_open": mouth_opened(d, th),
    }


def media_files(path: Path) -> list[Path]:
    """The file itself, or the images and videos in a folder (recursively, sorted)."""
    if not path.exists():
        raise AnalysisError(f"{path}: no such file or folder")
    if path.is_file():
        return [path]
    suffixes = IMAGE_SUFFIXES | VIDEO_SUFFIXES
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
    if not files:
        raise AnalysisError(f"{path}: no images or videos in this folder")
    return files


def read_image(path: Path) -> np.ndarray | None:
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise AnalysisError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None


def video_frames(path: Path) -> tuple[float, Iterator[np.ndarray]] | None:
    """(fps, frames) of a readable video, None when OpenCV cannot decode a first frame."""
    capture = cv2.VideoCapture(str(path))
    ok, first = capture.read() if capture.isOpened() else (False, None)
    if not ok or first is None:
        capture.release()
        return None
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)

    def frames() -> Iterator[np.ndarray]:
        try:
            yield first
            while True:
                ok, frame = capture.read()
                if not ok:
                    return
                yield frame
        finally:
            capture.release()

    return (fps if 0.0 < fps <= 1000.0 else DEFAULT_FPS), frames()


def analyze_path(
    analyzer: FaceAnalyzer, path: Path, th: LivenessThresholds, *, mirrored: bool = False
) -> Iterator[dict[str, Any]]:
    """JSON rows for one file: one per frame, then (videos only) `{"path", "events"}`.

    Raises AnalysisError when the file is neither a readable image nor a readable video."""
    suffix = path.suffix.lower()
    image = None if suffix in VIDEO_SUFFIXES else read_image(path)
    if image is not None:
        yield frame_row(path, 0, analyzer.analyze(image, mirrored=mirrored), th, None)
        return
    if suffix in IMAGE_SUFFIXES:
        raise AnalysisError(f"{path}: not a readable image")
    video = video_frames(path)
    if video is None:
        raise AnalysisError(f"{path}: not a readable image or video")
    fps, frames = video
    tracker = EventTracker(th, fps)
    for index, frame in enumerate(frames):
        sig = analyzer.analyze(frame, mirrored=mirrored)
        tracker.update(index, sig, frame.shape[1] / frame.shape[0])
        yield frame_row(path, index, sig, th, tracker.baseline)
    yield {"path": str(path), "events": [e.to_json() for e in tracker.finish()]}


def track(signals: list[FaceSignals], th: LivenessThresholds, fps: float, aspect: float) -> EventTracker:
    """The tracker after an already analysed frame sequence (its `finish()` gives the events)."""
    tracker = EventTracker(th, fps)
    for index, sig in enumerate(signals):
        tracker.update(index, sig, aspect)
    return tracker


def video_events(signals: list[FaceSignals], th: LivenessThresholds, fps: float, aspect: float) -> list[Event]:
    """Events of an already analysed frame sequence."""
    return track(signals, th, fps, aspect).finish()
