"""The seed project's liveness rules, kept only as the baseline `vigilo eval` prints beside ours.

* blink: the mean EAR of both eyes below 0.21 for at least 3 consecutive frames (one event per run);
* mouth open: MAR above 0.6 (the same inner-lip MAR as :func:`vigilo.liveness.signals.mouth_aspect_ratio`);
* head turn: a 2-D angle from the image positions of the nose tip and the eyes, no 3-D fit. The seed's text
  names the rule ("nose-eye angle") but no formula; this is its usual form in MediaPipe challenge code: the
  angle between the vertical and the line from the eye midpoint (outer corners 33/263) to the nose tip (1),
  ``atan2(dx, dy)`` in pixels, signed like Vigilo's yaw (> 0 when the nose moves toward the image's right,
  the subject's own left, in an unmirrored frame); a turn is that angle beyond ±15°.
* smile: the seed has no smile action, so there is no seed smile rule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

SEED_EAR_CLOSED = 0.21
SEED_BLINK_FRAMES = 3
SEED_MAR_OPEN = 0.6
SEED_TURN_DEG = 15.0

_NOSE_TIP = 1
_EYE_OUTER = (33, 263)


def seed_blinks(ear: Sequence[float] | np.ndarray) -> list[tuple[int, int]]:
    """(first, last) frame of each run of EAR < 0.21 lasting at least 3 frames (NaN = no face = open)."""
    runs: list[tuple[int, int]] = []
    start: int | None = None
    values = [float(v) for v in ear]
    for i, value in enumerate([*values, math.nan]):
        closed = not math.isnan(value) and value < SEED_EAR_CLOSED
        if closed and start is None:
            start = i
        elif not closed and start is not None:
            if i - start >= SEED_BLINK_FRAMES:
                runs.append((start, i - 1))
            start = None
    return runs


def seed_mouth_open(mar: float) -> bool:
    return mar > SEED_MAR_OPEN


def seed_yaw(landmarks: np.ndarray, width: int, height: int) -> float:
    """The seed-style 2-D nose-eye angle in degrees from normalized MediaPipe landmarks."""
    nose = landmarks[_NOSE_TIP, :2] * (width, height)
    mid = 0.5 * (landmarks[_EYE_OUTER[0], :2] + landmarks[_EYE_OUTER[1], :2]) * (width, height)
    dx, dy = float(nose[0] - mid[0]), float(nose[1] - mid[1])
    return math.degrees(math.atan2(dx, abs(dy) if abs(dy) > 1e-9 else 1e-9))
