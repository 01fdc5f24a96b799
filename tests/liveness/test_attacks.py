"""The attack suite on a small subset: real faces through the real `LivenessService` (in-memory store, real face
mesh). Genuine sessions must pass and every attack the suite defends must be rejected, so these tests fail
both ways. The full suite with its numbers: `python -m vigilo.liveness.attacks` (docs/liveness-attacks.md)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import shared_path
from vigilo.liveness.attacks import (
    Harness,
    Outcome,
    Sent,
    Trial,
    card_frames,
    fixed,
    gif_frames,
    held_then,
    jpeg,
    paced,
    reencode,
    static_frames,
    zju_frames,
)
from vigilo.liveness.signals import FaceAnalyzer

SHORT_WINDOW = {"step_window_ms": (3000, 3000)}


@pytest.fixture(scope="module")
def data() -> Path:
    return shared_path("data")


@pytest.fixture(scope="module")
def harness(analyzer: FaceAnalyzer, tmp_path_factory: pytest.TempPathFactory) -> Harness:
    return Harness(analyzer, tmp_path_factory.mktemp("attacks"), **SHORT_WINDOW)


@pytest.fixture(scope="module")
def gif(data: Path) -> list[np.ndarray]:
    return gif_frames(data / "clips" / "intel_sample_videos_previews" / "head-pose-face-detection-female.gif")


@pytest.fixture(scope="module")
def passed_blink(harness: Harness, data: Path) -> Outcome:
    frames = [jpeg(f) for f in zju_frames(data, 1)]
    out = harness.run(Trial("genuine", "zju1:blink", ["blink"], fixed(list(paced(frames, 10.0))), record=True))
    assert out.passed, out
    return out


def test_genuine_blink_and_turns_pass(harness: Harness, passed_blink: Outcome, gif: list[np.ndarray]) -> None:
    assert passed_blink.completed == ["blink"] and passed_blink.refused == {}
    left = harness.run(Trial("genuine", "gif:left", ["turn_left"], held_then(gif[9], gif[10:14], 12.5, seed=1)))
    right = harness.run(Trial("genuine", "gif:right", ["turn_right"], held_then(gif[19], gif[20:23], 12.5, seed=2)))
    assert left.passed and right.passed, (left, right)


@pytest.mark.parametrize(("action", "seed"), [("blink", 11), ("turn_left", 12), ("smile", 13), ("open_mouth", 14)])
def test_a_static_photo_with_noise_is_not_accepted(harness: Harness, data: Path, action: str, seed: int) -> None:
    photo = zju_frames(data, 1, limit=1)[0]
    out = harness.run(Trial("static_photo", action, [action], static_frames(photo, seed=seed)))
    assert not out.passed and out.refused == {}, out  # every frame got past the duplicate checks
    assert out.reasons == [f"step_timeout:{action}"]


@pytest.mark.parametrize(("file", "action"), [("image_F1.jpg", "blink"), ("image_F2.jpg", "turn_right")])
def test_spoof_samples_are_not_accepted(harness: Harness, data: Path, file: str, action: str) -> None:
    image = cv2.imread(str(data / "spoof" / file))
    assert image is not None
    out = harness.run(Trial("spoof", file, [action], static_frames(image, seed=len(file))))
    assert not out.passed, out


def test_replays_of_a_passing_session(harness: Harness, passed_blink: Outcome) -> None:
    frames = passed_blink.sent
    exact = harness.run(Trial("replay_exact", "exact", ["blink"], fixed(list(paced(frames, 10.0)))))
    assert not exact.passed and exact.refused == {"liveness_replayed_frame": len(frames)}
    rng = np.random.default_rng(5)
    for action in ("turn_left", "smile"):
        copies = [reencode(d, 80, rng) for d in frames]
        out = harness.run(Trial("replay_new_challenge", action, [action], fixed(list(paced(copies, 10.0)))))
        assert not out.passed and out.frames_accepted == len(frames), out


def test_frames_out_of_order_are_refused(harness: Harness, passed_blink: Outcome) -> None:
    rng = np.random.default_rng(6)
    n = len(passed_blink.sent)
    for backwards, code in ((True, "liveness_seq_not_increasing"), (False, "liveness_time_not_increasing")):
        copies = [reencode(d, 80, rng) for d in passed_blink.sent]  # fresh bytes: not refused as replays
        if backwards:
            sents = [Sent(d, n - i, i * 100.0) for i, d in enumerate(copies)]
        else:
            sents = [Sent(d, i + 1, (n - i) * 100.0) for i, d in enumerate(copies)]
        out = harness.run(Trial("out_of_order_frames", code, ["blink"], fixed(sents)))
        assert not out.passed and out.frames_accepted == 1 and out.refused == {code: n - 1}, out


def test_actions_in_the_wrong_order_fail(harness: Harness, gif: list[np.ndarray]) -> None:
    """She turns to her left first; the challenge asks right first."""
    out = harness.run(
        Trial(
            "out_of_order_actions",
            "sweep",
            ["turn_right", "turn_left"],
            held_then(gif[9], gif[10:23], 12.5, seed=3, noisy=True),
        )
    )
    assert not out.passed and out.reasons == ["wrong_direction"], out


def test_injected_duplicates_are_refused(harness: Harness, data: Path) -> None:
    photo = zju_frames(data, 2, limit=1)[0]
    same = jpeg(photo, 93)
    out = harness.run(Trial("duplicates", "same", ["blink"], fixed(list(paced([same] * 10, 10.0)))))
    assert out.frames_accepted == 1 and out.refused == {"liveness_duplicate_frame": 9}
    copies = [jpeg(photo, q) for q in (94, 95, 96, 97, 98, 99, 100)]
    out = harness.run(Trial("duplicates", "recoded", ["blink"], fixed(list(paced(copies, 10.0)))))
    assert out.frames_accepted == 1 and out.refused == {"liveness_duplicate_frame": 6}


@pytest.mark.xfail(
    strict=True,
    reason="known weak spot (docs/liveness-attacks.md): a photo folded along the nose and turned like a card "
    "reads as a head turn; no landmark-based check we tried separates it from the real turns we have",
)
def test_a_folded_photo_turned_like_a_card_is_not_accepted(harness: Harness, data: Path) -> None:
    photo = zju_frames(data, 1, limit=1)[0]
    analyzer_signals = harness.service.analyzer.analyze(photo)
    assert analyzer_signals.landmarks is not None and analyzer_signals.box is not None
    crease = float(np.median(analyzer_signals.landmarks[[1, 4, 6, 168], 0])) * photo.shape[1]
    scale = 0.4 * 480 / (analyzer_signals.box[3] - analyzer_signals.box[1])
    accepted = []
    for direction in (1, -1):
        trial = Trial(
            "card_folded",
            f"dir{direction}",
            ["turn_left"],
            card_frames(photo, direction, 40.0, crease, scale, seed=10 + direction),
            max_frames=60,
        )
        accepted.append(harness.run(trial).passed)
    assert not any(accepted)
