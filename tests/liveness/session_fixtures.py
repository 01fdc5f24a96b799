"""Fixtures for the liveness session tests: a settable clock, a real face analyzer, a real redis-server."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from vigilo.config.liveness import LivenessConfig
from vigilo.liveness.service import LivenessService
from vigilo.liveness.signals import FaceAnalyzer
from vigilo.liveness.store import MemoryStore, RedisStore, SessionStore


class Clock:
    """Wall clock the tests move by hand (seconds since the epoch). Starts a minute before the real time, so
    that signed results (checked against the real time by PyJWT) are not issued in the future."""

    def __init__(self, start: float | None = None) -> None:
        self.now = float(int(time.time()) - 60) if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    @property
    def ms(self) -> float:
        return self.now * 1000.0


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def analyzer() -> Iterator[FaceAnalyzer]:
    pytest.importorskip("mediapipe", reason="mediapipe==0.10.21 is not installed")
    face = FaceAnalyzer(pool_size=2)
    yield face
    face.close()


def noise_frame(seed: int, size: tuple[int, int] = (160, 120), ext: str = ".png") -> bytes:
    """A distinct face-free image: every seed gives other bytes and another thumbnail."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    ok, data = cv2.imencode(ext, image)
    assert ok
    return data.tobytes()


def make_service(
    clock: Clock,
    analyzer: FaceAnalyzer,
    data_dir: Path,
    store: SessionStore | None = None,
    **overrides: object,
) -> LivenessService:
    config = LivenessConfig.model_validate({"api_keys": ["test-key"], **overrides})
    return LivenessService(config, store or MemoryStore(clock), analyzer, data_dir=data_dir, clock=clock)


@pytest.fixture(params=["memory", "redis"])
def any_store_service(
    request: pytest.FixtureRequest, clock: Clock, analyzer: FaceAnalyzer, tmp_path: Path
) -> Iterator[LivenessService]:
    """The service on each store: in memory, and on the real redis-server (one read and one scripted
    update per frame)."""
    if request.param == "memory":
        yield make_service(clock, analyzer, tmp_path)
        return
    store = RedisStore(request.getfixturevalue("redis_url"))
    store._redis.flushdb()  # the replay memory must not carry frames over from another test
    yield make_service(clock, analyzer, tmp_path, store=store)
    store.close()


def doc_verifier() -> Callable[[str, str, str, str], bool]:
    """`verify_liveness` exactly as docs/liveness-api.md shows it."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "liveness-api.md").read_text(encoding="utf-8")
    section = text.split("## Verifying the result", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert len(code.strip().splitlines()) <= 10
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    verifier: Callable[[str, str, str, str], bool] = namespace["verify_liveness"]
    return verifier
