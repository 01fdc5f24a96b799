"""Real faces through the whole session path: decode -> face mesh -> decision -> store -> signed result.

Uses the ZJU Eyeblink clips in ../shared/data (skipped, with the reason, when absent). The clips are 30 fps;
frames are sent at 10 fps with their capture times, as a browser client would.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import jwt
import numpy as np
import pytest

from tests.conftest import shared_path
from tests.liveness.session_fixtures import Clock, doc_verifier, make_service
from vigilo.api.errors import ApiError
from vigilo.liveness.service import LivenessService
from vigilo.liveness.session import SessionView
from vigilo.liveness.signals import FaceAnalyzer
from vigilo.liveness.tokens import verify_result

FRAME_STEP = 3  # 30 fps clip -> 10 fps upload


def clip_frames(subject_dir: str, limit: int | None = None) -> list[np.ndarray]:
    folder = shared_path("data", "zju-blink", subject_dir)
    path = next(iter(sorted(folder.glob("*.mp4"))), None)
    if path is None:
        pytest.skip(f"no clip in {folder}")
    capture = cv2.VideoCapture(str(path))
    frames: list[np.ndarray] = []
    index = 0
    while limit is None or len(frames) < limit:
        ok, frame = capture.read()
        if not ok:
            break
        if index % FRAME_STEP == 0:
            frames.append(frame)
        index += 1
    capture.release()
    return frames


def jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return data.tobytes()


def drive(
    service: LivenessService, clock: Clock, sid: str, nonce: str, frames: Iterator[bytes] | list[bytes]
) -> list[SessionView]:
    views: list[SessionView] = []
    for seq, data in enumerate(frames, start=1):
        clock.advance(FRAME_STEP / 30)
        views.append(service.submit_frame(sid, data, seq=seq, captured_at=clock.ms, nonce=nonce, ip="10.9.9.9"))
        if views[-1].done:
            break
    return views


@pytest.fixture
def service(clock: Clock, analyzer: FaceAnalyzer, tmp_path: Path) -> LivenessService:
    return make_service(clock, analyzer, tmp_path)


def test_a_real_blink_passes_a_blink_session(any_store_service: LivenessService, clock: Clock) -> None:
    service = any_store_service
    frames = [jpeg(f) for f in clip_frames("1")]
    created = service.create(user_ref="zju-1", actions=["blink"])
    views = drive(service, clock, created.session_id, created.nonce, frames)
    assert views[-1].passed, [v.state for v in views]
    assert views[-1].completed == "blink" and views[-1].progress == 1.0
    claims = verify_result(service.result(created.session_id), service.result_secret, leeway=60)
    assert claims["decision"] == "pass" and claims["requested"] == ["blink"]
    (step,) = claims["actions"]
    assert step["action"] == "blink" and 0 < step["duration_ms"] < 6000


def test_the_documented_verifier_accepts_a_pass_and_nothing_else(service: LivenessService, clock: Clock) -> None:
    verify_liveness = doc_verifier()
    frames = [jpeg(f) for f in clip_frames("1")]
    created = service.create(actions=["blink"])
    assert drive(service, clock, created.session_id, created.nonce, frames)[-1].passed
    token = service.result(created.session_id)
    assert verify_liveness(token, service.result_secret, created.session_id, created.nonce)
    assert not verify_liveness(token, service.result_secret, "another-session", created.nonce)
    with pytest.raises(jwt.InvalidTokenError):
        verify_liveness(token, "x" * 48, created.session_id, created.nonce)


@pytest.mark.parametrize("subject", ["5", "13"])
def test_blinks_of_other_people_pass_too(service: LivenessService, clock: Clock, subject: str) -> None:
    frames = [jpeg(f) for f in clip_frames(subject)]
    created = service.create(actions=["blink"])
    assert drive(service, clock, created.session_id, created.nonce, frames)[-1].passed


def test_a_blink_clip_does_not_pass_a_turn(service: LivenessService, clock: Clock) -> None:
    frames = [jpeg(f) for f in clip_frames("1")]
    created = service.create(actions=["turn_left"])
    views = drive(service, clock, created.session_id, created.nonce, frames)
    assert not views[-1].passed and views[-1].progress == 0.0


def test_a_static_photo_fails(clock: Clock, analyzer: FaceAnalyzer, tmp_path: Path) -> None:
    """One real frame, sent again and again: copies are refused, and slightly altered copies (which get past
    the duplicate checks) never blink, so the step times out."""
    service = make_service(clock, analyzer, tmp_path, step_window_ms=(2000, 2000))
    photo = clip_frames("1", limit=1)[0]
    created = service.create(actions=["blink"])
    sid, nonce = created.session_id, created.nonce
    first = jpeg(photo)
    drive(service, clock, sid, nonce, [first])
    clock.advance(0.1)
    with pytest.raises(ApiError) as exc:
        service.submit_frame(sid, first, seq=2, captured_at=clock.ms, nonce=nonce)
    assert exc.value.code == "liveness_duplicate_frame"
    rng = np.random.default_rng(0)

    def altered() -> Iterator[bytes]:
        while True:
            noise = rng.normal(0, 3, photo.shape)
            yield jpeg(np.clip(photo + noise, 0, 255).astype(np.uint8))

    views: list[SessionView] = []
    for seq, data in enumerate(altered(), start=3):
        clock.advance(0.1)
        views.append(service.submit_frame(sid, data, seq=seq, captured_at=clock.ms, nonce=nonce))
        if views[-1].done or seq > 60:
            break
    assert views[-1].state == "failed"
    claims = verify_result(service.result(sid), service.result_secret, leeway=60)
    assert claims["reasons"] == ["step_timeout:blink"]


def test_frames_of_a_passing_session_replayed_into_a_new_one_fail(service: LivenessService, clock: Clock) -> None:
    frames = [jpeg(f) for f in clip_frames("1")]
    first = service.create(user_ref="zju-1", actions=["blink"])
    passed = drive(service, clock, first.session_id, first.nonce, frames)
    assert passed[-1].passed
    sent = frames[: passed[-1].frames]
    # The same bytes: refused outright.
    second = service.create(user_ref="zju-1", actions=["blink"])
    clock.advance(0.1)
    with pytest.raises(ApiError) as exc:
        service.submit_frame(second.session_id, sent[0], seq=1, captured_at=clock.ms, nonce=second.nonce)
    assert exc.value.code == "liveness_replayed_frame"
    # Re-encoded copies get past the hashes, but a new random challenge is not what the recording shows.
    third = service.create(user_ref="zju-1", actions=["turn_left", "blink"])
    recoded = [jpeg(cv2.imdecode(np.frombuffer(d, np.uint8), cv2.IMREAD_COLOR), 75) for d in sent]
    assert not drive(service, clock, third.session_id, third.nonce, recoded)[-1].passed


def test_another_face_midway_fails_identity(service: LivenessService, clock: Clock) -> None:
    """Subject 1, then subject 3. The geometry check only catches clearly different faces: MediaPipe's mesh
    ratios differ by 5-16 % between ZJU subjects and up to 9 % within one clip, so the tolerance is 12 %."""
    frames = [jpeg(f) for f in clip_frames("1", limit=10)] + [jpeg(f) for f in clip_frames("9", limit=15)]
    created = service.create(actions=["smile"])
    views = drive(service, clock, created.session_id, created.nonce, frames)
    assert views[-1].state == "failed"
    claims = verify_result(service.result(created.session_id), service.result_secret, leeway=60)
    assert claims["reasons"] == ["identity_changed"]


def head_turn_frames() -> list[np.ndarray]:
    """The head-pose preview GIF: a woman sweeping her head from her right, through frontal, to her left."""
    from PIL import Image, ImageSequence

    path = shared_path("data", "clips", "intel_sample_videos_previews", "head-pose-face-detection-female.gif")
    with Image.open(path) as gif:
        frames = [cv2.cvtColor(np.array(f.convert("RGB")), cv2.COLOR_RGB2BGR) for f in ImageSequence.Iterator(gif)]
    # Frame 9 is frontal; 10-13 turn to her own left. Frame 9 is sent twice (the second time with faint
    # noise, as a camera would) so that one frame sets the baseline and the next one arms the step.
    frontal = frames[9]
    rng = np.random.default_rng(1)
    again = np.clip(frontal + rng.normal(0, 2, frontal.shape), 0, 255).astype(np.uint8)
    return [frontal, again, *frames[10:14]]


@pytest.mark.parametrize(
    ("asked", "flip", "mirrored", "passes"),
    [
        ("turn_left", False, False, True),
        ("turn_right", False, False, False),
        ("turn_left", True, True, True),  # a client sending selfie-mirrored frames and saying so
        ("turn_left", True, False, False),  # mirrored frames sent without the flag: the turn reads reversed
    ],
)
def test_a_real_head_turn_and_mirroring(
    clock: Clock, analyzer: FaceAnalyzer, tmp_path: Path, asked: str, flip: bool, mirrored: bool, passes: bool
) -> None:
    thresholds = {"baseline_frames": 1}
    service = make_service(clock, analyzer, tmp_path, thresholds=thresholds)
    frames = [jpeg(cv2.flip(f, 1) if flip else f) for f in head_turn_frames()]
    created = service.create(actions=[asked], mirrored=mirrored)
    views = drive(service, clock, created.session_id, created.nonce, frames)
    assert views[-1].passed is passes, [(v.state, v.hint_code) for v in views]
    if not passes:
        claims = verify_result(service.result(created.session_id), service.result_secret, leeway=60)
        assert claims["reasons"] == ["wrong_direction"]
