"""Resizing images onto a network canvas and mapping boxes back to source pixels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

PadMode = Literal["top_left", "center", "stretch"]


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a source image landed on the canvas: canvas = source * scale + offset (per axis)."""

    scale_x: float
    scale_y: float
    offset_x: float
    offset_y: float

    def to_source(self, boxes: np.ndarray, width: int, height: int) -> np.ndarray:
        """Maps xyxy canvas boxes back to the source image, clipped to its borders."""
        out = np.empty_like(boxes, dtype=np.float32)
        out[:, [0, 2]] = (boxes[:, [0, 2]] - self.offset_x) / self.scale_x
        out[:, [1, 3]] = (boxes[:, [1, 3]] - self.offset_y) / self.scale_y
        np.clip(out[:, [0, 2]], 0, width, out=out[:, [0, 2]])
        np.clip(out[:, [1, 3]], 0, height, out=out[:, [1, 3]])
        return out


def place(image: np.ndarray, canvas: np.ndarray, mode: PadMode) -> Placement:
    """Draws `image` onto `canvas` (already filled with the pad value) and says where it went."""
    canvas_h, canvas_w = canvas.shape[:2]
    src_h, src_w = image.shape[:2]
    if mode == "stretch":
        cv2.resize(image, (canvas_w, canvas_h), dst=canvas, interpolation=cv2.INTER_LINEAR)
        return Placement(canvas_w / src_w, canvas_h / src_h, 0.0, 0.0)
    scale = min(canvas_w / src_w, canvas_h / src_h)
    new_w, new_h = max(1, round(src_w * scale)), max(1, round(src_h * scale))
    if mode == "center":
        left, top = (canvas_w - new_w) // 2, (canvas_h - new_h) // 2
    else:
        left, top = 0, 0
    resized = (
        image if (new_w, new_h) == (src_w, src_h) else cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    )
    canvas[top : top + new_h, left : left + new_w] = resized
    return Placement(new_w / src_w, new_h / src_h, float(left), float(top))


def rect_canvas(width: int, height: int, max_w: int, max_h: int, stride: int = 32) -> tuple[int, int]:
    """Smallest stride-aligned canvas that holds the image letterboxed into max_w x max_h.

    A 640x480 frame on a 416x416 model runs at 416x320: a quarter less work, same scale.
    """
    scale = min(max_w / width, max_h / height)
    new_w, new_h = round(width * scale), round(height * scale)
    return (min(max_w, -(-new_w // stride) * stride), min(max_h, -(-new_h // stride) * stride))
