"""DAMO-YOLO (Alibaba TinyVision) export: outputs scores [N, A, C] and boxes [N, A, 4] (xyxy, canvas pixels).

Input is RGB 0..255 letterboxed to the top-left corner; NMS is left to us.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from vigilo.vision.layouts.base import Layout, ModelInfo, Predictions, Preprocess


def _split(info: ModelInfo) -> tuple[int, int] | None:
    """(scores index, boxes index) when the outputs are one [N, A, C] and one [N, A, 4]."""
    if len(info.outputs) != 2 or any(len(o.shape) != 3 for o in info.outputs):
        return None
    last = [o.dim(2) for o in info.outputs]
    if last[1] == 4 and last[0] != 4:
        return 0, 1
    if last[0] == 4 and last[1] != 4:
        return 1, 0
    return None


class DamoYoloLayout(Layout):
    name: ClassVar[str] = "damoyolo"
    description: ClassVar[str] = "DAMO-YOLO: scores [N, anchors, classes] + boxes [N, anchors, 4] xyxy"
    preprocess = Preprocess(rgb=True, scale=1.0, pad_mode="top_left", pad_value=0)

    def __init__(self) -> None:
        self._order = (0, 1)

    @classmethod
    def matches(cls, info: ModelInfo, input_hw: tuple[int, int]) -> bool:
        return len(info.inputs) == 1 and _split(info) is not None

    def num_classes(self, info: ModelInfo) -> int:
        order = _split(info)
        assert order is not None
        self._order = order
        classes = info.outputs[order[0]].dim(2)
        assert classes is not None
        return classes

    def decode(self, outputs: list[np.ndarray], input_hw: tuple[int, int]) -> list[Predictions]:
        scores, boxes = outputs[self._order[0]], outputs[self._order[1]]
        return [Predictions(b.astype(np.float32), s.astype(np.float32)) for b, s in zip(boxes, scores, strict=True)]
