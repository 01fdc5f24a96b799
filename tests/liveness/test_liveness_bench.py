"""`vigilo.liveness.bench.run()`: the rows `make bench` prints, on a short run (no timing asserted)."""

from __future__ import annotations

import pytest

from tests.conftest import shared_path
from vigilo.liveness import bench


def test_bench_rows_measure_accepted_frames_of_real_faces_on_both_stores_and_the_seed_flow() -> None:
    pytest.importorskip("mediapipe", reason="mediapipe==0.10.21 is not installed")
    shared_path("data", "zju-blink")
    lines = bench.run(calls=24)
    assert lines[1].startswith("|---")
    memory, redis, seed, ratio = lines[2:6]
    assert memory.startswith("| Vigilo /frames path, memory store | 24 | 0 |")  # every frame accepted
    assert redis.startswith("| Vigilo /frames path, Redis store | 24 | 0 |")
    assert seed.startswith("| seed flow") and "| 24 | 0 |" in seed  # a face found in every frame
    assert all(float(row.split("|")[4]) > 0 for row in (memory, redis, seed))
    assert "frames/s (goal ≥ 2x)" in ratio
    ceiling, ceiling_ratio = lines[6:8]
    assert ceiling.startswith("| bare face mesh alone") and "| 24 | 0 |" in ceiling  # a face in every frame
    assert float(ceiling.split("|")[4]) > 0 and "no path around it can beat this" in ceiling_ratio


def test_unique_frames_differ_in_bytes_but_not_in_pixels() -> None:
    import cv2
    import numpy as np

    jpeg = cv2.imencode(".jpg", np.full((48, 64, 3), 128, np.uint8))[1].tobytes()
    first, second = bench.unique(jpeg, 1), bench.unique(jpeg, 2)
    assert first != second != jpeg
    decoded = [cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR) for b in (jpeg, first, second)]
    assert np.array_equal(decoded[0], decoded[1]) and np.array_equal(decoded[0], decoded[2])
