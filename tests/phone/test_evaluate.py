import numpy as np
import pytest

from vigilo.phone.evaluate import Truth, average_precision, iou, match
from vigilo.vision.detection import Detection


def det(score: float, box: tuple[float, float, float, float]) -> Detection:
    return Detection("cell phone", score, box, 67)


def test_iou() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0


def test_matching_is_one_to_one_by_score() -> None:
    truth = Truth(boxes=[(0, 0, 10, 10)])
    # two detections on one phone: only the higher-scored one is a hit
    assert match([det(0.6, (0, 0, 10, 10)), det(0.9, (1, 0, 11, 10))], truth) == [True, False]


def test_centre_points_count_when_covered() -> None:
    truth = Truth(centres=[(50, 50)])
    assert match([det(0.8, (0, 0, 40, 40)), det(0.7, (40, 40, 60, 60))], truth) == [False, True]


def test_average_precision_by_hand() -> None:
    # ranked: hit, miss, hit; 3 phones in all
    scores = np.array([0.9, 0.8, 0.7])
    hits = np.array([True, False, True])
    ap, recall_at_p90 = average_precision(scores, hits, positives=3)
    # precision envelope: 1.0 up to recall 1/3, then 2/3 up to recall 2/3
    assert ap == pytest.approx(1 / 3 * 1.0 + 1 / 3 * (2 / 3))
    assert recall_at_p90 == pytest.approx(1 / 3)


def test_no_detections_is_zero_not_an_error() -> None:
    assert average_precision(np.array([]), np.array([], dtype=bool), positives=5) == (0.0, 0.0)
