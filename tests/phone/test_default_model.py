"""The bundled YOLOX-Nano on real images: finds the phone where there is one, nothing where there is none."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import shared_path
from vigilo.config import DetectorConfig
from vigilo.phone.detector import PhoneDetector
from vigilo.phone.evaluate import iou, yolo_truth
from vigilo.vision.imageio import read_image
from vigilo.vision.models import DEFAULT_DETECTOR

# A webcam frame where a phone is held up clearly (ground truth: YOLO label, class 1 = phone).
CLEAR_PHONE = "opencv_frame_154_png.rf.6602e9db1305380d913eb156ebda29a2"


@pytest.fixture(scope="module")
def detector() -> PhoneDetector:
    return PhoneDetector.from_config(DetectorConfig())


def test_bundled_model_is_the_documented_file() -> None:
    path = DEFAULT_DETECTOR.verify()
    assert path.name == "yolox_nano_coco.onnx"
    notice = DEFAULT_DETECTOR.notice_path().read_text()
    assert "Megvii" in notice and "Apache License" in notice and DEFAULT_DETECTOR.sha256 in notice


def test_clear_phone_is_boxed(detector: PhoneDetector) -> None:
    necem = shared_path("data", "phone", "necem")
    image_path = necem / "test" / "images" / f"{CLEAR_PHONE}.jpg"
    image = read_image(image_path, 10**8)
    truth = yolo_truth(necem, phone_class=1)(image_path, image.shape[1], image.shape[0])
    assert len(truth.boxes) == 1
    found = detector.detect([image])[0]
    assert [d.label for d in found] == ["cell phone"]
    assert iou(found[0].box, truth.boxes[0]) >= 0.5
    assert found[0].score >= 0.5


@pytest.mark.parametrize("video", ["bottle-detection.mp4", "one-by-one-person-detection.mp4", "classroom.gif"])
def test_phone_free_footage_raises_nothing(detector: PhoneDetector, video: str) -> None:
    path = shared_path("data", "phone", "negative_videos", video)
    capture = cv2.VideoCapture(str(path))
    frames = []
    index = 0
    while len(frames) < 12:
        ok, frame = capture.read()
        if not ok:
            break
        if index % 15 == 0:
            frames.append(frame)
        index += 1
    capture.release()
    assert len(frames) >= 3
    assert detector.detect(frames) == [[] for _ in frames]


def test_synthetic_blank_and_noise_raise_nothing(detector: PhoneDetector) -> None:
    rng = np.random.default_rng(1)
    images = [np.zeros((480, 640, 3), np.uint8), rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)]
    assert detector.detect(images) == [[], []]


def test_batch_and_single_paths_give_the_same_boxes(detector: PhoneDetector) -> None:
    necem = shared_path("data", "phone", "necem")
    with_phones = [p for p in sorted(necem.rglob("labels/*.txt")) if p.read_text().startswith("1 ")]
    paths = [p.parent.parent / "images" / f"{p.stem}.jpg" for p in with_phones[:5]]
    images = [read_image(p, 10**8) for p in paths]
    # different sizes and aspect ratios in one batch, as a folder scan produces
    images += [cv2.resize(images[0], (640, 480)), cv2.resize(images[1], (320, 568)), images[2][:300, :500]]
    batched = detector.detect(images, threshold=0.1)
    single = [detector.detect([img], threshold=0.1)[0] for img in images]
    assert batched == single
    assert sum(len(d) for d in batched) > 0  # the comparison is not between empty lists


def test_model_runs_batched_and_on_rectangular_canvases(detector: PhoneDetector) -> None:
    onnx_detector = detector.detector
    assert onnx_detector.max_batch == 8
    assert onnx_detector.flexible_input
    assert onnx_detector.canvas_hw(640, 480) == (320, 416)
    assert onnx_detector.canvas_hw(480, 640) == (416, 320)


def test_zoom_tiles_find_a_small_phone_the_full_frame_misses() -> None:
    folder = shared_path("data", "phone", "find_phone")
    centres = {
        line.split()[0]: (float(line.split()[1]), float(line.split()[2]))
        for line in (folder / "labels.txt").read_text().splitlines()
        if line.strip()
    }
    plain = PhoneDetector.from_config(DetectorConfig(threshold=0.3))
    zoomed = PhoneDetector.from_config(DetectorConfig(threshold=0.3, zoom={"enabled": True, "mode": "tiles"}))

    def hits(det: PhoneDetector) -> int:
        count = 0
        for name in sorted(centres)[:40]:
            image = read_image(folder / name, 10**8)
            cx, cy = centres[name][0] * image.shape[1], centres[name][1] * image.shape[0]
            boxes = [d.box for d in det.detect([image])[0]]
            count += any(x1 <= cx <= x2 and y1 <= cy <= y2 for x1, y1, x2, y2 in boxes)
        return count

    assert hits(zoomed) > hits(plain) + 2


def test_byo_detr_model_from_shared_models() -> None:
    model = shared_path("models", "deimv2", "deimv2_hgnetv2_femto_coco.onnx")
    necem = shared_path("data", "phone", "necem")
    # DEIMv2-Femto scores this phone 0.24 (and calls the same box "remote" at 0.29).
    detector = PhoneDetector.from_config(DetectorConfig(model=Path(model), threshold=0.2))
    assert detector.detector.layout.name == "boxes_scores"
    image_path = necem / "test" / "images" / f"{CLEAR_PHONE}.jpg"
    image = read_image(image_path, 10**8)
    truth = yolo_truth(necem, phone_class=1)(image_path, image.shape[1], image.shape[0])
    found = detector.detect([image])[0]
    assert any(iou(d.box, truth.boxes[0]) >= 0.5 for d in found), found
