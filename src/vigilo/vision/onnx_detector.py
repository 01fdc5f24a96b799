"""An object detector over any supported ONNX layout: letterbox, batched inference, class-aware NMS."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vigilo.vision.detection import Detection
from vigilo.vision.labels import COCO80
from vigilo.vision.layouts import LAYOUTS, Layout, ModelInfo, TensorInfo
from vigilo.vision.letterbox import Placement, place, rect_canvas
from vigilo.vision.runtime import create_session

log = logging.getLogger(__name__)

DEFAULT_INPUT_HW = (640, 640)
MAX_CANDIDATES = 3000


class ModelError(ValueError):
    """A model file that cannot be used, with a sentence saying why."""


@dataclass(frozen=True)
class ModelSummary:
    path: str
    sha256: str
    layout: str
    layout_description: str
    input_hw: tuple[int, int]
    flexible_input: bool
    max_batch: int
    labels: tuple[str, ...]
    providers: tuple[str, ...]


def inspect_model(model: Any) -> ModelInfo:
    """Reads inputs, outputs and metadata from an `onnx.ModelProto`."""
    from onnx import TensorProto

    def tensors(values: Any) -> tuple[TensorInfo, ...]:
        result = []
        for value in values:
            tensor_type = value.type.tensor_type
            dims = tuple(
                d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tensor_type.shape.dim
            )
            dtype = TensorProto.DataType.Name(tensor_type.elem_type).lower()
            result.append(TensorInfo(value.name, dims, dtype))
        return tuple(result)

    initializer_names = {init.name for init in model.graph.initializer}
    inputs = [v for v in model.graph.input if v.name not in initializer_names]
    metadata = {prop.key: prop.value for prop in model.metadata_props}
    return ModelInfo(tensors(inputs), tensors(model.graph.output), metadata)


def _load_proto(path: Path) -> Any:
    import onnx
    from google.protobuf.message import DecodeError

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc.strerror or exc}") from None
    try:
        return onnx.load_from_string(data), data
    except (DecodeError, ValueError, RuntimeError):
        raise ModelError(f"{path} is not an ONNX model") from None


def describe_tensors(info: ModelInfo) -> str:
    ins = ", ".join(f"{t.name}{list(t.shape)}" for t in info.inputs)
    outs = ", ".join(f"{t.name}{list(t.shape)}" for t in info.outputs)
    return f"inputs {ins}; outputs {outs}"


class OnnxDetector:
    """Detects objects with an ONNX model in any layout from `vigilo.vision.layouts`.

    Thread-safe: ONNX Runtime sessions may be run from several threads; the per-call buffers
    are guarded by a lock so concurrent callers do not share them.
    """

    def __init__(
        self,
        model_path: Path,
        *,
        layout: str = "auto",
        labels: Sequence[str] | None = None,
        input_size: tuple[int, int] | None = None,
        providers: list[str] | None = None,
        threads: int = 0,
        batch_size: int = 8,
        nms_iou: float = 0.45,
    ) -> None:
        proto, raw = _load_proto(model_path)
        info = inspect_model(proto)
        if not info.inputs or not info.outputs:
            raise ModelError(f"{model_path} has no inputs or no outputs")
        image = info.image_input
        if len(image.shape) != 4 or image.dim(1) not in (None, 3):
            raise ModelError(
                f"{model_path}: not an image detector (expected a [N, 3, H, W] input); {describe_tensors(info)}"
            )
        declared = info.declared_hw()
        self.input_hw: tuple[int, int] = (
            (input_size[1], input_size[0]) if input_size else declared or _metadata_hw(info) or DEFAULT_INPUT_HW
        )
        self.layout: Layout = _select_layout(info, layout, self.input_hw, model_path)
        self.info = info
        self.path = model_path
        self.sha256 = hashlib.sha256(raw).hexdigest()
        self.nms_iou = nms_iou
        num_classes = self.layout.num_classes(info)
        self.labels: tuple[str, ...] = _resolve_labels(labels, self.layout.class_names(info), num_classes, model_path)
        self._label_index = {name: i for i, name in enumerate(self.labels)}

        batch_dim = image.dim(0)
        flexible = self.layout.prepare(proto) if self.layout.flexible_input or batch_dim == 1 else False
        self.session = create_session(proto.SerializeToString(), providers, threads)
        self.flexible_input = flexible and self.layout.flexible_input and self._probe_flexible()
        if flexible and not self.flexible_input:  # the rewrite did not hold: use the file as it is
            self.session = create_session(raw, providers, threads)
            flexible = False
        self.max_batch = batch_size if (batch_dim != 1 or flexible) else 1
        self.providers = tuple(self.session.get_providers())
        self._lock = threading.Lock()

    # -- public API -------------------------------------------------------------------------------

    def class_ids(self, classes: Sequence[str] | None) -> list[int] | None:
        if classes is None:
            return None
        unknown = [c for c in classes if c not in self._label_index]
        if unknown:
            raise ModelError(f"class(es) {', '.join(map(repr, unknown))} not in the model's labels")
        return [self._label_index[c] for c in classes]

    def detect(
        self,
        images: Sequence[np.ndarray],
        *,
        threshold: float,
        classes: Sequence[str] | None = None,
    ) -> list[list[Detection]]:
        wanted = self.class_ids(classes)
        results: list[list[Detection]] = [[] for _ in images]
        # Images that share a canvas size run together; batch results equal single-image results.
        groups: dict[tuple[int, int], list[int]] = {}
        for index, img in enumerate(images):
            groups.setdefault(self.canvas_hw(img.shape[1], img.shape[0]), []).append(index)
        for canvas_hw, indices in groups.items():
            for start in range(0, len(indices), self.max_batch):
                chunk = indices[start : start + self.max_batch]
                per_image = self._run([images[i] for i in chunk], canvas_hw, threshold, wanted)
                for index, dets in zip(chunk, per_image, strict=True):
                    results[index] = dets
        return results

    def summary(self) -> ModelSummary:
        return ModelSummary(
            path=str(self.path),
            sha256=self.sha256,
            layout=self.layout.name,
            layout_description=self.layout.description,
            input_hw=self.input_hw,
            flexible_input=self.flexible_input,
            max_batch=self.max_batch,
            labels=self.labels,
            providers=self.providers,
        )

    def canvas_hw(self, width: int, height: int) -> tuple[int, int]:
        if not self.flexible_input:
            return self.input_hw
        canvas_w, canvas_h = rect_canvas(width, height, self.input_hw[1], self.input_hw[0])
        return canvas_h, canvas_w

    # -- internals --------------------------------------------------------------------------------

    def _probe_flexible(self) -> bool:
        h, w = self.input_hw
        probe_hw = (max(32, h - 32), w)
        try:
            self._infer(np.zeros((2, 3, *probe_hw), dtype=np.float32), probe_hw)
        except Exception as exc:
            log.info("model keeps its fixed input shape (%s)", exc)
            return False
        return True

    def _infer(self, batch: np.ndarray, canvas_hw: tuple[int, int]) -> list[np.ndarray]:
        feeds = {self.info.image_input.name: batch}
        feeds.update(self.layout.extra_inputs(self.info, batch.shape[0], canvas_hw))
        return list(self.session.run(None, feeds))

    def _preprocess(
        self, images: Sequence[np.ndarray], canvas_hw: tuple[int, int]
    ) -> tuple[np.ndarray, list[Placement]]:
        spec = self.layout.preprocess
        h, w = canvas_hw
        batch = np.empty((len(images), 3, h, w), dtype=np.float32)
        canvas = np.empty((h, w, 3), dtype=np.uint8)
        placements = []
        for i, img in enumerate(images):
            canvas.fill(spec.pad_value)
            placements.append(place(img, canvas, spec.pad_mode))
            pixels = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB) if spec.rgb else canvas
            chw = pixels.transpose(2, 0, 1)
            if spec.scale == 1.0:
                batch[i] = chw
            else:
                np.multiply(chw, np.float32(spec.scale), out=batch[i], casting="unsafe")
        return batch, placements

    def _run(
        self,
        images: Sequence[np.ndarray],
        canvas_hw: tuple[int, int],
        threshold: float,
        wanted: list[int] | None,
    ) -> list[list[Detection]]:
        batch, placements = self._preprocess(images, canvas_hw)
        with self._lock:
            outputs = self._infer(batch, canvas_hw)
        predictions = self.layout.decode(outputs, canvas_hw)
        results = []
        for img, placement, pred in zip(images, placements, predictions, strict=True):
            results.append(
                self._select(pred.boxes, pred.scores, threshold, wanted, placement, img.shape[1], img.shape[0])
            )
        return results

    def _select(
        self,
        boxes: np.ndarray,
        scores: np.ndarray,
        threshold: float,
        wanted: list[int] | None,
        placement: Placement,
        width: int,
        height: int,
    ) -> list[Detection]:
        if wanted is not None:
            scores = scores[:, wanted]
        anchor_idx, column = np.nonzero(scores > threshold)
        if anchor_idx.size == 0:
            return []
        cand_scores = scores[anchor_idx, column]
        if cand_scores.size > MAX_CANDIDATES:
            top = np.argpartition(-cand_scores, MAX_CANDIDATES)[:MAX_CANDIDATES]
            anchor_idx, column, cand_scores = anchor_idx[top], column[top], cand_scores[top]
        class_ids = np.asarray(wanted)[column] if wanted is not None else column
        cand_boxes = placement.to_source(boxes[anchor_idx], width, height)
        keep = np.arange(len(cand_scores))
        if self.layout.needs_nms:
            xywh = np.column_stack((cand_boxes[:, :2], cand_boxes[:, 2:] - cand_boxes[:, :2]))
            keep = np.asarray(
                cv2.dnn.NMSBoxesBatched(
                    xywh.tolist(), cand_scores.tolist(), class_ids.tolist(), threshold, self.nms_iou
                ),
                dtype=np.int64,
            ).reshape(-1)
        order = keep[np.argsort(-cand_scores[keep], kind="stable")]
        return [
            Detection(
                label=self.labels[int(class_ids[i])],
                score=float(cand_scores[i]),
                box=(
                    float(cand_boxes[i, 0]),
                    float(cand_boxes[i, 1]),
                    float(cand_boxes[i, 2]),
                    float(cand_boxes[i, 3]),
                ),
                class_id=int(class_ids[i]),
            )
            for i in order
            if cand_boxes[i, 2] > cand_boxes[i, 0] and cand_boxes[i, 3] > cand_boxes[i, 1]
        ]


def _metadata_hw(info: ModelInfo) -> tuple[int, int] | None:
    raw = info.metadata.get("imgsz")
    if not raw:
        return None
    digits = [int(x) for x in raw.strip("[]() ").replace(",", " ").split() if x.isdigit()]
    if len(digits) == 2:
        return digits[0], digits[1]
    if len(digits) == 1:
        return digits[0], digits[0]
    return None


def _select_layout(info: ModelInfo, requested: str, input_hw: tuple[int, int], path: Path) -> Layout:
    if requested != "auto":
        for layout_cls in LAYOUTS:
            if layout_cls.name == requested:
                return layout_cls()
        known = ", ".join(cls.name for cls in LAYOUTS)
        raise ModelError(f"unknown layout {requested!r}; known layouts: {known}")
    for layout_cls in LAYOUTS:
        if layout_cls.matches(info, input_hw):
            return layout_cls()
    known = ", ".join(cls.name for cls in LAYOUTS)
    raise ModelError(
        f"{path}: output layout not recognised ({describe_tensors(info)}); supported: {known}. "
        "If it is one of these, set detector.layout (and input_size) explicitly."
    )


def _resolve_labels(
    configured: Sequence[str] | None, from_model: list[str] | None, num_classes: int, path: Path
) -> tuple[str, ...]:
    if configured:
        if len(configured) != num_classes:
            raise ModelError(f"{path} predicts {num_classes} classes but {len(configured)} labels are configured")
        return tuple(configured)
    if from_model and len(from_model) == num_classes:
        return tuple(from_model)
    if num_classes == len(COCO80):
        return COCO80
    return tuple(f"class{i}" for i in range(num_classes))
