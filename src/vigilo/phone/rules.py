"""Per-camera rules: schedule, masks, zones (threshold, smallest box), the person rule, and confirmation.

Each sampled frame goes through `RuleEngine.observe`, which says, per zone, which tracked phones
count in that frame and which are confirmed (seen in at least N of their last M sampled frames, or
for at least T seconds). A box belongs to a zone, or to a mask, by its centre.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from vigilo.config.cameras import FRAME_ZONE, CameraConfig, ConfirmConfig, PersonRule
from vigilo.phone.tracker import TrackedDetection
from vigilo.vision.detection import Detection

WHOLE_FRAME: tuple[tuple[float, float], ...] = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))


@dataclass(frozen=True)
class Zone:
    name: str
    polygon: tuple[tuple[float, float], ...]  # relative coordinates
    threshold: float
    min_area: float  # fraction of the frame area

    def pixels(self, width: int, height: int) -> np.ndarray:
        return np.array([(x * width, y * height) for x, y in self.polygon], dtype=np.float32)


def centre(box: tuple[float, float, float, float]) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def inside(point: tuple[float, float], polygon_px: np.ndarray) -> bool:
    return cv2.pointPolygonTest(polygon_px.reshape(-1, 1, 2), (float(point[0]), float(point[1])), False) >= 0


def overlap_fraction(inner: tuple[float, float, float, float], outer: tuple[float, float, float, float]) -> float:
    """How much of `inner`'s area lies inside `outer` (0..1)."""
    w = max(0.0, min(inner[2], outer[2]) - max(inner[0], outer[0]))
    h = max(0.0, min(inner[3], outer[3]) - max(inner[1], outer[1]))
    area = max(0.0, inner[2] - inner[0]) * max(0.0, inner[3] - inner[1])
    return w * h / area if area > 0 else 0.0


def zones_of(camera: CameraConfig, default_threshold: float) -> list[Zone]:
    threshold = camera.threshold if camera.threshold is not None else default_threshold
    if not camera.zones:
        return [Zone(FRAME_ZONE, WHOLE_FRAME, threshold, camera.min_area)]
    return [
        Zone(
            z.name,
            tuple(z.polygon),
            z.threshold if z.threshold is not None else threshold,
            z.min_area if z.min_area is not None else camera.min_area,
        )
        for z in camera.zones
    ]


@dataclass
class _History:
    seen: deque[bool]
    first_seen: float  # when this run of sightings began
    last_seen: float


class Confirmation:
    """N-of-M (or T seconds) confirmation, per (zone, track id)."""

    def __init__(self, config: ConfirmConfig) -> None:
        self.config = config
        self._history: dict[tuple[str, int], _History] = {}

    def observe(self, zone: str, counted: Sequence[TrackedDetection], now: float) -> list[TrackedDetection]:
        """Records this frame for `zone`; returns the counted detections whose track is confirmed."""
        counted_ids = {t.track_id for t in counted}
        for key, history in list(self._history.items()):
            if key[0] == zone and key[1] not in counted_ids:
                history.seen.append(False)
                if not any(history.seen):
                    del self._history[key]
        confirmed = []
        for tracked in counted:
            key = (zone, tracked.track_id)
            history = self._history.setdefault(key, _History(deque(maxlen=self.config.window), now, now))
            history.seen.append(True)
            history.last_seen = now
            if self._holds(history, now):
                confirmed.append(tracked)
        return confirmed

    def _holds(self, history: _History, now: float) -> bool:
        if sum(history.seen) >= self.config.min_frames:
            return True
        return self.config.min_seconds is not None and now - history.first_seen >= self.config.min_seconds

    def first_seen(self, zone: str, track_id: int) -> float | None:
        history = self._history.get((zone, track_id))
        return history.first_seen if history else None

    def reset(self) -> None:
        self._history.clear()


@dataclass
class ZoneObservation:
    zone: Zone
    counted: list[TrackedDetection] = field(default_factory=list)
    confirmed: list[TrackedDetection] = field(default_factory=list)
    since: float | None = None  # earliest first sighting among the confirmed tracks


class RuleEngine:
    """A camera's rules, compiled once; `observe` runs them on one sampled frame."""

    def __init__(self, camera: CameraConfig, default_threshold: float) -> None:
        self.camera = camera
        self.zones = zones_of(camera, default_threshold)
        self.masks = [tuple(m.polygon) for m in camera.masks]
        self.person: PersonRule = camera.person
        self.confirmation = Confirmation(camera.confirm)

    @property
    def min_threshold(self) -> float:
        return min(z.threshold for z in self.zones)

    def active(self, wall: float) -> bool:
        return self.camera.schedule.active(wall)

    def observe(
        self,
        tracked: Sequence[TrackedDetection],
        persons: Sequence[Detection],
        size: tuple[int, int],
        now: float,
    ) -> list[ZoneObservation]:
        """Per zone: the phones counted in this frame and those confirmed. `size` is (width, height)."""
        width, height = size
        candidates = [t for t in tracked if not self._masked(t.detection, width, height)]
        if self.person.enabled:
            candidates = [t for t in candidates if self._with_person(t.detection, persons)]
        observations = []
        for zone in self.zones:
            polygon = zone.pixels(width, height)
            counted = [
                t
                for t in candidates
                if t.detection.score >= zone.threshold
                and t.detection.area >= zone.min_area * width * height
                and inside(centre(t.detection.box), polygon)
            ]
            confirmed = self.confirmation.observe(zone.name, counted, now)
            firsts = [self.confirmation.first_seen(zone.name, t.track_id) for t in confirmed]
            since = min((f for f in firsts if f is not None), default=None)
            observations.append(ZoneObservation(zone, counted, confirmed, since))
        return observations

    def _masked(self, det: Detection, width: int, height: int) -> bool:
        point = centre(det.box)
        return any(
            inside(point, np.array([(x * width, y * height) for x, y in mask], dtype=np.float32)) for mask in self.masks
        )

    def _with_person(self, det: Detection, persons: Sequence[Detection]) -> bool:
        return any(
            p.score >= self.person.threshold and overlap_fraction(det.box, p.box) >= self.person.min_overlap
            for p in persons
        )

    def reset(self) -> None:
        self.confirmation.reset()
