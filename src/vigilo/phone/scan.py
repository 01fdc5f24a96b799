"""Detect phones across many files: batching frames through the detector, in input order."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from vigilo.phone.detector import PhoneDetector
from vigilo.phone.media import Frame, MediaProblem, expand, frames
from vigilo.vision.detection import Detection


@dataclass(frozen=True)
class FrameResult:
    frame: Frame
    detections: list[Detection]

    def to_json(self) -> dict[str, object]:
        height, width = self.frame.image.shape[:2]
        return {
            "path": str(self.frame.path),
            "frame": self.frame.frame,
            "width": width,
            "height": height,
            "detections": [d.to_json() for d in self.detections],
        }


def scan(
    paths: Iterable[Path],
    detector: PhoneDetector,
    *,
    every: int = 1,
    threshold: float | None = None,
    max_pixels: int = 40_000_000,
) -> Iterator[FrameResult | MediaProblem]:
    """Yields one result per frame (or one problem per unreadable file), in input order."""
    pending: list[Frame] = []

    def flush() -> Iterator[FrameResult]:
        results = detector.detect([f.image for f in pending], threshold)
        yield from (FrameResult(f, d) for f, d in zip(pending, results, strict=True))
        pending.clear()

    for item in expand(paths):
        if isinstance(item, MediaProblem):
            yield from flush()
            yield item
            continue
        for frame in frames(item, every=every, max_pixels=max_pixels):
            if isinstance(frame, MediaProblem):
                yield from flush()
                yield frame
                continue
            pending.append(frame)
            if len(pending) >= detector.batch_size:
                yield from flush()
    yield from flush()
