"""The decision state machine on synthetic signal sequences (times in ms, 10 frames/s unless said)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict

import numpy as np
import pytest

from vigilo.config.liveness import LivenessThresholds
from vigilo.liveness import decision
from vigilo.liveness.actions import Action
from vigilo.liveness.decision import Baseline, DecisionState, StepRecord, feed, new_state
from vigilo.liveness.signals import FaceSignals

TH = LivenessThresholds()
DT = 100.0
OPEN_EYES = 0.30


def sig(
    *,
    yaw: float = 0.0,
    pitch: float = 0.0,
    eyes: float = OPEN_EYES,
    mouth: float = 0.02,
    smile: float = 0.1,
    faces: int = 1,
    size: float = 0.4,
    brightness: float = 120.0,
    landmarks: np.ndarray | None = None,
    sharpness: float = 200.0,
    centring: float = 0.05,
) -> FaceSignals:
    return FaceSignals(
        faces=faces,
        box=(100.0, 100.0, 300.0, 300.0) if faces else None,
        yaw=yaw,
        pitch=pitch,
        roll=0.0,
        eye_openness_left=eyes,
        eye_openness_right=eyes,
        mouth_open=mouth,
        smile=smile,
        face_size=size,
        brightness=brightness,
        sharpness=sharpness,
        centring=centring,
        landmarks=landmarks,
    )


def neutral(n: int) -> list[FaceSignals]:
    return [sig() for _ in range(n)]


def perform(action: Action) -> list[FaceSignals]:
    """A plausible performance of `action` from neutral and back, one signal per frame."""
    if action is Action.TURN_LEFT:
        return [sig(yaw=y) for y in (8, 16, 24, 30, 20, 8, 0)]
    if action is Action.TURN_RIGHT:
        return [sig(yaw=-y) for y in (8, 16, 24, 30, 20, 8, 0)]
    if action is Action.BLINK:
        return [sig(eyes=0.05), sig(eyes=0.04), sig(eyes=OPEN_EYES)]
    if action is Action.OPEN_MOUTH:
        return [sig(mouth=m) for m in (0.15, 0.35, 0.5, 0.3, 0.05)]
    if action is Action.SMILE:
        return [sig(smile=s, mouth=0.08) for s in (0.3, 0.6, 0.9, 0.5, 0.1)]
    return [sig(pitch=p) for p in (-6, -14, -18, -8, 0)]  # nod


def run(
    actions: Iterable[Action],
    frames: Iterable[FaceSignals],
    *,
    windows: int = 6000,
    roundtrip: bool = False,
    th: LivenessThresholds = TH,
) -> DecisionState:
    names = list(actions)
    state = new_state(names, [windows] * len(names))
    t = 1_700_000_000_000.0
    for frame in frames:
        feed(state, t, frame, th)
        if roundtrip:
            state = DecisionState.from_dict(json.loads(json.dumps(state.to_dict())))
        t += DT
    return state


def session(*parts: list[FaceSignals]) -> Iterator[FaceSignals]:
    """Baseline frames, then the parts separated by neutral pauses, then a tail of neutral frames."""
    yield from neutral(4)
    for part in parts:
        yield from neutral(3)
        yield from part
    yield from neutral(3)


@pytest.mark.parametrize("action", list(Action))
def test_each_action_alone_passes(action: Action) -> None:
    state = run([action], session(perform(action)))
    assert state.passed, state.reasons
    assert [r.action for r in state.completed] == [str(action)]


@pytest.mark.parametrize(
    "order",
    [
        [Action.TURN_LEFT, Action.BLINK, Action.SMILE],
        [Action.SMILE, Action.BLINK, Action.TURN_LEFT],
        [Action.TURN_RIGHT, Action.OPEN_MOUTH, Action.TURN_LEFT],
        [Action.TURN_LEFT, Action.OPEN_MOUTH, Action.TURN_RIGHT],
    ],
)
def test_sequences_pass_in_either_order_and_survive_serialisation(order: list[Action]) -> None:
    state = run(order, session(*(perform(a) for a in order)), roundtrip=True)
    assert state.passed, state.reasons
    assert state.progress == 1.0
    times = [(r.prompted_at, r.started_at, r.completed_at) for r in state.completed]
    assert all(p <= s < c for p, s, c in times if s is not None)


@pytest.mark.parametrize("closed_ms", [100, 200, 400, 700])
def test_blink_of_plausible_length_passes(closed_ms: int) -> None:
    closed = [sig(eyes=0.05)] * (closed_ms // int(DT))
    state = run([Action.BLINK], session([*closed, sig()]))
    assert state.passed, state.reasons


def test_blink_seen_at_thirty_fps_passes() -> None:
    global DT
    saved, DT = DT, 1000 / 30
    try:
        closed = [sig(eyes=0.2), sig(eyes=0.06), sig(eyes=0.05), sig(eyes=0.07), sig(eyes=0.22)]
        state = run([Action.BLINK], session([*closed, sig()]))
    finally:
        DT = saved
    assert state.passed, state.reasons


def test_a_shallow_blink_sampled_at_ten_fps_passes() -> None:
    """On ZJU about 8 % of blinks never go below 0.6x the open level even at 30 fps, and at 10 fps the deepest
    frame is often not sampled: 0.65x of open must count as closed (blink_closed_ratio 0.7)."""
    state = run([Action.BLINK], session([sig(eyes=0.195), sig()]))
    assert state.passed, state.reasons


def test_a_smile_read_on_a_turned_head_does_not_count() -> None:
    """The attack suite replayed a real head turn (to 24 degrees) into a smile session and it passed: the smile
    score rises on the turned face. Eye, mouth and smile actions count only near the neutral pose."""
    turned = [sig(yaw=-y, smile=s) for y, s in ((10, 0.2), (18, 0.4), (24, 0.45), (24, 0.5), (18, 0.3), (10, 0.1))]
    state = run([Action.SMILE], [*session(turned), *neutral(30)], windows=3000)
    assert not state.passed and state.reasons == ["step_timeout:smile"]
    assert run([Action.SMILE], session([sig(smile=s) for s in (0.2, 0.45, 0.5, 0.1)])).passed


def test_a_wide_open_mouth_is_not_a_smile() -> None:
    """However the smile model scores it, a mouth opened `smile_max_mouth_rise` (0.45) past neutral is not a
    smile; a broad smile with parted lips (GENKI-4K smiles: 0.39 at the 99th percentile) still counts."""
    gaping = [sig(smile=s, mouth=m) for s, m in ((0.2, 0.3), (0.9, 0.5), (0.99, 0.7), (0.9, 0.5), (0.2, 0.1))]
    state = run([Action.SMILE], [*session(gaping), *neutral(30)], windows=3000)
    assert not state.passed and not state.completed
    broad = [sig(smile=s, mouth=m) for s, m in ((0.4, 0.2), (0.8, 0.38), (0.9, 0.4), (0.3, 0.1))]
    assert run([Action.SMILE], session(broad)).passed


def test_eyes_closed_for_one_and_a_half_seconds_fails() -> None:
    closed = [sig(eyes=0.05)] * 15
    state = run([Action.BLINK], session([*closed, sig()]))
    assert state.phase == "failed"
    assert "eyes_closed_too_long" in state.reasons


def test_half_closed_eyes_are_not_a_blink() -> None:
    # 0.22 / 0.30 = 0.73 of the open level: between closed (0.7) and open (0.8), so neither.
    state = run([Action.BLINK], session([sig(eyes=0.22), sig(eyes=0.22), sig()]), windows=3000)
    assert not state.passed


def test_one_eye_wink_is_not_a_blink() -> None:
    wink = FaceSignals(**{**sig().__dict__, "eye_openness_left": 0.03})
    state = run([Action.BLINK], [*session([wink, wink, sig()]), *neutral(40)], windows=3000)
    assert state.phase == "failed"


def test_turn_the_wrong_way_fails() -> None:
    state = run([Action.TURN_LEFT], session(perform(Action.TURN_RIGHT)))
    assert state.phase == "failed"
    assert state.reasons == ["wrong_direction"]


def test_small_turn_is_not_enough() -> None:
    small = [sig(yaw=y) for y in (5, 10, 14, 10, 0)]
    state = run([Action.TURN_LEFT], [*session(small), *neutral(70)])
    assert state.phase == "failed"
    assert state.reasons == ["step_timeout:turn_left"]


@pytest.mark.parametrize(
    ("asked", "done", "reason"),
    [
        ([Action.SMILE, Action.TURN_LEFT], [Action.TURN_LEFT, Action.SMILE], "unexpected_action:turn_left"),
        ([Action.BLINK, Action.OPEN_MOUTH], [Action.OPEN_MOUTH, Action.BLINK], "unexpected_action:open_mouth"),
        ([Action.TURN_RIGHT, Action.TURN_LEFT], [Action.TURN_LEFT, Action.TURN_RIGHT], "wrong_direction"),
        ([Action.OPEN_MOUTH, Action.SMILE], [Action.SMILE, Action.OPEN_MOUTH], "unexpected_action:smile"),
    ],
)
def test_actions_out_of_order_fail(asked: list[Action], done: list[Action], reason: str) -> None:
    state = run(asked, session(*(perform(a) for a in done)))
    assert state.phase == "failed"
    assert state.reasons == [reason]
    assert state.completed == []


def test_action_not_started_from_neutral_fails() -> None:
    """Already turned when asked, and held there: the turn never starts from neutral."""
    turned = [sig(yaw=30)] * 80
    state = run([Action.TURN_LEFT], [*neutral(TH.baseline_frames), *turned])
    assert state.phase == "failed"
    assert state.reasons == ["not_from_neutral:turn_left"]
    assert state.completed == []


def test_static_face_fails_at_the_window() -> None:
    state = run([Action.BLINK, Action.TURN_LEFT], neutral(100), windows=6000)
    assert state.phase == "failed"
    assert state.reasons == ["step_timeout:blink"]


def test_action_faster_than_human_reaction_is_not_counted() -> None:
    # Prompt at the 3rd baseline frame; the turn lands 100 ms later, then the face stays still.
    fast = [*neutral(3), sig(yaw=25), *neutral(80)]
    state = run([Action.TURN_LEFT], fast, th=LivenessThresholds(min_reaction_ms=150))
    assert not state.passed


@pytest.mark.parametrize(
    ("frame", "hint"),
    [
        (sig(faces=0), "hint_no_face"),
        (sig(faces=2), "hint_multiple_faces"),
        (sig(size=0.08), "hint_too_small"),
        (sig(brightness=20), "hint_too_dark"),
        (sig(brightness=250), "hint_too_bright"),
        (sig(sharpness=6), "hint_blurred"),
        (sig(centring=0.4), "hint_off_centre"),
        (sig(yaw=40), "hint_look_straight"),
    ],
)
def test_quality_gates_give_hints_and_do_not_calibrate(frame: FaceSignals, hint: str) -> None:
    state = new_state([Action.BLINK], [6000])
    verdicts = [feed(state, 1000.0 * i, frame, TH) for i in range(5)]
    assert {v.hint for v in verdicts} == {hint}
    assert state.phase == "calibrating"


def test_no_face_at_all_fails_calibration() -> None:
    state = run([Action.BLINK], [sig(faces=0)] * 70)
    assert state.reasons == ["calibration_timeout"]


def test_baseline_is_relative_to_the_person() -> None:
    """Someone whose neutral pose is yawed 15 degrees, with small eyes: turns and blinks count from there."""
    base = dict(yaw=15.0, eyes=0.18)
    frames = [sig(**base) for _ in range(7)]
    frames += [sig(yaw=15 + y, eyes=0.18) for y in (10, 22, 10)] + [sig(**base)] * 3
    frames += [sig(yaw=15, eyes=0.04), sig(yaw=15, eyes=0.18)] + [sig(**base)] * 3
    state = run([Action.TURN_LEFT, Action.BLINK], frames)
    assert state.passed, state.reasons


def _landmarks(nose_scale: float = 1.0, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    points = rng.uniform(0.3, 0.7, size=(478, 3)).astype(np.float32)
    points[:, 2] *= 0.1
    points[33] = (0.40, 0.45, 0.0)
    points[263] = (0.60, 0.45, 0.0)
    points[133] = (0.46, 0.45, 0.0)
    points[362] = (0.54, 0.45, 0.0)
    points[168] = (0.50, 0.44, 0.0)
    points[10] = (0.50, 0.30, 0.0)
    points[1] = (0.50, 0.44 + 0.10 * nose_scale, -0.03)
    points[98] = (0.47, 0.53, 0.0)
    points[327] = (0.53, 0.53, 0.0)
    return points


def test_a_different_face_geometry_fails_identity() -> None:
    mine, other = _landmarks(1.0), _landmarks(1.35)
    frames = [sig(landmarks=mine) for _ in range(6)] + [sig(landmarks=other) for _ in range(5)]
    state = run([Action.BLINK], frames)
    assert state.reasons == ["identity_changed"]


def test_the_same_face_geometry_with_jitter_keeps_identity() -> None:
    rng = np.random.default_rng(0)
    mine = _landmarks(1.0)
    frames = [sig(landmarks=mine + rng.normal(0, 0.002, mine.shape).astype(np.float32)) for _ in range(30)]
    state = run([Action.BLINK], frames)
    assert state.phase == "running"


def test_finished_state_ignores_frames_and_expire_fails_open_ones() -> None:
    state = run([Action.BLINK], session(perform(Action.BLINK)))
    assert state.passed
    decision.expire(state)
    assert state.passed
    other = new_state([Action.SMILE], [6000])
    decision.expire(other, "cancelled")
    assert other.phase == "failed" and other.reasons == ["cancelled"]


def test_state_to_dict_matches_asdict_and_shares_no_lists() -> None:
    state = DecisionState(
        actions=["blink", "turn_left"],
        windows_ms=[8000, 8000],
        phase="running",
        started_at=1.0,
        samples=[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]],
        sample_geometry=[[1.0, 2.0]],
        baseline=Baseline(yaw=1.5, pitch=-2.0, eyes=0.3, mouth=0.05, smile=0.1, geometry=[1.0, 2.0]),
        step=1,
        completed=[StepRecord("blink", 10.0, 11.0, 12.0)],
        reasons=["r"],
        notes=["n"],
    )
    data = state.to_dict()
    assert data == asdict(state)
    assert DecisionState.from_dict(data) == state
    data["samples"][0].append(9.9)
    assert data["baseline"] is not None
    data["baseline"]["geometry"].append(3.0)
    data["completed"][0]["action"] = "smile"
    data["notes"].append("x")
    assert state.samples[0] == [0.1, 0.2, 0.3] and state.baseline is not None
    assert state.baseline.geometry == [1.0, 2.0] and state.completed[0].action == "blink" and state.notes == ["n"]
