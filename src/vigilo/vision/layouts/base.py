"""What a model layout is: how to feed a model and how to read its outputs.

Each model family lives in its own module and registers one `Layout` subclass.
"""

from __future__ import annotations

import ast
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from vigilo.vision.letterbox import PadMode


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int | str | None, ...]
    dtype: str

    def dim(self, index: int) -> int | None:
        value = self.shape[index] if -len(self.shape) <= index < len(self.shape) else None
        return value if isinstance(value, int) and value > 0 else None


@dataclass(frozen=True)
class ModelInfo:
    """What can be read off an ONNX file without running it."""

    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def image_input(self) -> TensorInfo:
        """The 4-D float input (the image); models may have extra inputs such as target sizes."""
        for tensor in self.inputs:
            if len(tensor.shape) == 4:
                return tensor
        return self.inputs[0]

    def declared_hw(self) -> tuple[int, int] | None:
        image = self.image_input
        if len(image.shape) != 4:
            return None
        h, w = image.dim(2), image.dim(3)
        return (h, w) if h and w else None

    def metadata_names(self) -> list[str] | None:
        """Class names from Ultralytics-style metadata (`names: {0: 'person', ...}`)."""
        raw = self.metadata.get("names")
        if not raw:
            return None
        try:
            parsed = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            return None
        if isinstance(parsed, dict):
            return [str(parsed[k]) for k in sorted(parsed)]
        if isinstance(parsed, list | tuple):
            return [str(v) for v in parsed]
        return None


@dataclass(frozen=True)
class Preprocess:
    rgb: bool  # channel order the network expects
    scale: float  # multiply 0..255 pixels by this
    pad_mode: PadMode
    pad_value: int


@dataclass
class Predictions:
    """Dense predictions for one image: xyxy boxes on the network canvas and per-class scores."""

    boxes: np.ndarray  # (A, 4) float32
    scores: np.ndarray  # (A, C) float32


class Layout(ABC):
    """A model family's input convention and output decoding."""

    name: ClassVar[str]
    description: ClassVar[str]
    preprocess: ClassVar[Preprocess]
    needs_nms: ClassVar[bool] = True
    # True when the network's H and W may differ from what the file declares (fully convolutional).
    flexible_input: ClassVar[bool] = False

    @classmethod
    @abstractmethod
    def matches(cls, info: ModelInfo, input_hw: tuple[int, int]) -> bool:
        """Whether the file looks like this family at the given input size."""

    @abstractmethod
    def num_classes(self, info: ModelInfo) -> int: ...

    @abstractmethod
    def decode(self, outputs: list[np.ndarray], input_hw: tuple[int, int]) -> list[Predictions]:
        """Per image of the batch, dense predictions in canvas pixels."""

    def class_names(self, info: ModelInfo) -> list[str] | None:
        return info.metadata_names()

    def extra_inputs(self, info: ModelInfo, batch: int, input_hw: tuple[int, int]) -> dict[str, np.ndarray]:
        return {}

    def prepare(self, model: object) -> bool:
        """Rewrites the in-memory ONNX graph if needed; returns True when batch > 1 now works."""
        return False


def grid_cells(input_hw: tuple[int, int], strides: tuple[int, ...]) -> int:
    h, w = input_hw
    return sum((h // s) * (w // s) for s in strides)


def cxcywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    out = np.empty_like(boxes)
    half_w, half_h = boxes[..., 2] / 2, boxes[..., 3] / 2
    out[..., 0] = boxes[..., 0] - half_w
    out[..., 1] = boxes[..., 1] - half_h
    out[..., 2] = boxes[..., 0] + half_w
    out[..., 3] = boxes[..., 1] + half_h
    return out
