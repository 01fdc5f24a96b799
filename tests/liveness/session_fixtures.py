"""Fixtures for the liveness session tests: a settable clock, a real face analyzer, a real redis-server."""

from __future__ import annotations

import shutil
import socket
import subprocess
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
from vigilo.liveness.store import MemoryStore, SessionStore


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free port, for this test session only."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (make install or apt-get install redis-server)")
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
    client.close()
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()


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
