"""Frame fingerprints against duplicates and replays.

- `exact_hash`: SHA-256 of the bytes: the same frame sent twice, in this session or any other.
- `thumbnail` + `mean_abs_diff`: a 64x48 grey thumbnail of the whole frame. A re-encoded copy of a frame
  differs from it by about 0.1-0.35 grey levels on average; two camera frames 100 ms apart, even of a
  person sitting still, by more (0.24-0.9 measured on the ZJU clips, which are compressed video and so
  less noisy than a webcam). The default threshold (0.2) therefore catches exact and high-quality copies and
  leaves real frames alone. Perceptual hashes (dHash) could not do this: a still person gives identical
  hashes frame after frame.
"""

from __future__ import annotations

import base64
import hashlib

import cv2
import numpy as np

THUMB_SIZE = (64, 48)


def exact_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def thumbnail(image_bgr: np.ndarray) -> str:
    """Base64 of the 64x48 grey thumbnail (area interpolation)."""
    gray = image_bgr if image_bgr.ndim == 2 else cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    small = cv2.resize(gray, THUMB_SIZE, interpolation=cv2.INTER_AREA)
    return base64.b64encode(np.ascontiguousarray(small, dtype=np.uint8).tobytes()).decode("ascii")


def mean_abs_diff(a: str, b: str) -> float:
    """Mean absolute grey-level difference between two thumbnails."""
    x = np.frombuffer(base64.b64decode(a), dtype=np.uint8).astype(np.int16)
    y = np.frombuffer(base64.b64decode(b), dtype=np.uint8).astype(np.int16)
    if x.shape != y.shape:
        return float("inf")
    return float(np.abs(x - y).mean())
