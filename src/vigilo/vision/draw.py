"""Annotating frames: boxes with label and score."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from vigilo.vision.detection import Detection

BOX_COLOUR = (0, 0, 255)  # BGR red


def draw_detections(image: np.ndarray, detections: Sequence[Detection], caption: str | None = None) -> np.ndarray:
    """A copy of `image` with every detection boxed and labelled."""
    out = image.copy()
    thickness = max(2, round(min(out.shape[:2]) / 300))
    font_scale = max(0.5, min(out.shape[:2]) / 900)
    for det in detections:
        x1, y1, x2, y2 = (round(v) for v in det.box)
        cv2.rectangle(out, (x1, y1), (x2, y2), BOX_COLOUR, thickness)
        text = f"{det.label} {det.score:.2f}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
        top = max(0, y1 - th - base - 4)
        cv2.rectangle(out, (x1, top), (x1 + tw + 6, top + th + base + 4), BOX_COLOUR, -1)
        cv2.putText(
            out,
            text,
            (x1 + 3, top + th + 2),
            cv2.FONT_HERSHEY_SIMPLEX,
            font_scale,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
    if caption:
        cv2.putText(
            out,
            caption,
            (8, out.shape[0] - 10),
            cv2.FONT_HERSHEY_SIMPLEX,
            font_scale,
            (255, 255, 255),
            2,
            cv2.LINE_AA,
        )
    return out
