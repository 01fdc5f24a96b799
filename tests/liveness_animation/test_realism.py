"""Realism check: our own face analysis must see the animated actions, at the times the timeline gives.

Signals are taken relative to the median of the first five frames (as the decision engine's baseline).
"Active" frames are those past half the decision threshold; they must all fall inside their action's
frames (+-2 frames), and the peak must pass the full threshold inside the action.
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass

import pytest

from tests.liveness_animation.conftest import FORWARD, REVERSE, Animations
from vigilo.config.liveness import LivenessThresholds
from vigilo.liveness.signals import FaceAnalyzer
from vigilo.tools.face_animation import Animation, Segment

TH = LivenessThresholds()
SLACK = 2  # frames


@dataclass
class Track:
    yaw: list[float]
    eyes: list[float]  # ratio to the open level
    mouth: list[float]  # rise over neutral
    smile: list[float]  # rise over neutral


def track(animation: Animation, analyzer: FaceAnalyzer) -> Track:
    sigs = [analyzer.analyze(f) for f in animation.frames]
    assert all(s.faces == 1 for s in sigs), "a face must be found in every frame"
    base = sigs[:5]
    yaw0 = statistics.median(s.yaw for s in base)
    eyes0 = statistics.median((s.eye_openness_left + s.eye_openness_right) / 2 for s in base)
    mouth0 = statistics.median(s.mouth_open for s in base)
    smile0 = statistics.median(s.smile for s in base)
    return Track(
        yaw=[s.yaw - yaw0 for s in sigs],
        eyes=[(s.eye_openness_left + s.eye_openness_right) / 2 / eyes0 for s in sigs],
        mouth=[s.mouth_open - mouth0 for s in sigs],
        smile=[s.smile - smile0 for s in sigs],
    )


def segment(animation: Animation, action: str) -> Segment:
    return next(s for s in animation.timeline if s.action == action)


def within(frames: list[int], segs: list[Segment]) -> bool:
    return all(any(s.start_frame - SLACK <= i <= s.end_frame + SLACK for s in segs) for i in frames)


@pytest.fixture(scope="module", params=["forward", "reverse"])
def animated(request: pytest.FixtureRequest, animations: Animations, analyzer: FaceAnalyzer) -> tuple[Animation, Track]:
    animation = animations.get(FORWARD if request.param == "forward" else REVERSE)
    return animation, track(animation, analyzer)


def test_the_timeline_is_exact(animations: Animations) -> None:
    animation = animations.get(FORWARD)
    assert [s.action for s in animation.timeline] == FORWARD
    previous_end = 4  # the first five frames are neutral: the baseline
    for s in animation.timeline:
        assert s.start_frame > previous_end + 2, "neutral frames before every action"
        assert s.start_ms <= s.peak_start_ms < s.peak_end_ms <= s.end_ms
        assert s.start_frame == round(s.start_ms / 100) + 1 and s.end_frame <= s.end_ms / 100
        previous_end = s.end_frame
    assert len(animation.frames) > previous_end + 3


@pytest.mark.parametrize(("action", "sign"), [("turn_left", 1), ("turn_right", -1)])
def test_turns_reach_their_yaw_inside_their_window(animated: tuple[Animation, Track], action: str, sign: int) -> None:
    animation, tr = animated
    seg = segment(animation, action)
    turns = [s for s in animation.timeline if s.action.startswith("turn_")]
    peak = max(range(len(tr.yaw)), key=lambda i: sign * tr.yaw[i])
    assert sign * tr.yaw[peak] > TH.turn_yaw
    assert seg.start_frame <= peak <= seg.end_frame
    active = [i for i, y in enumerate(tr.yaw) if sign * y > TH.turn_yaw / 2]
    assert within(active, [seg])
    outside = [abs(y) for i, y in enumerate(tr.yaw) if not within([i], turns)]
    assert max(outside) < TH.neutral_angle, "near neutral outside the turns"


def test_eyes_close_at_the_blink(animated: tuple[Animation, Track]) -> None:
    animation, tr = animated
    seg = segment(animation, "blink")
    closed = [i for i, e in enumerate(tr.eyes) if e < TH.blink_closed_ratio]
    assert closed, "no closed-eye frame"
    assert within(closed, [seg])
    assert min(tr.eyes[seg.start_frame : seg.end_frame + 1]) < 0.6
    open_level = [e for i, e in enumerate(tr.eyes) if not within([i], [seg])]
    assert min(open_level) > TH.blink_open_ratio, "eyes read open outside the blink"


def test_the_mouth_opens_at_open_mouth(animated: tuple[Animation, Track]) -> None:
    animation, tr = animated
    seg = segment(animation, "open_mouth")
    assert max(tr.mouth[seg.start_frame : seg.end_frame + 1]) > 2 * TH.mouth_open_rise
    active = [i for i, m in enumerate(tr.mouth) if m > TH.mouth_open_rise / 2]
    assert within(active, [seg])


def test_the_smile_rises_at_smile(animated: tuple[Animation, Track]) -> None:
    animation, tr = animated
    seg = segment(animation, "smile")
    assert max(tr.smile[seg.start_frame : seg.end_frame + 1]) > TH.smile_rise
    assert max(tr.mouth[seg.start_frame : seg.end_frame + 1]) < TH.mouth_open_rise / 2, "a closed-mouth smile"
    # An open mouth also reads as a smile (the smile model weighs the lip gap): allowed there only.
    active = [i for i, m in enumerate(tr.smile) if m > TH.smile_rise / 2]
    assert within(active, [seg, segment(animation, "open_mouth")])


def test_frames_are_never_near_duplicates(animations: Animations) -> None:
    from vigilo.liveness.frames import mean_abs_diff, thumbnail

    frames = animations.get(FORWARD).frames
    diffs = [mean_abs_diff(thumbnail(a), thumbnail(b)) for a, b in itertools.pairwise(frames)]
    assert min(diffs) > 2 * 0.2  # twice the service's default near-duplicate limit
