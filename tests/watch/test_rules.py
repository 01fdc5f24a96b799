"""Rules on tracked detections: confirmation N-of-M and T seconds, zones, thresholds, areas, masks, persons."""

from __future__ import annotations

from typing import Any

from vigilo.config.cameras import CameraConfig, ConfirmConfig
from vigilo.phone.rules import Confirmation, RuleEngine
from vigilo.phone.tracker import TrackedDetection
from vigilo.vision.detection import Detection

W, H = 400, 200


def tracked(track_id: int, box: tuple[float, float, float, float], score: float = 0.8) -> TrackedDetection:
    return TrackedDetection(track_id, Detection("cell phone", score, box, 67))


def engine(**overrides: Any) -> RuleEngine:
    config = CameraConfig.model_validate({"name": "c", "source": "0", **overrides})
    return RuleEngine(config, default_threshold=0.35)


A = tracked(1, (40, 40, 60, 80))  # centre (50, 60) → (0.125, 0.3)


def test_n_of_m() -> None:
    confirm = Confirmation(ConfirmConfig(min_frames=3, window=5))
    pattern = [True, False, True, False, False, True, True, False, True]
    results = [bool(confirm.observe("z", [A] if seen else [], float(i))) for i, seen in enumerate(pattern)]
    # 3 sightings in the last 5 frames first happen at frame 6 (frames 2, 5, 6); frame 8: 5, 6, 8
    assert results == [False, False, False, False, False, False, True, False, True]


def test_history_is_per_track_and_forgotten_when_empty() -> None:
    confirm = Confirmation(ConfirmConfig(min_frames=2, window=2))
    b = tracked(2, (300, 40, 320, 80))
    assert confirm.observe("z", [A], 0.0) == []
    assert confirm.observe("z", [b], 1.0) == []  # A missed once, B seen once: neither confirmed
    assert confirm.observe("z", [b], 2.0) == [b]
    assert confirm.first_seen("z", 1) is None  # A's window is all misses now: forgotten
    assert confirm.first_seen("z", 2) == 1.0


def test_seconds_rule() -> None:
    confirm = Confirmation(ConfirmConfig(min_frames=10, window=10, min_seconds=1.5))
    assert [bool(confirm.observe("z", [A], t)) for t in (0.0, 0.5, 1.0, 1.5, 2.0)] == [False] * 3 + [True] * 2


def test_zones_threshold_and_area() -> None:
    rules = engine(
        confirm={"min_frames": 1, "window": 1},
        zones=[
            {"name": "left", "polygon": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]},
            {"name": "right", "polygon": [[0.5, 0], [1, 0], [1, 1], [0.5, 1]], "threshold": 0.7, "min_area": 0.01},
        ],
    )
    weak_right = tracked(2, (300, 40, 320, 80), score=0.6)  # right side, below the zone's 0.7
    small_right = tracked(3, (300, 100, 305, 105), score=0.9)  # 25 px² < 1 % of 80 000
    good_right = tracked(4, (250, 100, 300, 180), score=0.9)
    obs = {o.zone.name: o for o in rules.observe([A, weak_right, small_right, good_right], [], (W, H), 0.0)}
    assert [t.track_id for t in obs["left"].counted] == [1]
    assert [t.track_id for t in obs["right"].counted] == [4]
    assert rules.min_threshold == 0.35


def test_no_zone_means_the_whole_frame_and_masks_drop_boxes_by_centre() -> None:
    rules = engine(
        confirm={"min_frames": 1, "window": 1},
        masks=[{"polygon": [[0, 0], [0.2, 0], [0.2, 0.5], [0, 0.5]]}],
    )
    other = tracked(2, (300, 40, 320, 80))
    (obs,) = rules.observe([A, other], [], (W, H), 0.0)
    assert obs.zone.name == "frame"
    assert [t.track_id for t in obs.confirmed] == [2]


def test_person_rule() -> None:
    rules = engine(confirm={"min_frames": 1, "window": 1}, person={"enabled": True, "min_overlap": 0.5})
    person = Detection("person", 0.9, (30, 30, 120, 200), 0)
    desk_phone = tracked(2, (300, 150, 340, 170))
    (obs,) = rules.observe([A, desk_phone], [person], (W, H), 0.0)
    assert [t.track_id for t in obs.counted] == [1]
    (obs,) = rules.observe([A], [Detection("person", 0.2, (30, 30, 120, 200), 0)], (W, H), 1.0)
    assert obs.counted == []  # the person is below the person threshold
