"""Video events of `vigilo face analyze` follow the session rules (vigilo.liveness.decision).

Synthetic signal sequences (the real decision functions and the real tracker, no images), then one real ZJU
clip fed both to the tracker and to a real one-step blink session.
"""

from __future__ import annotations

from pathlib import Path

import cv2

from tests.liveness.test_decision import OPEN_EYES, neutral, perform, sig
from vigilo.config.liveness import LivenessThresholds
from vigilo.liveness.actions import Action
from vigilo.liveness.analysis import Event, video_events
from vigilo.liveness.decision import feed, new_state
from vigilo.liveness.signals import FaceAnalyzer, FaceSignals

TH = LivenessThresholds()
FPS = 10.0  # test_decision's sequences are 100 ms apart


def events(frames: list[FaceSignals]) -> list[tuple[str, int, int]]:
    return [(e.type, e.start_frame, e.end_frame) for e in video_events(frames, TH, FPS, 1.0)]


def test_each_action_is_one_event_at_its_frames() -> None:
    frames = neutral(6)
    expected = []
    for action, kind in (
        (Action.TURN_LEFT, "turn_left"),
        (Action.TURN_RIGHT, "turn_right"),
        (Action.BLINK, "blink"),
        (Action.OPEN_MOUTH, "mouth_open"),
        (Action.SMILE, "smile"),
    ):
        part = perform(action)
        start = len(frames)
        frames += part + neutral(3)
        if kind == "blink":
            hits = [i for i, s in enumerate(part) if s.eye_openness_left < OPEN_EYES * TH.blink_closed_ratio]
        elif kind.startswith("turn"):
            hits = [i for i, s in enumerate(part) if abs(s.yaw) >= TH.turn_yaw]
        elif kind == "mouth_open":
            hits = [i for i, s in enumerate(part) if s.mouth_open - 0.02 >= TH.mouth_open_rise]
        else:
            hits = [i for i, s in enumerate(part) if s.smile - 0.1 >= TH.smile_rise]
        expected.append((kind, start + hits[0], start + hits[-1]))
    assert events(frames) == expected


def test_turns_are_relative_to_the_neutral_pose() -> None:
    # A subject whose neutral pose is 15° to their left: 30° left is only 15° from neutral, not a turn;
    # going back to 0° is a 15° right turn, not one either; 40° is.
    frames = [sig(yaw=15) for _ in range(6)] + [sig(yaw=30)] * 3 + [sig(yaw=15)] * 2 + [sig(yaw=0)] * 3
    assert events(frames) == []
    frames += [sig(yaw=15)] * 2 + [sig(yaw=40)] * 2 + [sig(yaw=15)] * 2
    assert events(frames) == [("turn_left", 16, 17)]


def test_an_action_must_start_from_neutral_and_closing_too_long_is_no_blink() -> None:
    # mouth open from the first frame after the baseline never returned to neutral: no event until it does
    frames = neutral(5) + [sig(mouth=0.5)] * 4 + neutral(2) + [sig(mouth=0.5)] * 2 + neutral(2)
    assert events(frames) == [("mouth_open", 11, 12)]
    # eyes closed for 1.2 s (> blink_max_ms) then open: not a blink; a later short closure is
    frames = neutral(6) + [sig(eyes=0.05)] * 12 + neutral(3) + [sig(eyes=0.05)] * 2 + neutral(2)
    assert events(frames) == [("blink", 21, 22)]
    # a closure of one frame at 10 fps lasts at most 200 ms: a blink; at 1000 fps (2 ms) it is too short
    frames = [*neutral(6), sig(eyes=0.05), *neutral(3)]
    assert events(frames) == [("blink", 6, 6)]
    assert video_events(frames, TH, 1000.0, 1.0) == []


def test_turned_head_hides_mouth_and_blink_like_a_session() -> None:
    turned_mouth = [sig(yaw=25, mouth=0.5), sig(yaw=25, eyes=0.05), sig(yaw=25)]
    frames = neutral(6) + turned_mouth + neutral(3)
    assert events(frames) == [("turn_left", 6, 8)]


def test_zju_clip_blink_events_match_a_real_session(zju_clip: tuple[Path, list[tuple[int, int]], int, int]) -> None:
    mp4, blinks, _, _ = zju_clip
    capture = cv2.VideoCapture(str(mp4))
    fps = capture.get(cv2.CAP_PROP_FPS)
    signals: list[FaceSignals] = []
    with FaceAnalyzer(pool_size=1) as analyzer:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            signals.append(analyzer.analyze(frame))
    capture.release()
    aspect = 320 / 240
    found: list[Event] = [e for e in video_events(signals, TH, fps, aspect) if e.type == "blink"]
    assert len(found) == len(blinks)
    # A session asking for one blink completes it on the frame the first event's eyes reopen.
    state = new_state([Action.BLINK], [10_000])
    done_at = None
    for index, s in enumerate(signals):
        verdict = feed(state, index * 1000.0 / fps, s, TH, aspect=aspect)
        if verdict.completed:
            done_at = index
            break
    assert state.passed and done_at is not None
    assert found[0].end_frame < done_at <= found[0].end_frame + 2
    assert blinks[0][0] <= found[0].start_frame and done_at <= blinks[0][1]
