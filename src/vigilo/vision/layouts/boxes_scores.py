"""Plain "boxes + scores" exports, the shape DETR-style models use (RT-DETR, D-FINE, DEIM/DEIMv2).

Outputs: boxes [N, K, 4] xyxy and either scores [N, K] with labels [N, K], or scores [N, K, C].
Boxes may be in canvas pixels or normalised to 0..1. Input is RGB 0..1, stretched to the
canvas. A second input `orig_target_sizes` (W, H), if the model has one, is given the canvas
size so the boxes come back in canvas pixels. NMS is not applied (these models do not need it).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from vigilo.vision.labels import COCO80
from vigilo.vision.layouts.base import Layout, ModelInfo, Predictions, Preprocess


def _roles(info: ModelInfo) -> dict[str, int] | None:
    roles: dict[str, int] = {}
    for index, out in enumerate(info.outputs):
        lowered = out.name.lower()
        if len(out.shape) == 3 and out.dim(2) == 4 and "box" in lowered:
            roles["boxes"] = index
        elif "label" in lowered or "class" in lowered:
            roles["labels"] = index
        elif "score" in lowered or "conf" in lowered or "logit" in lowered:
            roles["scores"] = index
    if "boxes" not in roles or "scores" not in roles:
        return None
    return roles


class BoxesScoresLayout(Layout):
    name: ClassVar[str] = "boxes_scores"
    description: ClassVar[str] = "boxes [N, K, 4] + scores [N, K] (+ labels [N, K]) or scores [N, K, C]"
    preprocess = Preprocess(rgb=True, scale=1 / 255.0, pad_mode="stretch", pad_value=0)
    needs_nms = False

    def __init__(self) -> None:
        self._roles: dict[str, int] = {}
        self._classes = 0

    @classmethod
    def matches(cls, info: ModelInfo, input_hw: tuple[int, int]) -> bool:
        return _roles(info) is not None

    def num_classes(self, info: ModelInfo) -> int:
        roles = _roles(info)
        assert roles is not None
        self._roles = roles
        scores = info.outputs[roles["scores"]]
        if len(scores.shape) == 3 and scores.dim(2):
            self._classes = int(scores.dim(2) or 0)
        else:
            names = info.metadata_names()
            self._classes = len(names) if names else len(COCO80)
        return self._classes

    def extra_inputs(self, info: ModelInfo, batch: int, input_hw: tuple[int, int]) -> dict[str, np.ndarray]:
        extra = {}
        for tensor in info.inputs:
            if tensor is not info.image_input and len(tensor.shape) == 2:
                sizes = np.tile(np.array([[input_hw[1], input_hw[0]]]), (batch, 1))
                extra[tensor.name] = sizes.astype(np.int64 if "int64" in tensor.dtype else np.float32)
        return extra

    def decode(self, outputs: list[np.ndarray], input_hw: tuple[int, int]) -> list[Predictions]:
        boxes = outputs[self._roles["boxes"]].astype(np.float32)
        scores = outputs[self._roles["scores"]].astype(np.float32)
        labels = outputs[self._roles["labels"]] if "labels" in self._roles else None
        result = []
        for i in range(boxes.shape[0]):
            img_boxes = boxes[i]
            if img_boxes.size and float(np.abs(img_boxes).max()) <= 1.5:  # normalised coordinates
                img_boxes = img_boxes * np.array([input_hw[1], input_hw[0]] * 2, dtype=np.float32)
            if scores.ndim == 3:
                dense = scores[i]
            else:
                dense = np.zeros((img_boxes.shape[0], self._classes), dtype=np.float32)
                assert labels is not None
                ids = labels[i].astype(np.int64)
                valid = (ids >= 0) & (ids < self._classes)
                dense[np.nonzero(valid)[0], ids[valid]] = scores[i][valid]
            result.append(Predictions(img_boxes, dense))
        return result
