"""YOLOX (Megvii): one output [N, A, 5 + C], raw grid offsets, BGR 0..255, top-left letterbox pad 114.

Also accepts exports made with `--decode_in_inference` (boxes already in pixels).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from vigilo.vision.layouts.base import Layout, ModelInfo, Predictions, Preprocess, cxcywh_to_xyxy, grid_cells

STRIDES = (8, 16, 32)


class YoloxLayout(Layout):
    name: ClassVar[str] = "yolox"
    description: ClassVar[str] = "YOLOX: [N, anchors, 5 + classes], objectness x class score, strides 8/16/32"
    preprocess = Preprocess(rgb=False, scale=1.0, pad_mode="top_left", pad_value=114)
    flexible_input = True

    def __init__(self) -> None:
        self._grids: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        self.decoded_in_graph: bool | None = None

    @classmethod
    def matches(cls, info: ModelInfo, input_hw: tuple[int, int]) -> bool:
        if len(info.outputs) != 1 or len(info.outputs[0].shape) != 3:
            return False
        anchors, width = info.outputs[0].dim(1), info.outputs[0].dim(2)
        if width is None or width < 6:
            return False
        return anchors is None or anchors == grid_cells(input_hw, STRIDES)

    def num_classes(self, info: ModelInfo) -> int:
        width = info.outputs[0].dim(2)
        assert width is not None
        return width - 5

    def _grid(self, input_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        cached = self._grids.get(input_hw)
        if cached is None:
            cells, strides = [], []
            for stride in STRIDES:
                gh, gw = input_hw[0] // stride, input_hw[1] // stride
                ys, xs = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
                cells.append(np.stack((xs, ys), axis=-1).reshape(-1, 2))
                strides.append(np.full((gh * gw, 1), stride))
            cached = (np.concatenate(cells).astype(np.float32), np.concatenate(strides).astype(np.float32))
            self._grids[input_hw] = cached
        return cached

    def decode(self, outputs: list[np.ndarray], input_hw: tuple[int, int]) -> list[Predictions]:
        raw = outputs[0]
        if self.decoded_in_graph is None:
            # Raw heads predict log-sizes (small numbers); decoded graphs give pixel sizes.
            self.decoded_in_graph = bool(np.median(np.abs(raw[0, :, 2:4])) > 8.0)
        result = []
        for pred in raw:
            if self.decoded_in_graph:
                centres, sizes = pred[:, :2], pred[:, 2:4]
            else:
                grid, stride = self._grid(input_hw)
                centres = (pred[:, :2] + grid) * stride
                sizes = np.exp(np.minimum(pred[:, 2:4], 20.0)) * stride
            boxes = cxcywh_to_xyxy(np.concatenate((centres, sizes), axis=1))
            scores = pred[:, 5:] * pred[:, 4:5]
            result.append(Predictions(boxes.astype(np.float32), scores.astype(np.float32)))
        return result

    def prepare(self, model: Any) -> bool:
        """Lets the stock export take any batch and any stride-aligned size, in memory only.

        The exported graph reshapes each head to [1, 5 + C, -1]; a leading 0 ("copy the input's
        dimension") makes the batch size free. The file on disk is never changed.
        """
        from onnx import numpy_helper

        initializers = {init.name: init for init in model.graph.initializer}
        patched = 0
        for node in model.graph.node:
            if node.op_type != "Reshape" or node.input[1] not in initializers:
                continue
            shape = numpy_helper.to_array(initializers[node.input[1]]).copy()
            if shape.ndim == 1 and len(shape) == 3 and shape[0] == 1:
                shape[0] = 0
                initializers[node.input[1]].CopyFrom(numpy_helper.from_array(shape, node.input[1]))
                patched += 1
        image_dims = model.graph.input[0].type.tensor_type.shape.dim
        for index, symbol in ((0, "batch"), (2, "height"), (3, "width")):
            image_dims[index].dim_param = symbol
        out_dims = model.graph.output[0].type.tensor_type.shape.dim
        out_dims[0].dim_param, out_dims[1].dim_param = "batch", "anchors"
        del model.graph.value_info[:]
        return patched > 0 or not any(n.op_type == "Reshape" for n in model.graph.node)
