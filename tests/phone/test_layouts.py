"""Each supported layout decodes a known box to the right place in source pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.phone.onnx_builders import COCO_NAMES, build, cells
from vigilo.vision.onnx_detector import ModelError, OnnxDetector

PHONE = 67
# A 1280x720 source on a 640x640 canvas: scale 0.5.
SOURCE = np.full((720, 1280, 3), 90, dtype=np.uint8)


def only(detector: OnnxDetector) -> list[tuple[str, float, tuple[float, ...]]]:
    found = detector.detect([SOURCE], threshold=0.3, classes=["cell phone", "person"])[0]
    return [(d.label, round(d.score, 3), tuple(round(v, 1) for v in d.box)) for d in found]


def test_ultralytics_v8_layout_centre_letterbox(tmp_path: Path) -> None:
    anchors = cells(640, 640)
    out = np.zeros((1, 84, anchors), np.float32)
    out[0, :4, 10] = [320, 320, 100, 200]  # cx, cy, w, h on the canvas
    out[0, 4 + PHONE, 10] = 0.9
    model = build(tmp_path / "v8.onnx", {"output0": out}, metadata={"names": repr(COCO_NAMES), "task": "detect"})
    detector = OnnxDetector(model)
    assert detector.layout.name == "ultralytics"
    assert detector.labels[PHONE] == "cell phone"
    # centre letterbox: 1280x720 -> 640x360, 140 px of padding on top
    assert only(detector) == [("cell phone", 0.9, (540.0, 160.0, 740.0, 560.0))]


def test_yolov5_layout_multiplies_objectness(tmp_path: Path) -> None:
    anchors = 3 * cells(640, 640)
    out = np.zeros((1, anchors, 85), np.float32)
    out[0, 5, :5] = [320, 320, 100, 200, 0.8]
    out[0, 5, 5 + PHONE] = 0.5
    detector = OnnxDetector(build(tmp_path / "v5.onnx", {"output": out}))
    assert detector.layout.name == "yolov5"
    assert only(detector) == [("cell phone", 0.4, (540.0, 160.0, 740.0, 560.0))]


def test_damoyolo_layout_top_left_letterbox(tmp_path: Path) -> None:
    anchors = cells(640, 640)
    scores = np.zeros((1, anchors, 80), np.float32)
    boxes = np.zeros((1, anchors, 4), np.float32)
    scores[0, 7, PHONE] = 0.7
    boxes[0, 7] = [100, 100, 200, 300]
    detector = OnnxDetector(build(tmp_path / "damo.onnx", {"scores": scores, "boxes": boxes}))
    assert detector.layout.name == "damoyolo"
    assert only(detector) == [("cell phone", 0.7, (200.0, 200.0, 400.0, 600.0))]


def test_boxes_scores_layout_with_labels_and_target_sizes(tmp_path: Path) -> None:
    labels = np.zeros((1, 300), np.int64)
    boxes = np.zeros((1, 300, 4), np.float32)
    scores = np.zeros((1, 300), np.float32)
    labels[0, 3], scores[0, 3], boxes[0, 3] = PHONE, 0.95, [64, 64, 128, 320]
    labels[0, 4], scores[0, 4], boxes[0, 4] = 0, 0.6, [0, 0, 640, 640]
    model = build(
        tmp_path / "detr.onnx",
        {"labels": labels, "boxes": boxes, "scores": scores},
        extra_int64_input="orig_target_sizes",
    )
    detector = OnnxDetector(model)
    assert detector.layout.name == "boxes_scores"
    # stretched: x scale 0.5, y scale 640/720
    assert only(detector) == [
        ("cell phone", 0.95, (128.0, 72.0, 256.0, 360.0)),
        ("person", 0.6, (0.0, 0.0, 1280.0, 720.0)),
    ]


def test_class_aware_nms(tmp_path: Path) -> None:
    anchors = cells(640, 640)
    out = np.zeros((1, 84, anchors), np.float32)
    for index, (cx, score, klass) in enumerate([(320, 0.9, PHONE), (324, 0.8, PHONE), (322, 0.7, 0)]):
        out[0, :4, index] = [cx, 320, 100, 200]
        out[0, 4 + klass, index] = score
    detector = OnnxDetector(build(tmp_path / "nms.onnx", {"output0": out}, metadata={"names": repr(COCO_NAMES)}))
    found = detector.detect([SOURCE], threshold=0.3)[0]
    # the second phone overlaps the first and goes; the person overlaps too but is another class
    assert [(d.label, round(d.score, 2)) for d in found] == [("cell phone", 0.9), ("person", 0.7)]


def test_unrecognised_output_is_a_clear_error(tmp_path: Path) -> None:
    classifier = build(tmp_path / "cls.onnx", {"logits": np.zeros((1, 1000), np.float32)}, input_hw=(224, 224))
    with pytest.raises(ModelError, match=r"output layout not recognised.*logits\[1, 1000\]"):
        OnnxDetector(classifier)


def test_non_image_input_is_a_clear_error(tmp_path: Path) -> None:
    model = build(tmp_path / "vec.onnx", {"y": np.zeros((1, 4), np.float32)}, image_shape=[1, 10])
    with pytest.raises(ModelError, match="not an image detector"):
        OnnxDetector(model)


def test_not_onnx_at_all(tmp_path: Path) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00\x01 this is not protobuf" * 10)
    with pytest.raises(ModelError, match="not an ONNX model"):
        OnnxDetector(junk)


def test_label_count_mismatch(tmp_path: Path) -> None:
    out = np.zeros((1, 84, cells(640, 640)), np.float32)
    model = build(tmp_path / "v8.onnx", {"output0": out})
    with pytest.raises(ModelError, match="predicts 80 classes but 2 labels"):
        OnnxDetector(model, labels=["a", "b"])
