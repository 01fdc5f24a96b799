"""Fixtures for the face-animation tests: a real analyzer and animations of a real GENKI-4K photo.

The photo (GENKI-4K ``file2933.jpg``: frontal, not smiling) is read in place from ../shared/data; the tests
skip when it is absent. Animations are 480x360 at 10 fps (the rate the service asks clients for) and are
rendered once per test session.
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from tests.conftest import shared_path
from tests.liveness.session_fixtures import analyzer, clock
from vigilo.liveness.signals import FaceAnalyzer
from vigilo.tools.face_animation import Animation, FaceRig, animate, compose, load_photo

__all__ = ["analyzer", "clock"]

FPS = 10.0
SIZE = (480, 360)
FORWARD = ["turn_left", "blink", "open_mouth", "smile", "turn_right"]
REVERSE = FORWARD[::-1]


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    return load_photo(shared_path("data", "genki4k", "files", "file2933.jpg"))


@pytest.fixture(scope="session")
def rig(photo: np.ndarray, analyzer: FaceAnalyzer) -> FaceRig:
    return FaceRig.from_canvas(compose(photo, SIZE), analyzer)


class Animations:
    """Animations rendered on demand and kept for the test session."""

    def __init__(self, photo: np.ndarray, rig: FaceRig) -> None:
        self.photo, self.rig = photo, rig
        self._cache: dict[tuple[tuple[str, ...], int], Animation] = {}

    def get(self, actions: list[str], seed: int = 0) -> Animation:
        key = (tuple(actions), seed)
        if key not in self._cache:
            self._cache[key] = animate(self.photo, actions, fps=FPS, size=SIZE, seed=seed, rig=self.rig)
        return self._cache[key]


@pytest.fixture(scope="session")
def animations(photo: np.ndarray, rig: FaceRig) -> Iterator[Animations]:
    yield Animations(photo, rig)


def jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return data.tobytes()
