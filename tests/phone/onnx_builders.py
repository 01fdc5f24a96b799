"""Tiny ONNX models with known outputs, one per supported layout, built with onnx.helper.

Each model returns fixed tensors (plus 0 x the input, so the input is really consumed); the
tests then check that decoding and letterbox mapping put the box where the layout says.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

COCO_NAMES = {i: f"class{i}" for i in range(80)} | {0: "person", 67: "cell phone"}


def _zero_from(input_name: str, nodes: list[onnx.NodeProto], tag: str, cast: bool = False) -> str:
    source = input_name
    if cast:
        nodes.append(helper.make_node("Cast", [input_name], [f"{tag}_f"], to=TensorProto.FLOAT))
        source = f"{tag}_f"
    nodes.append(helper.make_node("ReduceSum", [source], [f"{tag}_sum"], keepdims=0))
    nodes.append(helper.make_node("Mul", [f"{tag}_sum", f"{tag}_zero"], [f"{tag}_zeroed"]))
    return f"{tag}_zeroed"


def build(
    path: Path,
    outputs: dict[str, np.ndarray],
    *,
    input_hw: tuple[int, int] = (640, 640),
    metadata: dict[str, str] | None = None,
    extra_int64_input: str | None = None,
    image_shape: list[int] | None = None,
) -> Path:
    nodes: list[onnx.NodeProto] = []
    initializers = []
    inputs = [
        helper.make_tensor_value_info("images", TensorProto.FLOAT, image_shape or [1, 3, *input_hw]),
    ]
    zero_names = [_zero_from("images", nodes, "img")]
    initializers.append(numpy_helper.from_array(np.zeros((), np.float32), "img_zero"))
    if extra_int64_input:
        inputs.append(helper.make_tensor_value_info(extra_int64_input, TensorProto.INT64, [1, 2]))
        zero_names.append(_zero_from(extra_int64_input, nodes, "ext", cast=True))
        initializers.append(numpy_helper.from_array(np.zeros((), np.float32), "ext_zero"))
    graph_outputs = []
    for name, value in outputs.items():
        const = f"{name}_const"
        initializers.append(numpy_helper.from_array(value.astype(np.float32), const))
        current = const
        for i, zero in enumerate(zero_names):
            nodes.append(helper.make_node("Add", [current, zero], [f"{name}_{i}"]))
            current = f"{name}_{i}"
        if value.dtype == np.int64:
            nodes.append(helper.make_node("Cast", [current], [name], to=TensorProto.INT64))
            elem = TensorProto.INT64
        else:
            nodes.append(helper.make_node("Identity", [current], [name]))
            elem = TensorProto.FLOAT
        graph_outputs.append(helper.make_tensor_value_info(name, elem, list(value.shape)))
    graph = helper.make_graph(nodes, "synthetic", inputs, graph_outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def cells(h: int, w: int, strides: tuple[int, ...] = (8, 16, 32)) -> int:
    return sum((h // s) * (w // s) for s in strides)
