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


ZONE_COLOUR = (0, 200, 255)  # BGR amber


def draw_polygon(
    image: np.ndarray,
    polygon: Sequence[tuple[float, float]],
    label: str | None = None,
    colour: tuple[int, int, int] = ZONE_COLOUR,
) -> np.ndarray:
    """A copy of `image` with `polygon` (relative 0..1 coordinates) outlined and optionally labelled."""
    out = image.copy()
    height, width = out.shape[:2]
    points = np.array([(round(x * width), round(y * height)) for x, y in polygon], dtype=np.int32)
    thickness = max(1, round(min(height, width) / 400))
    cv2.polylines(out, [points.reshape(-1, 1, 2)], True, colour, thickness, cv2.LINE_AA)
    if label:
        x, y = int(points[:, 0].min()), int(points[:, 1].min())
        font_scale = max(0.4, min(height, width) / 1000)
        cv2.putText(out, label, (x + 4, max(12, y + 16)), cv2.FONT_HERSHEY_SIMPLEX, font_scale, colour, 1, cv2.LINE_AA)
    return out


def draw_header(image: np.ndarray, lines: Sequence[str]) -> np.ndarray:
    """A copy of `image` with `lines` of text on a dark band at the top (camera name, time)."""
    out = image.copy()
    if not lines:
        return out
    font_scale = max(0.4, min(out.shape[:2]) / 900)
    (_, th), base = cv2.getTextSize("Ag", cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
    line_h = th + base + 6
    band = out[: line_h * len(lines) + 4]
    band[:] = (band * 0.35).astype(out.dtype)
    for index, text in enumerate(lines):
        cv2.putText(
            out,
            text,
            (6, (index + 1) * line_h - base),
            cv2.FONT_HERSHEY_SIMPLEX,
            font_scale,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
    return out
