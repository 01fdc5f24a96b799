"""Test clips composed from a real phone frame (necem, read in place) and a real phone-free frame."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from tests.conftest import shared_path
from tests.phone.test_default_model import CLEAR_PHONE
from vigilo.config import DetectorConfig
from vigilo.config.cameras import CameraConfig
from vigilo.phone.detector import PhoneDetector
from vigilo.phone.events import CameraEvent, EventStore, PhoneEvent
from vigilo.phone.watcher import CameraWatcher

SIZE = 320  # small frames keep the tests fast; the default model still scores the phone ~0.8
# The phone's box in the 320x320 phone frame is about (131, 124)-(217, 275): centre (0.54, 0.62).
PHONE_CENTRE = (0.54, 0.62)

Segments = Sequence[tuple[float, bool]]  # (seconds, phone visible)


@dataclass(frozen=True)
class Frames:
    phone: np.ndarray
    empty: np.ndarray


@pytest.fixture(scope="session")
def frames() -> Frames:
    phone_path = shared_path("data", "phone", "necem", "test", "images", f"{CLEAR_PHONE}.jpg")
    empty_path = shared_path("data", "phone", "negative_videos", "bottle-detection.mp4")
    phone = cv2.resize(cv2.imread(str(phone_path)), (SIZE, SIZE))
    capture = cv2.VideoCapture(str(empty_path))
    ok, empty = capture.read()
    capture.release()
    assert ok
    return Frames(phone, cv2.resize(empty, (SIZE, SIZE)))


def truth(segments: Segments) -> list[tuple[float, float]]:
    """(appears, disappears) in seconds for each phone segment."""
    out, t = [], 0.0
    for seconds, phone in segments:
        if phone:
            out.append((t, t + seconds))
        t += seconds
    return out


def frame_at(frames: Frames, segments: Segments, t: float) -> np.ndarray | None:
    start = 0.0
    for seconds, phone in segments:
        if start <= t < start + seconds:
            return frames.phone if phone else frames.empty
        start += seconds
    return None


def write_clip(path: Path, frames: Frames, segments: Segments, fps: int = 10) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (SIZE, SIZE))
    assert writer.isOpened()
    total = round(sum(s for s, _ in segments) * fps)
    for index in range(total):
        image = frame_at(frames, segments, index / fps)
        assert image is not None
        writer.write(image)
    writer.release()
    return path


@pytest.fixture(scope="session")
def detector() -> PhoneDetector:
    return PhoneDetector.from_config(DetectorConfig(threads=1))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    events = EventStore(f"sqlite:///{tmp_path / 'vigilo.db'}", tmp_path)
    yield events
    events.close()


def camera(source: str | Path, **overrides: Any) -> CameraConfig:
    base: dict[str, Any] = {
        "name": "room-101",
        "source": str(source),
        "fps": 4,
        "realtime": False,
        "confirm": {"min_frames": 2, "window": 3},
        "episode": {"grace_seconds": 1.0},
    }
    return CameraConfig.model_validate({**base, **overrides})


@dataclass
class Collected:
    phone: list[PhoneEvent] = field(default_factory=list)
    cameras: list[CameraEvent] = field(default_factory=list)

    def of(self, change: str) -> list[PhoneEvent]:
        return [e for e in self.phone if e.change == change]


def watch(config: CameraConfig, detector: PhoneDetector, store: EventStore) -> tuple[Collected, CameraWatcher]:
    """Runs a watcher to the end of its (file) source on this thread."""
    seen = Collected()
    watcher = CameraWatcher(config, detector, store, on_event=seen.phone.append, on_camera=seen.cameras.append)
    watcher.run()
    return seen, watcher
