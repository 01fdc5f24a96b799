"""Ultralytics exports: YOLOv8/YOLO11 ([N, 4 + C, A]) and YOLOv5 ([N, A, 5 + C]).

Both take RGB 0..1 with a centred letterbox padded with 114 and give centre/size boxes in
canvas pixels. Class names come from the file's `names` metadata when present.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from vigilo.vision.layouts.base import Layout, ModelInfo, Predictions, Preprocess, cxcywh_to_xyxy, grid_cells

ULTRALYTICS_PREPROCESS = Preprocess(rgb=True, scale=1 / 255.0, pad_mode="center", pad_value=114)


class UltralyticsLayout(Layout):
    name: ClassVar[str] = "ultralytics"
    description: ClassVar[str] = "YOLOv8 / YOLO11 (Ultralytics): [N, 4 + classes, anchors], no objectness"
    preprocess = ULTRALYTICS_PREPROCESS

    @classmethod
    def matches(cls, info: ModelInfo, input_hw: tuple[int, int]) -> bool:
        if len(info.outputs) != 1 or len(info.outputs[0].shape) != 3:
            return False
        channels, anchors = info.outputs[0].dim(1), info.outputs[0].dim(2)
        if channels is None or channels < 5:
            return False
        if anchors is None:
            return info.metadata.get("task") == "detect"
        return anchors > channels and anchors in (
            grid_cells(input_hw, (8, 16, 32)),
            grid_cells(input_hw, (8, 16, 32, 64)),
        )

    def num_classes(self, info: ModelInfo) -> int:
        channels = info.outputs[0].dim(1)
        assert channels is not None
        return channels - 4

    def decode(self, outputs: list[np.ndarray], input_hw: tuple[int, int]) -> list[Predictions]:
        result = []
        for pred in outputs[0]:
            pred = pred.T  # (A, 4 + C)
            result.append(Predictions(cxcywh_to_xyxy(pred[:, :4]).astype(np.float32), pred[:, 4:]))
        return result


class Yolov5Layout(Layout):
    name: ClassVar[str] = "yolov5"
    description: ClassVar[str] = "YOLOv5 (Ultralytics): [N, 3 x anchors, 5 + classes], objectness x class score"
    preprocess = ULTRALYTICS_PREPROCESS

    @classmethod
    def matches(cls, info: ModelInfo, input_hw: tuple[int, int]) -> bool:
        if len(info.outputs) != 1 or len(info.outputs[0].shape) != 3:
            return False
        anchors, width = info.outputs[0].dim(1), info.outputs[0].dim(2)
        if width is None or width < 6 or anchors is None:
            return False
        return anchors in (
            3 * grid_cells(input_hw, (8, 16, 32)),
            3 * grid_cells(input_hw, (8, 16, 32, 64)),
        )

    def num_classes(self, info: ModelInfo) -> int:
        width = info.outputs[0].dim(2)
        assert width is not None
        return width - 5

    def decode(self, outputs: list[np.ndarray], input_hw: tuple[int, int]) -> list[Predictions]:
        return [
            Predictions(cxcywh_to_xyxy(pred[:, :4]).astype(np.float32), pred[:, 5:] * pred[:, 4:5])
            for pred in outputs[0]
        ]
