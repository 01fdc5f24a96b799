"""Animated faces through the real session service (in-process, in-memory store, real face analyzer).

Frames are sent at 10 fps with their capture times, as a browser client would; the service's clock moves
with them.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.liveness.session_fixtures import Clock, make_service
from tests.liveness_animation.conftest import FORWARD, FPS, REVERSE, SIZE, Animations, jpeg
from vigilo.api.errors import ApiError
from vigilo.liveness.service import LivenessService
from vigilo.liveness.session import SessionView
from vigilo.liveness.signals import FaceAnalyzer
from vigilo.liveness.tokens import verify_result
from vigilo.tools.face_animation import card_frames, still_frames, turn_sweep


@pytest.fixture
def service(clock: Clock, analyzer: FaceAnalyzer, tmp_path: Path) -> LivenessService:
    return make_service(clock, analyzer, tmp_path)


def drive(service: LivenessService, clock: Clock, actions: list[str], frames: list[bytes]) -> tuple[str, SessionView]:
    """One session asking for `actions`, fed `frames` until it is decided. Refused frames are skipped."""
    created = service.create(actions=actions)
    view: SessionView | None = None
    for seq, data in enumerate(frames, start=1):
        clock.advance(1 / FPS)
        try:
            view = service.submit_frame(
                created.session_id, data, seq=seq, captured_at=clock.ms, nonce=created.nonce, ip="10.7.7.7"
            )
        except ApiError:
            continue
        if view.done:
            break
    final = service.get(created.session_id, trusted=True)
    return created.session_id, final


def outcome(service: LivenessService, sid: str) -> dict[str, object]:
    return verify_result(service.result(sid), service.result_secret, leeway=60)


def test_an_animated_left_turn_completes_a_left_turn_and_not_a_right_turn(
    service: LivenessService, clock: Clock, animations: Animations
) -> None:
    frames = [jpeg(f) for f in animations.get(["turn_left"]).frames]
    sid, view = drive(service, clock, ["turn_left"], frames)
    assert view.passed, outcome(service, sid)
    assert [a["action"] for a in outcome(service, sid)["actions"]] == ["turn_left"]  # type: ignore[index]
    # Another recording of the same animation (other noise) against a right turn.
    frames = [jpeg(f) for f in animations.get(["turn_left"], seed=1).frames]
    sid, view = drive(service, clock, ["turn_right"], frames)
    assert not view.passed and view.progress == 0.0
    assert outcome(service, sid)["reasons"] == ["wrong_direction"]


@pytest.mark.parametrize("order", ["forward", "reverse"])
def test_every_action_passes_in_both_orders(
    service: LivenessService, clock: Clock, animations: Animations, order: str
) -> None:
    """All five pool actions in one session, then reversed: every action comes before and after every other."""
    actions = FORWARD if order == "forward" else REVERSE
    frames = [jpeg(f) for f in animations.get(actions).frames]
    sid, view = drive(service, clock, actions, frames)
    claims = outcome(service, sid)
    assert view.passed, claims
    assert [a["action"] for a in claims["actions"]] == actions  # type: ignore[index]


@pytest.mark.parametrize("action", FORWARD)
def test_the_still_photo_fails(
    clock: Clock, analyzer: FaceAnalyzer, tmp_path: Path, animations: Animations, action: str
) -> None:
    service = make_service(clock, analyzer, tmp_path, step_window_ms=(2000, 2000))
    frames = [jpeg(f) for f in still_frames(animations.photo, 45, size=SIZE, seed=3)]
    sid, view = drive(service, clock, [action], frames)
    assert view.state == "failed"
    assert outcome(service, sid)["reasons"] == [f"step_timeout:{action}"]


@pytest.mark.parametrize(("action", "direction"), [("turn_left", 1), ("turn_right", -1)])
def test_the_flat_card_fails(
    service: LivenessService, clock: Clock, animations: Animations, action: str, direction: int
) -> None:
    """The photo as a flat card turned 50 degrees the asked way, twice."""
    angles = turn_sweep(FPS, direction)
    frames = [jpeg(f) for f in card_frames(animations.photo, angles, size=SIZE, seed=4)]
    sid, view = drive(service, clock, [action], frames)
    assert not view.passed, outcome(service, sid)


def test_a_replay_of_a_passing_animated_session_fails(
    service: LivenessService, clock: Clock, animations: Animations
) -> None:
    actions = ["blink", "turn_left"]
    frames = [jpeg(f) for f in animations.get(actions).frames]
    sid, view = drive(service, clock, actions, frames)
    assert view.passed, outcome(service, sid)
    sent = frames[: view.frames]
    # The same bytes into a new session with the same challenge: every frame is refused as a replay.
    again = service.create(actions=actions)
    clock.advance(1.0)
    with pytest.raises(ApiError) as exc:
        service.submit_frame(again.session_id, sent[0], seq=1, captured_at=clock.ms, nonce=again.nonce)
    assert exc.value.code == "liveness_replayed_frame"
    _, view = drive(service, clock, actions, sent)
    assert not view.passed and view.frames == 0
    # Re-encoded copies get past the hashes, but a new challenge is not what the recording shows.
    recoded = [jpeg(cv2.imdecode(np.frombuffer(d, np.uint8), cv2.IMREAD_COLOR), 75) for d in sent]
    _, view = drive(service, clock, ["turn_right", "smile"], recoded)
    assert not view.passed
