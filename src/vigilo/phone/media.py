"""Turns paths (images, folders, video files) into decoded frames, reporting what cannot be read."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vigilo.vision.imageio import IMAGE_SUFFIXES, VIDEO_SUFFIXES, ImageError, read_image


@dataclass(frozen=True)
class Frame:
    path: Path
    frame: int | None  # None for still images, the 0-based frame number in a video
    image: np.ndarray


@dataclass(frozen=True)
class MediaProblem:
    path: Path
    reason: str


def expand(paths: Iterable[Path]) -> Iterator[Path | MediaProblem]:
    """Files as given; folders recursively (images and videos only), in a stable order."""
    for path in paths:
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if child.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
                    yield child
        elif path.is_file():
            yield path
        elif path.exists():
            yield MediaProblem(path, "not a regular file")
        else:
            yield MediaProblem(path, "no such file or folder")


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def frames(path: Path, *, every: int = 1, max_pixels: int = 40_000_000) -> Iterator[Frame | MediaProblem]:
    """Decoded frames of one file: one for an image, every `every`-th for a video."""
    if not is_video(path):
        try:
            yield Frame(path, None, read_image(path, max_pixels))
        except ImageError as exc:
            yield MediaProblem(path, str(exc))
        return
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            yield MediaProblem(path, "cannot open video (unsupported codec or corrupt file)")
            return
        index = 0
        produced = 0
        while True:
            if index % every == 0:
                ok, image = capture.read()
                if not ok:
                    break
                if image.shape[0] * image.shape[1] > max_pixels:
                    yield MediaProblem(path, f"video frames have more than {max_pixels} pixels")
                    return
                produced += 1
                yield Frame(path, index, image)
            elif not capture.grab():
                break
            index += 1
        if produced == 0:
            yield MediaProblem(path, "video has no decodable frames")
    finally:
        capture.release()
