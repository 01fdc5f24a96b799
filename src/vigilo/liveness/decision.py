"""The liveness decision: a pure state machine over `(time, FaceSignals)`.

Nothing here reads clocks, images or stores: `feed` takes the frame's capture time in milliseconds and its
signals, updates a JSON-serialisable `DecisionState`, and says what the person should be told. The session
layer persists the state between frames.

Rules:
- Baseline: the first `baseline_frames` good, roughly frontal and steady frames give the session's neutral
  yaw/pitch, open-eye level, neutral mouth opening and smile score. Every later threshold is relative to it.
- A step is armed only once the face is back to neutral after the step's prompt (an action must START from
  neutral inside its window); then:
  - turn: yaw moves past `turn_yaw` from neutral in the asked direction (the subject's own left/right);
  - blink: the eyes close (mean below `blink_closed_ratio` of the open level, neither eye open) and reopen
    above `blink_open_ratio`,
    the closure lasting 60-800 ms (bounds taken generously from the frames seen);
  - open mouth / smile: a rise over neutral by `mouth_open_rise` / `smile_rise`;
  - blink, open mouth and smile count only on frames with yaw and pitch within `action_max_angle` of neutral
    (a head turn can read as a smile; such frames are skipped with a "look straight" hint);
  - nod: pitch moves `nod_pitch` away from neutral and comes back.
- Failures: a step's window running out, another deliberate action while armed (a turn the wrong way, or
  actions out of order), eyes closed longer than a blink, face geometry drifting (another face), the
  baseline never settling. A completed action sooner than `min_reaction_ms` after its prompt does not count.
- Frames failing the quality gates (no face, several faces, too small, dark, bright, blurred) only produce a
  hint; time keeps running.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field, fields
from typing import Any, Literal, Protocol

import numpy as np

from vigilo.config.liveness import LivenessThresholds
from vigilo.liveness.actions import TURNS, Action
from vigilo.liveness.signals import FaceSignals

Phase = Literal["calibrating", "running", "passed", "failed"]

# Rigid MediaPipe face-mesh points: eye corners, nose tip, nose bridge, alae, forehead.
_OUTER = (33, 263)
_GEOMETRY_PAIRS = ((133, 362), (33, 133), (362, 263), (1, 168), (98, 327), (168, 10), (1, 10))


@dataclass
class Baseline:
    yaw: float
    pitch: float
    eyes: float
    mouth: float
    smile: float
    geometry: list[float] | None = None


@dataclass
class StepRecord:
    action: str
    prompted_at: float
    started_at: float | None
    completed_at: float

    @property
    def duration_ms(self) -> float:
        return self.completed_at - (self.started_at if self.started_at is not None else self.prompted_at)


@dataclass
class DecisionState:
    actions: list[str]
    windows_ms: list[int]
    phase: Phase = "calibrating"
    started_at: float | None = None
    samples: list[list[float]] = field(default_factory=list)
    sample_geometry: list[list[float]] = field(default_factory=list)
    baseline: Baseline | None = None
    step: int = 0
    prompted_at: float | None = None
    armed_at: float | None = None
    closed_since: float | None = None
    last_closed_at: float | None = None
    last_open_at: float | None = None
    nod_peak: bool = False
    identity_strikes: int = 0
    completed: list[StepRecord] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.phase in ("passed", "failed")

    @property
    def passed(self) -> bool:
        return self.phase == "passed"

    @property
    def current_action(self) -> Action | None:
        if self.phase in ("calibrating", "running") and self.step < len(self.actions):
            return Action(self.actions[self.step])
        return None

    @property
    def progress(self) -> float:
        if self.phase == "passed":
            return 1.0
        return round(len(self.completed) / len(self.actions), 3) if self.actions else 0.0

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies every number of `samples` one call at a time (about 1 ms
        # of a frame's ~15). Every field holds plain JSON values, so fresh containers are copy enough.
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.update(
            actions=list(self.actions),
            windows_ms=list(self.windows_ms),
            samples=[list(sample) for sample in self.samples],
            sample_geometry=[list(sample) for sample in self.sample_geometry],
            baseline=None if self.baseline is None else _baseline_dict(self.baseline),
            completed=[dict(vars(item)) for item in self.completed],
            reasons=list(self.reasons),
            notes=list(self.notes),
        )
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DecisionState:
        values = dict(data)
        baseline = values.pop("baseline", None)
        completed = values.pop("completed", [])
        state = cls(**values)
        state.baseline = Baseline(**baseline) if baseline else None
        state.completed = [StepRecord(**item) for item in completed]
        return state


def _baseline_dict(baseline: Baseline) -> dict[str, Any]:
    data = dict(vars(baseline))
    data["geometry"] = None if baseline.geometry is None else list(baseline.geometry)
    return data


def new_state(actions: list[Action] | list[str], windows_ms: list[int]) -> DecisionState:
    if len(actions) != len(windows_ms) or not actions:
        raise ValueError("one window per action, at least one action")
    return DecisionState(actions=[str(Action(a)) for a in actions], windows_ms=list(windows_ms))


@dataclass(frozen=True)
class Verdict:
    """What one frame changed: a hint for the person (an i18n code) and whether a step completed."""

    hint: str | None = None
    completed: str | None = None


def quality_hint(sig: FaceSignals, th: LivenessThresholds) -> str | None:
    """The first quality gate the frame fails, as an i18n code; None when usable."""
    if sig.faces == 0:
        return "hint_no_face"
    if sig.faces > 1:
        return "hint_multiple_faces"
    if sig.face_size < th.min_face_size:
        return "hint_too_small"
    if sig.brightness < th.min_brightness:
        return "hint_too_dark"
    if sig.brightness > th.max_brightness:
        return "hint_too_bright"
    if sig.sharpness < th.min_sharpness:
        return "hint_blurred"
    if sig.centring > th.max_centre_offset:
        return "hint_off_centre"
    return None


def face_geometry(landmarks: np.ndarray | None, aspect: float = 1.0) -> list[float] | None:
    """Scale-free ratios between rigid landmark distances, to tell one face from another.

    `aspect` is width / height of the frame: MediaPipe normalises x by width and y by height.
    """
    if landmarks is None or landmarks.ndim != 2 or landmarks.shape[0] < 468:
        return None
    points = np.asarray(landmarks[:, :3], dtype=np.float64).copy()
    points[:, 1] /= aspect
    scale = float(np.linalg.norm(points[_OUTER[0]] - points[_OUTER[1]]))
    if scale <= 1e-6:
        return None
    return [float(np.linalg.norm(points[a] - points[b])) / scale for a, b in _GEOMETRY_PAIRS]


def feed(
    state: DecisionState,
    t_ms: float,
    sig: FaceSignals,
    th: LivenessThresholds,
    *,
    aspect: float = 1.0,
) -> Verdict:
    """Advances `state` by one frame captured at `t_ms` (milliseconds, increasing)."""
    if state.done:
        return Verdict()
    if state.started_at is None:
        state.started_at = t_ms
    if state.phase == "calibrating":
        return _calibrate(state, t_ms, sig, th, aspect)
    return _run(state, t_ms, sig, th, aspect)


def expire(state: DecisionState, reason: str = "session_expired") -> None:
    """Fails an unfinished decision from outside (session expiry, frame cap, cancel)."""
    if not state.done:
        _fail(state, reason)


def _fail(state: DecisionState, reason: str) -> None:
    state.phase = "failed"
    state.reasons.append(reason)


def _eyes(sig: FaceSignals) -> float:
    return (sig.eye_openness_left + sig.eye_openness_right) / 2.0


def _calibrate(state: DecisionState, t_ms: float, sig: FaceSignals, th: LivenessThresholds, aspect: float) -> Verdict:
    assert state.started_at is not None
    if t_ms - state.started_at > th.calibration_ms:
        _fail(state, "calibration_timeout")
        return Verdict()
    hint = quality_hint(sig, th)
    if hint:
        return Verdict(hint=hint)
    hint, baseline = collect_baseline(state.samples, state.sample_geometry, sig, th, aspect)
    if baseline is None:
        return Verdict(hint=hint)
    state.baseline = baseline
    state.phase = "running"
    state.prompted_at = t_ms
    return Verdict()


def collect_baseline(
    samples: list[list[float]],
    sample_geometry: list[list[float]],
    sig: FaceSignals,
    th: LivenessThresholds,
    aspect: float = 1.0,
) -> tuple[str | None, Baseline | None]:
    """One calibration frame of good quality: updates `samples` / `sample_geometry` in place and returns
    (hint, baseline), the baseline once `baseline_frames` frontal, steady frames are in.

    Shared by sessions and by `vigilo face analyze` (:mod:`vigilo.liveness.analysis`)."""
    if abs(sig.yaw) > th.baseline_max_angle or abs(sig.pitch) > th.baseline_max_angle:
        samples.clear()
        sample_geometry.clear()
        return "hint_look_straight", None
    samples.append([sig.yaw, sig.pitch, _eyes(sig), sig.mouth_open, sig.smile])
    geometry = face_geometry(sig.landmarks, aspect)
    if geometry is not None:
        sample_geometry.append(geometry)
    del samples[: -th.baseline_frames]
    del sample_geometry[: -th.baseline_frames]
    if len(samples) < th.baseline_frames:
        return None, None
    yaws = [s[0] for s in samples]
    pitches = [s[1] for s in samples]
    if max(yaws) - min(yaws) > th.baseline_max_spread or max(pitches) - min(pitches) > th.baseline_max_spread:
        return "hint_hold_still", None
    columns = list(zip(*samples, strict=True))
    geometry_median = (
        [statistics.median(col) for col in zip(*sample_geometry, strict=True)]
        if len(sample_geometry) == len(samples)
        else None
    )
    yaw, pitch, eyes, mouth, smile = (float(statistics.median(col)) for col in columns)
    return None, Baseline(yaw, pitch, eyes, mouth, smile, geometry=geometry_median)


@dataclass(frozen=True)
class Deltas:
    yaw: float
    pitch: float
    eyes: float  # ratio to the open level
    eyes_max: float  # the more open eye, as a ratio: both eyes must close for a blink (no wink)
    mouth: float
    smile: float


def deltas(sig: FaceSignals, base: Baseline) -> Deltas:
    """The frame's signals relative to the session's baseline."""
    level = base.eyes if base.eyes > 1e-6 else 1e-6
    return Deltas(
        yaw=sig.yaw - base.yaw,
        pitch=sig.pitch - base.pitch,
        eyes=_eyes(sig) / level,
        eyes_max=max(sig.eye_openness_left, sig.eye_openness_right) / level,
        mouth=sig.mouth_open - base.mouth,
        smile=sig.smile - base.smile,
    )


# Per-signal rules, shared by sessions and by `vigilo face analyze` (vigilo.liveness.analysis).


def pose_neutral(d: Deltas, th: LivenessThresholds) -> bool:
    return abs(d.yaw) <= th.neutral_angle and abs(d.pitch) <= th.neutral_angle


def eyes_open(d: Deltas, th: LivenessThresholds) -> bool:
    return d.eyes >= th.blink_open_ratio


def eyes_closed(d: Deltas, th: LivenessThresholds) -> bool:
    """Both eyes closed (mean below the closed ratio and neither eye open): no wink counts."""
    return d.eyes < th.blink_closed_ratio and d.eyes_max < th.blink_open_ratio


def mouth_neutral(d: Deltas, th: LivenessThresholds) -> bool:
    return d.mouth < th.mouth_open_rise * 0.5


def mouth_opened(d: Deltas, th: LivenessThresholds) -> bool:
    return d.mouth >= th.mouth_open_rise


def smile_neutral(d: Deltas, th: LivenessThresholds) -> bool:
    return d.smile < th.smile_rise * 0.5


def smiled(d: Deltas, th: LivenessThresholds) -> bool:
    """A smile: the smile score risen, with the mouth not wide open (which the smile model also scores high:
    an animated open mouth reaches 0.9+; real smiles stay under `smile_max_mouth_rise`)."""
    return d.smile >= th.smile_rise and d.mouth < th.smile_max_mouth_rise


def turned(d: Deltas, th: LivenessThresholds) -> Action | None:
    """TURN_LEFT / TURN_RIGHT once yaw is `turn_yaw` past neutral (the subject's own direction), else None."""
    if d.yaw >= th.turn_yaw:
        return Action.TURN_LEFT
    if d.yaw <= -th.turn_yaw:
        return Action.TURN_RIGHT
    return None


def facing(d: Deltas, th: LivenessThresholds) -> bool:
    """Blink, mouth and smile signals are trusted only with the head near its neutral pose."""
    return abs(d.yaw) <= th.action_max_angle and abs(d.pitch) <= th.action_max_angle


def _is_neutral(d: Deltas, th: LivenessThresholds) -> bool:
    return pose_neutral(d, th) and eyes_open(d, th) and mouth_neutral(d, th) and smile_neutral(d, th)


def _run(state: DecisionState, t_ms: float, sig: FaceSignals, th: LivenessThresholds, aspect: float) -> Verdict:
    assert state.baseline is not None and state.prompted_at is not None
    action = Action(state.actions[state.step])
    if t_ms - state.prompted_at > state.windows_ms[state.step]:
        _fail(state, f"step_timeout:{action}" if state.armed_at is not None else f"not_from_neutral:{action}")
        return Verdict()
    hint = quality_hint(sig, th)
    if hint:
        return Verdict(hint=hint)
    d = deltas(sig, state.baseline)
    if not _identity_ok(state, sig, d, th, aspect):
        _fail(state, "identity_changed")
        return Verdict()
    if state.armed_at is None:
        if _is_neutral(d, th):
            state.armed_at = t_ms
            state.last_open_at = t_ms
            return Verdict()
        return Verdict(hint="hint_back_to_neutral")
    conflict = _conflict(action, d, th)
    if conflict is not None:
        wrong_turn = conflict in TURNS and action in TURNS
        _fail(state, "wrong_direction" if wrong_turn else f"unexpected_action:{conflict}")
        return Verdict()
    if action not in TURNS and action is not Action.NOD and not facing(d, th):
        # Eye, mouth and smile signals are not to be trusted on a turned head (a head turn can read as a
        # smile): these actions count only while the head is near its neutral pose. The frame is skipped.
        return Verdict(hint="hint_look_straight")
    if not _detect(state, action, t_ms, d, th):
        return Verdict()
    if t_ms - state.prompted_at < th.min_reaction_ms:
        state.notes.append(f"too_fast:{action}")
        _reset_step(state)
        return Verdict()
    state.completed.append(StepRecord(str(action), state.prompted_at, state.armed_at, t_ms))
    state.step += 1
    _reset_step(state)
    if state.step >= len(state.actions):
        state.phase = "passed"
    else:
        state.prompted_at = t_ms
    return Verdict(completed=str(action))


def _reset_step(state: DecisionState) -> None:
    state.armed_at = None
    state.closed_since = None
    state.last_closed_at = None
    state.last_open_at = None
    state.nod_peak = False


def _detect(state: DecisionState, action: Action, t_ms: float, d: Deltas, th: LivenessThresholds) -> bool:
    if action in TURNS:
        return turned(d, th) is action
    if action is Action.OPEN_MOUTH:
        return mouth_opened(d, th)
    if action is Action.SMILE:
        return smiled(d, th)
    if action is Action.NOD:
        if abs(d.pitch) >= th.nod_pitch:
            state.nod_peak = True
        return state.nod_peak and abs(d.pitch) <= th.neutral_angle
    return _detect_blink(state, t_ms, d, th)


def _detect_blink(state: DecisionState, t_ms: float, d: Deltas, th: LivenessThresholds) -> bool:
    step = blink_update(state, t_ms, d, th)
    if step == "too_long":
        _fail(state, "eyes_closed_too_long")
    elif step == "too_short":
        state.notes.append("blink_too_short")
    return step == "blink"


class BlinkTrack(Protocol):
    """The three times a blink is tracked with (fields of `DecisionState`, or of an analysis tracker)."""

    closed_since: float | None
    last_closed_at: float | None
    last_open_at: float | None


BlinkStep = Literal["closed", "too_long", "half", "open", "too_short", "blink"]


def blink_update(track: BlinkTrack, t_ms: float, d: Deltas, th: LivenessThresholds) -> BlinkStep:
    """Closing then reopening. Duration bounds from frames: at least last-closed minus first-closed, at most
    reopened minus last-open. Too long only if the lower bound exceeds the limit, too short only if the upper
    bound is under it, so sparse frames never fail a real blink. A blink counts only after an open frame."""
    if eyes_closed(d, th):
        if track.closed_since is None:
            track.closed_since = t_ms
        track.last_closed_at = t_ms
        return "too_long" if t_ms - track.closed_since > th.blink_max_ms else "closed"
    if not eyes_open(d, th):
        return "half"  # half-closed: neither state
    if track.closed_since is None or track.last_closed_at is None or track.last_open_at is None:
        track.closed_since = track.last_closed_at = None
        track.last_open_at = t_ms
        return "open"
    longest = t_ms - track.last_open_at
    track.closed_since = track.last_closed_at = None
    track.last_open_at = t_ms
    return "too_short" if longest < th.blink_min_ms else "blink"


def _conflict(action: Action, d: Deltas, th: LivenessThresholds) -> Action | None:
    """Another deliberate action performed while `action` is asked for."""
    f = th.conflict_factor
    turn_limit = th.turn_yaw if action in TURNS else th.turn_yaw * f
    if action is not Action.TURN_LEFT and d.yaw >= turn_limit:
        return Action.TURN_LEFT
    if action is not Action.TURN_RIGHT and d.yaw <= -turn_limit:
        return Action.TURN_RIGHT
    if action is Action.OPEN_MOUTH:
        # Opening the mouth wide may read as a bit of a smile: only a smile without the mouth open conflicts.
        if d.smile >= th.smile_rise * f and d.mouth < th.mouth_open_rise * 0.5:
            return Action.SMILE
    elif action is Action.SMILE:
        if d.mouth >= th.mouth_open_rise * f and d.smile < th.smile_rise * 0.5:
            return Action.OPEN_MOUTH
    else:
        if d.mouth >= th.mouth_open_rise * f:
            return Action.OPEN_MOUTH
        if d.smile >= th.smile_rise * f:
            return Action.SMILE
    if action not in (Action.NOD, *TURNS) and abs(d.pitch) >= th.nod_pitch * f:
        return Action.NOD
    return None


def _identity_ok(state: DecisionState, sig: FaceSignals, d: Deltas, th: LivenessThresholds, aspect: float) -> bool:
    base = state.baseline
    if base is None or base.geometry is None or abs(d.yaw) > 15 or abs(d.pitch) > 15:
        return True
    geometry = face_geometry(sig.landmarks, aspect)
    if geometry is None:
        return True
    drift = max(abs(g - b) / b for g, b in zip(geometry, base.geometry, strict=True) if b > 1e-6)
    state.identity_strikes = state.identity_strikes + 1 if drift > th.identity_tolerance else 0
    return state.identity_strikes < th.identity_strikes
