"""Image decoding with size limits checked before any pixel is decoded."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".gif"})


class ImageError(Exception):
    """An image that cannot be used. `code` is the stable API error code."""

    def __init__(self, code: str, text: str, **params: object) -> None:
        super().__init__(text)
        self.code = code
        self.params = params


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the header alone; raises ImageError for anything not an image."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except Image.DecompressionBombError:
        # Pillow refuses to even open images far beyond its own limit: that is too large, not unreadable.
        raise ImageError("image_too_large", "image has too many pixels", pixels="?", limit="?") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise ImageError("image_unreadable", "not a readable image") from None


def decode_image(data: bytes, max_pixels: int) -> np.ndarray:
    """BGR uint8 pixels (EXIF orientation applied). Too many pixels raise before decoding."""
    width, height = image_size(data)
    pixels = width * height
    if pixels > max_pixels:
        raise ImageError(
            "image_too_large",
            f"image has {pixels} pixels, limit {max_pixels}",
            pixels=pixels,
            limit=max_pixels,
        )
    array = np.frombuffer(data, dtype=np.uint8)
    image = cv2.imdecode(array, cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise ImageError("image_unreadable", "image data is corrupt or truncated")
    return image


def read_image(path: Path, max_pixels: int) -> np.ndarray:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageError("image_unreadable", f"cannot read file: {exc.strerror or exc}") from None
    return decode_image(data, max_pixels)


def encode_jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ImageError("image_unreadable", "cannot encode JPEG")
    return buffer.tobytes()
