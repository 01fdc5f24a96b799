"""Gives each phone a track id across sampled frames: a small two-stage IoU tracker (ByteTrack's idea).

Why no library: the maintained trackers on PyPI either pull what we refuse or add a lot for little —
`supervision` pulls the non-headless opencv-python, `boxmot` pulls torch, `bytetracker` needs `lap`
built from source (and was last released in 2023), `norfair` pulls scipy and the unmaintained filterpy.
At 1–5 sampled frames per second with a handful of phones, greedy IoU matching in numpy is all we need.

Stage 1 matches confident detections to live tracks by IoU; stage 2 lets weaker detections (between
`low_threshold` and `high_threshold`) continue the tracks left over, so a phone whose score dips for a
frame keeps its id. Only confident detections start tracks. At low frame rates a moving hand can
leave no overlap between frames, so a detection close to a track (centre distance under one box
size) may still continue it when nothing overlaps better.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vigilo.vision.detection import Detection


@dataclass(frozen=True, slots=True)
class TrackedDetection:
    track_id: int
    detection: Detection


@dataclass
class Track:
    track_id: int
    box: tuple[float, float, float, float]
    score: float
    first_seen: float
    last_seen: float
    hits: int = 1


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in `a` (N×4, x1 y1 x2 y2) with every box in `b` (M×4)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float64)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]).clip(0) * (a[:, 3] - a[:, 1]).clip(0)
    area_b = (b[:, 2] - b[:, 0]).clip(0) * (b[:, 3] - b[:, 1]).clip(0)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def _affinity(tracks: np.ndarray, dets: np.ndarray, min_iou: float) -> np.ndarray:
    """IoU where it reaches `min_iou`; a small positive score for near misses; 0 where no match is allowed."""
    iou = iou_matrix(tracks, dets)
    if len(tracks) == 0 or len(dets) == 0:
        return iou
    centre_t = (tracks[:, :2] + tracks[:, 2:]) / 2
    centre_d = (dets[:, :2] + dets[:, 2:]) / 2
    size_t = np.maximum(tracks[:, 2] - tracks[:, 0], tracks[:, 3] - tracks[:, 1])
    dist = np.linalg.norm(centre_t[:, None, :] - centre_d[None, :, :], axis=2) / np.maximum(size_t[:, None], 1e-9)
    near = np.where(dist < 1.0, (1.0 - dist) * min_iou * 0.5, 0.0)
    return np.where(iou >= min_iou, iou, near)


def _greedy(affinity: np.ndarray) -> list[tuple[int, int]]:
    """Pairs (row, col), best affinity first, each row and column used once."""
    pairs: list[tuple[int, int]] = []
    if affinity.size == 0:
        return pairs
    order = np.dstack(np.unravel_index(np.argsort(-affinity, axis=None), affinity.shape))[0]
    used_r: set[int] = set()
    used_c: set[int] = set()
    for r, c in order:
        if affinity[r, c] <= 0:
            break
        if r in used_r or c in used_c:
            continue
        used_r.add(int(r))
        used_c.add(int(c))
        pairs.append((int(r), int(c)))
    return pairs


class IouTracker:
    """Feed it each sampled frame's detections with the frame time; get them back with track ids."""

    def __init__(
        self,
        *,
        high_threshold: float,
        low_threshold: float = 0.15,
        min_iou: float = 0.2,
        max_age: float = 2.0,
    ) -> None:
        self.high_threshold = high_threshold
        self.low_threshold = min(low_threshold, high_threshold)
        self.min_iou = min_iou
        self.max_age = max_age
        self.tracks: list[Track] = []
        self._next_id = 1

    def update(self, detections: Sequence[Detection], now: float) -> list[TrackedDetection]:
        """Tracked detections of this frame, in input order (weak ones only when they continue a track)."""
        self.tracks = [t for t in self.tracks if now - t.last_seen <= self.max_age]
        strong = [d for d in detections if d.score >= self.high_threshold]
        weak = [d for d in detections if self.low_threshold <= d.score < self.high_threshold]
        out: list[TrackedDetection] = []
        order = {id(d): i for i, d in enumerate(detections)}
        free = list(range(len(self.tracks)))
        for group, may_start in ((strong, True), (weak, False)):
            matched, leftover = self._match([self.tracks[i] for i in free], group)
            for track_pos, det_index in matched:
                track = self.tracks[free[track_pos]]
                self._extend(track, group[det_index], now)
                out.append(TrackedDetection(track.track_id, group[det_index]))
            used = {free[p] for p, _ in matched}
            free = [i for i in free if i not in used]
            if may_start:
                for det_index in leftover:
                    track = self._start(group[det_index], now)
                    out.append(TrackedDetection(track.track_id, group[det_index]))
        return sorted(out, key=lambda t: order[id(t.detection)])

    def _match(self, tracks: list[Track], dets: list[Detection]) -> tuple[list[tuple[int, int]], list[int]]:
        if not dets:
            return [], []
        t_boxes = np.array([t.box for t in tracks], dtype=np.float64).reshape(-1, 4)
        d_boxes = np.array([d.box for d in dets], dtype=np.float64).reshape(-1, 4)
        pairs = _greedy(_affinity(t_boxes, d_boxes, self.min_iou))
        matched_dets = {c for _, c in pairs}
        return pairs, [i for i in range(len(dets)) if i not in matched_dets]

    def _extend(self, track: Track, det: Detection, now: float) -> None:
        track.box = det.box
        track.score = det.score
        track.last_seen = now
        track.hits += 1

    def _start(self, det: Detection, now: float) -> Track:
        track = Track(self._next_id, det.box, det.score, now, now)
        self._next_id += 1
        self.tracks.append(track)
        return track

    def reset(self) -> None:
        self.tracks.clear()
