"""The IoU tracker: stable ids, weak detections continue tracks but never start them, ageing out."""

from __future__ import annotations

import numpy as np

from vigilo.phone.tracker import IouTracker, iou_matrix
from vigilo.vision.detection import Detection


def phone(x: float, y: float, score: float = 0.8, w: float = 40, h: float = 80) -> Detection:
    return Detection("cell phone", score, (x, y, x + w, y + h), 67)


def ids(tracker: IouTracker, dets: list[Detection], t: float) -> list[int]:
    return [t_.track_id for t_ in tracker.update(dets, t)]


def test_iou_matrix() -> None:
    a = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], dtype=float)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [100, 100, 110, 110]], dtype=float)
    m = iou_matrix(a, b)
    assert m.shape == (2, 3)
    assert m[0, 0] == 1.0 and abs(m[0, 1] - 50 / 150) < 1e-9 and m[0, 2] == 0.0 and m[1].sum() == 0.0


def test_moving_phone_keeps_its_id_and_two_phones_get_two() -> None:
    tracker = IouTracker(high_threshold=0.5)
    first = ids(tracker, [phone(10, 10), phone(200, 10)], 0.0)
    assert first == [1, 2]
    # both move a little; the order of detections changes: ids follow the boxes, not the order
    assert ids(tracker, [phone(212, 14), phone(18, 12)], 0.5) == [2, 1]
    # a jump with no overlap at low fps, still within one box size: same phone
    assert ids(tracker, [phone(40, 30)], 1.0) == [1]


def test_weak_detection_continues_but_never_starts_a_track() -> None:
    tracker = IouTracker(high_threshold=0.5, low_threshold=0.2)
    assert ids(tracker, [phone(10, 10, 0.3)], 0.0) == []  # weak and alone: nothing
    assert ids(tracker, [phone(10, 10, 0.9)], 0.5) == [1]
    assert ids(tracker, [phone(12, 10, 0.3)], 1.0) == [1]  # score dips: same track
    assert ids(tracker, [phone(12, 10, 0.1)], 1.5) == []  # below the low threshold: ignored


def test_tracks_age_out() -> None:
    tracker = IouTracker(high_threshold=0.5, max_age=1.0)
    assert ids(tracker, [phone(10, 10)], 0.0) == [1]
    assert ids(tracker, [], 0.5) == []
    assert ids(tracker, [phone(10, 10)], 0.9) == [1]  # back within max_age
    assert ids(tracker, [phone(10, 10)], 2.5) == [2]  # gone longer: a new phone
    assert [t.track_id for t in tracker.tracks] == [2]


def test_far_detection_is_a_new_track() -> None:
    tracker = IouTracker(high_threshold=0.5)
    assert ids(tracker, [phone(10, 10)], 0.0) == [1]
    assert ids(tracker, [phone(250, 250)], 0.5) == [2]
