"""What every detector returns, and the interface every detector implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True, slots=True)
class Detection:
    label: str
    score: float
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in source-image pixels
    class_id: int = -1

    def to_json(self) -> dict[str, object]:
        return {
            "label": self.label,
            "score": round(self.score, 4),
            "box": [round(v, 1) for v in self.box],
        }

    @property
    def area(self) -> float:
        return max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1])


class Detector(Protocol):
    """Batches of BGR images in; per image, the detections above `threshold`."""

    labels: Sequence[str]

    def detect(
        self,
        images: Sequence[np.ndarray],
        *,
        threshold: float,
        classes: Sequence[str] | None = None,
    ) -> list[list[Detection]]: ...
