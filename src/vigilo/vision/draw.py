"""Annotating frames: boxes with label and score, zone outlines, a header band (camera name, time).

Text goes through Pillow with a CJK-capable font, so camera and zone names like "考场一" show as
written. The font is the configured one (`events.snapshot_font`), else the first of `FONT_CANDIDATES`
that exists (Debian's `fonts-wqy-microhei` first). With no usable font the text falls back to OpenCV's
Hershey font, which has ASCII only (anything else shows as "?"), and that is logged once.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vigilo.vision.detection import Detection

log = logging.getLogger(__name__)

BOX_COLOUR = (0, 0, 255)  # BGR red
ZONE_COLOUR = (0, 200, 255)  # BGR amber
WHITE = (255, 255, 255)

FONT_CANDIDATES: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc"),
)

_HERSHEY = cv2.FONT_HERSHEY_SIMPLEX
_HERSHEY_PX = 30.0  # Hershey simplex line height (text + baseline) at scale 1, in pixels

Font = ImageFont.FreeTypeFont


@functools.cache
def font_path(configured: Path | None = None) -> Path | None:
    """The font file text is drawn with: `configured` when readable, else the first candidate found."""
    for candidate in ((configured,) if configured else ()) + FONT_CANDIDATES:
        if _loads(candidate):
            return candidate
        if candidate == configured:
            log.warning("snapshot font %s cannot be loaded; trying the system CJK fonts", configured)
    log.warning(
        "no CJK font found (install fonts-wqy-microhei or set events.snapshot_font): "
        "snapshot text falls back to ASCII, other characters show as '?'"
    )
    return None


def _loads(path: Path) -> bool:
    try:
        ImageFont.truetype(str(path), 12)
    except OSError:
        return False
    return True


@functools.cache
def _font(path: Path, size: int) -> Font:
    return ImageFont.truetype(str(path), size)


def text_size(text: str, size_px: int, font: Path | None = None) -> tuple[int, int]:
    """(width, height) in pixels of `text` drawn `size_px` high."""
    path = font_path(font)
    if path is None:
        (width, height), base = cv2.getTextSize(text, _HERSHEY, size_px / _HERSHEY_PX, 1)
        return width, height + base
    left, _top, right, bottom = _font(path, size_px).getbbox(text)
    return math.ceil(right - min(left, 0)), max(math.ceil(bottom), size_px)


def put_text(
    image: np.ndarray,
    text: str,
    origin: tuple[int, int],
    size_px: int,
    colour: tuple[int, int, int] = WHITE,
    font: Path | None = None,
) -> None:
    """Draws `text` into `image` (BGR, in place) with its top-left corner at `origin`."""
    path = font_path(font)
    if path is None:
        _put_hershey(image, text, origin, size_px, colour)
        return
    face = _font(path, size_px)
    width, height = text_size(text, size_px, font)
    x, y = origin
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(image.shape[1], x + width + 2), min(image.shape[0], y + height + 2)
    if x1 <= x0 or y1 <= y0:
        return
    region = Image.fromarray(np.ascontiguousarray(image[y0:y1, x0:x1, ::-1]))
    ImageDraw.Draw(region).text((x - x0, y - y0), text, font=face, fill=colour[::-1])
    image[y0:y1, x0:x1] = np.asarray(region)[:, :, ::-1]


def _put_hershey(image: np.ndarray, text: str, origin: tuple[int, int], size_px: int, colour: tuple[int, ...]) -> None:
    scale = size_px / _HERSHEY_PX
    (_, height), _ = cv2.getTextSize(text, _HERSHEY, scale, 1)
    cv2.putText(image, text, (origin[0], origin[1] + height), _HERSHEY, scale, colour, 1, cv2.LINE_AA)


def _text_px(image: np.ndarray, divisor: float, minimum: float) -> int:
    """A text height that grows with the image: Hershey scale max(minimum, side / divisor), in pixels."""
    return max(14, round(max(minimum, min(image.shape[:2]) / divisor) * _HERSHEY_PX))


def draw_detections(
    image: np.ndarray,
    detections: Sequence[Detection],
    caption: str | None = None,
    font: Path | None = None,
) -> np.ndarray:
    """A copy of `image` with every detection boxed and labelled."""
    out = image.copy()
    thickness = max(2, round(min(out.shape[:2]) / 300))
    size = _text_px(out, 900, 0.5)
    for det in detections:
        x1, y1, x2, y2 = (round(v) for v in det.box)
        cv2.rectangle(out, (x1, y1), (x2, y2), BOX_COLOUR, thickness)
        text = f"{det.label} {det.score:.2f}"
        tw, th = text_size(text, size, font)
        top = max(0, y1 - th - 6)
        cv2.rectangle(out, (x1, top), (x1 + tw + 6, top + th + 6), BOX_COLOUR, -1)
        put_text(out, text, (x1 + 3, top + 3), size, WHITE, font)
    if caption:
        _, th = text_size(caption, size, font)
        put_text(out, caption, (8, out.shape[0] - th - 10), size, WHITE, font)
    return out


def draw_polygon(
    image: np.ndarray,
    polygon: Sequence[tuple[float, float]],
    label: str | None = None,
    colour: tuple[int, int, int] = ZONE_COLOUR,
    font: Path | None = None,
) -> np.ndarray:
    """A copy of `image` with `polygon` (relative 0..1 coordinates) outlined and optionally labelled."""
    out = image.copy()
    height, width = out.shape[:2]
    points = np.array([(round(x * width), round(y * height)) for x, y in polygon], dtype=np.int32)
    thickness = max(1, round(min(height, width) / 400))
    cv2.polylines(out, [points.reshape(-1, 1, 2)], True, colour, thickness, cv2.LINE_AA)
    if label:
        x, y = int(points[:, 0].min()), int(points[:, 1].min())
        put_text(out, label, (x + 4, y + 4), _text_px(out, 1000, 0.4), colour, font)
    return out


def draw_header(image: np.ndarray, lines: Sequence[str], font: Path | None = None) -> np.ndarray:
    """A copy of `image` with `lines` of text on a dark band at the top (camera name, time)."""
    out = image.copy()
    if not lines:
        return out
    size = _text_px(out, 900, 0.4)
    line_h = max(text_size("Ag" + line, size, font)[1] for line in lines) + 6
    band = out[: line_h * len(lines) + 4]
    band[:] = (band * 0.35).astype(out.dtype)
    for index, text in enumerate(lines):
        put_text(out, text, (6, index * line_h + 4), size, WHITE, font)
    return out
