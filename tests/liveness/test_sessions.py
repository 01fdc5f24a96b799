"""LivenessService rules: nonce, order, duplicates, replays, expiry, single use, lockout, signed results.

The analyzer is the real one; frames here are face-free noise images, because these rules do not depend
on what the frames show (sessions that must pass are driven with real faces in test_end_to_end.py).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import cv2
import jwt
import numpy as np
import pytest

from tests.liveness.session_fixtures import Clock, make_service, noise_frame
from vigilo.api.errors import ApiError
from vigilo.liveness.service import ANCHOR_FRAMES, LivenessService
from vigilo.liveness.signals import FaceAnalyzer
from vigilo.liveness.store import RedisStore
from vigilo.liveness.tokens import KEY_FILE, verify_result


@pytest.fixture
def service(any_store_service: LivenessService) -> LivenessService:
    """Every session rule holds with either store."""
    return any_store_service


def send(
    service: LivenessService,
    clock: Clock,
    sid: str,
    nonce: str,
    seq: int,
    seed: int | None = None,
    *,
    data: bytes | None = None,
    step_s: float = 0.1,
    ip: str | None = "10.0.0.1",
) -> object:
    clock.advance(step_s)
    frame = data if data is not None else noise_frame(seed if seed is not None else seq)
    return service.submit_frame(sid, frame, seq=seq, captured_at=clock.ms, nonce=nonce, ip=ip)


def code_of(exc: pytest.ExceptionInfo[ApiError]) -> tuple[int, str]:
    return exc.value.status, exc.value.code


def test_create_returns_challenge_prompts_windows_and_rules(service: LivenessService, clock: Clock) -> None:
    created = service.create(user_ref="alice", count=3, locale="en")
    assert len(created.steps) == 3 and len({s.action for s in created.steps}) == 3
    assert all(6000 <= s.window_ms <= 9000 for s in created.steps)
    assert all(s.prompt["zh-CN"].startswith("请") and s.prompt["en"] for s in created.steps)
    assert created.expires_at == pytest.approx(clock.now + 180)
    assert created.upload.fps == 10 and created.upload.max_bytes == 2 * 1024 * 1024
    assert len(created.nonce) >= 24 and created.session_id != created.nonce
    view = service.get(created.session_id, nonce=created.nonce)
    assert (view.state, view.step, view.total, view.action) == ("created", 1, 3, created.steps[0].action)
    assert view.prompt == created.steps[0].prompt["en"]


def test_explicit_actions_and_bad_lists(service: LivenessService) -> None:
    created = service.create(actions=["blink", "turn_left"])
    assert [s.action for s in created.steps] == ["blink", "turn_left"]
    assert created.steps[1].prompt["zh-CN"] == "请向左转头"
    with pytest.raises(ApiError) as exc:
        service.create(actions=["blink", "blink"])
    assert code_of(exc) == (422, "liveness_invalid_actions")
    with pytest.raises(ApiError):
        service.create(count=99)


def test_frames_need_the_nonce(service: LivenessService, clock: Clock) -> None:
    created = service.create()
    with pytest.raises(ApiError) as exc:
        service.submit_frame(created.session_id, noise_frame(1), seq=1, captured_at=clock.ms, nonce="wrong")
    assert code_of(exc) == (403, "liveness_bad_nonce")
    with pytest.raises(ApiError) as exc:
        service.get("no-such-session", nonce="x")
    assert code_of(exc) == (404, "liveness_session_not_found")


def test_no_face_frame_gives_a_hint(service: LivenessService, clock: Clock) -> None:
    created = service.create(locale="zh-CN")
    view = send(service, clock, created.session_id, created.nonce, 1)
    assert view.state == "calibrating" and view.hint == "未检测到人脸" and view.hint_code == "hint_no_face"
    assert not view.done and view.frames == 1


def test_seq_and_capture_time_must_increase(service: LivenessService, clock: Clock) -> None:
    created = service.create()
    sid, nonce = created.session_id, created.nonce
    send(service, clock, sid, nonce, 5)
    last = clock.ms
    for seq in (5, 4):
        with pytest.raises(ApiError) as exc:
            send(service, clock, sid, nonce, seq, seed=100 + seq)
        assert code_of(exc) == (409, "liveness_seq_not_increasing")
    with pytest.raises(ApiError) as exc:
        service.submit_frame(sid, noise_frame(7), seq=7, captured_at=last - 1, nonce=nonce)
    assert code_of(exc) == (409, "liveness_time_not_increasing")
    with pytest.raises(ApiError) as exc:  # two frames 5 ms apart: faster than max_fps
        service.submit_frame(sid, noise_frame(8), seq=8, captured_at=last + 5, nonce=nonce)
    assert code_of(exc) == (429, "liveness_frame_rate")
    assert send(service, clock, sid, nonce, 9).frames == 2


def test_capture_times_running_ahead_of_the_server_are_refused(service: LivenessService, clock: Clock) -> None:
    created = service.create()
    for seq in range(1, ANCHOR_FRAMES + 1):  # the first frames set the anchor
        send(service, clock, created.session_id, created.nonce, seq)
    clock.advance(0.1)
    with pytest.raises(ApiError) as exc:  # claims 10 s of video sent within 0.1 s
        service.submit_frame(
            created.session_id, noise_frame(9), seq=9, captured_at=clock.ms + 10_000, nonce=created.nonce
        )
    assert code_of(exc) == (422, "liveness_clock_skew")
    clock.advance(0.1)  # running ahead by less than max_clock_skew_ms (2 s) is jitter, not a burst
    service.submit_frame(created.session_id, noise_frame(10), seq=10, captured_at=clock.ms + 1500, nonce=created.nonce)


def test_duplicate_and_near_duplicate_frames_are_refused(service: LivenessService, clock: Clock) -> None:
    created = service.create()
    sid, nonce = created.session_id, created.nonce
    first = noise_frame(1, ext=".png")
    send(service, clock, sid, nonce, 1, data=first)
    with pytest.raises(ApiError) as exc:
        send(service, clock, sid, nonce, 2, data=first)
    assert code_of(exc) == (409, "liveness_duplicate_frame")
    pixels = cv2.imdecode(np.frombuffer(first, np.uint8), cv2.IMREAD_COLOR)
    recoded = cv2.imencode(".png", pixels, [cv2.IMWRITE_PNG_COMPRESSION, 1])[1].tobytes()
    assert recoded != first
    with pytest.raises(ApiError) as exc:
        send(service, clock, sid, nonce, 3, data=recoded)
    assert code_of(exc) == (409, "liveness_duplicate_frame")
    assert send(service, clock, sid, nonce, 4, seed=4).frames == 2


def test_frames_replayed_into_another_session_are_refused(service: LivenessService, clock: Clock) -> None:
    a = service.create(user_ref="alice")
    frames = [noise_frame(i) for i in range(3)]
    for i, frame in enumerate(frames):
        send(service, clock, a.session_id, a.nonce, i + 1, data=frame)
    b = service.create(user_ref="mallory")
    with pytest.raises(ApiError) as exc:
        send(service, clock, b.session_id, b.nonce, 1, data=frames[1])
    assert code_of(exc) == (409, "liveness_replayed_frame")


def test_session_expires(service: LivenessService, clock: Clock) -> None:
    created = service.create(user_ref="bob")
    send(service, clock, created.session_id, created.nonce, 1)
    clock.advance(181)
    with pytest.raises(ApiError) as exc:
        send(service, clock, created.session_id, created.nonce, 2)
    assert code_of(exc) == (410, "liveness_session_expired")
    view = service.get(created.session_id, nonce=created.nonce)
    assert (view.state, view.done, view.passed) == ("expired", True, False)
    claims = verify_result(service.result(created.session_id), service.result_secret, leeway=300)
    assert claims["decision"] == "fail" and claims["reasons"] == ["session_expired"]


def test_sessions_are_single_use(service: LivenessService, clock: Clock) -> None:
    created = service.create()
    send(service, clock, created.session_id, created.nonce, 1)
    with pytest.raises(ApiError) as exc:
        service.result(created.session_id)
    assert code_of(exc) == (409, "liveness_result_not_ready")
    assert service.cancel(created.session_id, nonce=created.nonce).state == "cancelled"
    with pytest.raises(ApiError) as exc:
        send(service, clock, created.session_id, created.nonce, 2)
    assert code_of(exc) == (409, "liveness_session_closed")
    service.result(created.session_id)
    with pytest.raises(ApiError) as exc:
        service.result(created.session_id)
    assert code_of(exc) == (409, "liveness_result_issued")


def test_no_face_for_too_long_fails_the_session(service: LivenessService, clock: Clock) -> None:
    created = service.create()
    views = [send(service, clock, created.session_id, created.nonce, 1, step_s=0.5)]
    while not views[-1].done and len(views) < 20:
        views.append(send(service, clock, created.session_id, created.nonce, len(views) + 1, step_s=0.5))
    assert len(views) == 14  # more than 6 s (calibration_ms) of frames without a face
    assert views[-1].state == "failed" and not views[-1].passed
    claims = verify_result(service.result(created.session_id), service.result_secret, leeway=60)
    assert claims["reasons"] == ["calibration_timeout"]


def test_frame_cap(clock: Clock, analyzer: FaceAnalyzer, tmp_path: Path) -> None:
    service = make_service(clock, analyzer, tmp_path, max_frames=5)
    created = service.create()
    views = [send(service, clock, created.session_id, created.nonce, i) for i in range(1, 6)]
    assert [v.done for v in views] == [False] * 4 + [True]
    assert views[-1].state == "failed"


def test_lockout_after_five_failures_in_three_minutes(service: LivenessService, clock: Clock) -> None:
    for attempt in range(5):
        created = service.create(user_ref="carol")
        send(service, clock, created.session_id, created.nonce, 1, seed=1000 + attempt, ip=f"10.1.0.{attempt}")
        service.cancel(created.session_id, nonce=created.nonce)
    with pytest.raises(ApiError) as exc:
        service.create(user_ref="carol")
    assert code_of(exc) == (429, "liveness_locked")
    service.create(user_ref="dave")  # others are not affected
    clock.advance(181)
    service.create(user_ref="carol")


def test_lockout_by_ip(service: LivenessService, clock: Clock) -> None:
    for attempt in range(5):
        created = service.create()
        send(service, clock, created.session_id, created.nonce, 1, seed=2000 + attempt, ip="192.0.2.7")
        service.cancel(created.session_id, nonce=created.nonce)
    created = service.create()
    with pytest.raises(ApiError) as exc:
        send(service, clock, created.session_id, created.nonce, 1, seed=3000, ip="192.0.2.7")
    assert code_of(exc) == (429, "liveness_locked")
    send(service, clock, created.session_id, created.nonce, 1, seed=3001, ip="192.0.2.8")


def test_cancel_without_frames_is_not_a_failure(service: LivenessService) -> None:
    for _ in range(6):
        created = service.create(user_ref="erin")
        service.cancel(created.session_id, nonce=created.nonce)
    service.create(user_ref="erin")


def test_result_is_a_verifiable_jwt_and_tampering_fails(service: LivenessService, clock: Clock) -> None:
    created = service.create(user_ref="frank", actions=["blink"])
    send(service, clock, created.session_id, created.nonce, 1)
    service.cancel(created.session_id, nonce=created.nonce)
    token = service.result(created.session_id)
    claims = verify_result(token, service.result_secret)
    assert claims["sid"] == created.session_id and claims["jti"] == created.session_id
    assert claims["sub"] == "frank" and claims["user_ref"] == "frank" and claims["nonce"] == created.nonce
    assert claims["decision"] == "fail" and claims["passed"] is False
    assert claims["requested"] == ["blink"] and claims["reasons"] == ["cancelled"]
    assert claims["exp"] - claims["iat"] == 600
    header, payload, signature = token.split(".")
    forged_payload = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(payload).replace(b'"fail"', b'"pass"')
    ).decode()
    with pytest.raises(jwt.InvalidSignatureError):
        verify_result(f"{header}.{forged_payload}.{signature}", service.result_secret)
    with pytest.raises(jwt.InvalidSignatureError):
        verify_result(token, "another-secret-" * 3)
    with pytest.raises(jwt.InvalidTokenError):
        jwt.decode(token, service.result_secret, algorithms=["HS256"], audience="someone-else")


def test_generated_secret_is_kept_private_and_reused(clock: Clock, analyzer: FaceAnalyzer, tmp_path: Path) -> None:
    first = make_service(clock, analyzer, tmp_path)
    key_file = tmp_path / KEY_FILE
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert make_service(clock, analyzer, tmp_path).result_secret == first.result_secret
    configured = make_service(clock, analyzer, tmp_path / "other", result_secret="s3cret-" * 6)
    assert configured.result_secret == "s3cret-" * 6
    assert not (tmp_path / "other" / KEY_FILE).exists()


def test_broken_images_are_4xx(service: LivenessService, clock: Clock) -> None:
    created = service.create()
    png = noise_frame(1)
    for data, status in ((b"not an image", 422), (png[: len(png) // 3], 422)):
        with pytest.raises(ApiError) as exc:
            send(service, clock, created.session_id, created.nonce, int(clock.now % 1000), data=data)
        assert exc.value.status == status
    big = noise_frame(9, size=(2600, 2000), ext=".jpg")
    with pytest.raises(ApiError) as exc:
        send(service, clock, created.session_id, created.nonce, 10_000, data=big)
    assert exc.value.status == 413


def test_a_session_the_store_cannot_update_in_time_answers_busy(
    clock: Clock, analyzer: FaceAnalyzer, tmp_path: Path, redis_url: str
) -> None:
    """A real Redis store allowed no retries stands for one that lost every race: 409, nothing half-written."""

    class NoRetries(RedisStore):
        RETRIES = 0

    service = make_service(clock, analyzer, tmp_path, store=NoRetries(redis_url))
    created = service.create(actions=["blink"])
    with pytest.raises(ApiError) as busy:
        send(service, clock, created.session_id, created.nonce, 1)
    assert code_of(busy) == (409, "liveness_session_busy")
    assert service.get(created.session_id, trusted=True).frames == 0


def test_a_slow_first_upload_or_a_busy_server_is_not_clock_skew(service: LivenessService, clock: Clock) -> None:
    """The first frame reaches the server 5 s after its capture (a slow first upload, or a queue), the next
    ones at once. Measured from the first frame, each later one would look 5 s ahead (this is what the load
    test hit at 200 users); measured from the quickest of the first frames, none is."""
    created = service.create(actions=["blink"])
    sid, nonce = created.session_id, created.nonce
    captured = clock.ms
    clock.advance(5.0)
    service.submit_frame(sid, noise_frame(1), seq=1, captured_at=captured, nonce=nonce)
    for seq in range(2, ANCHOR_FRAMES + 4):
        clock.advance(0.1)
        service.submit_frame(sid, noise_frame(seq), seq=seq, captured_at=clock.ms, nonce=nonce)
    assert service.get(sid, trusted=True).frames == ANCHOR_FRAMES + 3


def test_frames_are_timed_by_their_arrival_not_by_when_a_busy_server_got_to_them(
    service: LivenessService, clock: Clock
) -> None:
    """Every first frame arrives at once but waits 5 s for a face mesh; then the server catches up. Timed by
    when the server got to them, the anchor frames look 5 s late and the next prompt frame 5 s ahead."""
    for batch, timed_by_arrival in enumerate((True, False)):
        created = service.create(actions=["blink"])
        sid, nonce = created.session_id, created.nonce
        for seq in range(1, ANCHOR_FRAMES + 1):
            clock.advance(0.1)
            arrived = clock.now
            clock.advance(5.0)
            received = arrived if timed_by_arrival else None
            service.submit_frame(
                sid,
                noise_frame(100 * batch + seq),
                seq=seq,
                captured_at=arrived * 1000,
                nonce=nonce,
                received_at=received,
            )
            clock.advance(-5.0)
        clock.advance(5.1)  # caught up: the next frame is sent, arrives and is analysed at once
        frame = noise_frame(100 * batch + ANCHOR_FRAMES + 1)
        if timed_by_arrival:
            service.submit_frame(sid, frame, seq=ANCHOR_FRAMES + 1, captured_at=clock.ms, nonce=nonce)
        else:
            with pytest.raises(ApiError) as skew:
                service.submit_frame(sid, frame, seq=ANCHOR_FRAMES + 1, captured_at=clock.ms, nonce=nonce)
            assert code_of(skew) == (422, "liveness_clock_skew")
