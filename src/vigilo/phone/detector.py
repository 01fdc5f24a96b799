"""The phone detector: a full-frame pass plus an optional zoomed pass on person crops."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from vigilo.config import DetectorConfig, ZoomConfig
from vigilo.vision.detection import Detection
from vigilo.vision.models import DEFAULT_DETECTOR
from vigilo.vision.onnx_detector import ModelError, OnnxDetector

PERSON = "person"


@dataclass(frozen=True)
class Crop:
    x1: int
    y1: int
    x2: int
    y2: int


class PhoneDetector:
    """Finds phones (or whatever `classes` names) in BGR images; boxes in source pixels."""

    def __init__(self, detector: OnnxDetector, config: DetectorConfig) -> None:
        self.detector = detector
        self.config = config
        self.classes = list(config.classes)
        detector.class_ids(self.classes)  # fail now, with the label list, if a class is unknown
        self.zoom: ZoomConfig | None = config.zoom if config.zoom.enabled else None
        if self.zoom is not None and self.zoom.mode == "persons" and PERSON not in detector.labels:
            raise ModelError("detector.zoom needs a model with a 'person' class")

    @classmethod
    def from_config(cls, config: DetectorConfig) -> PhoneDetector:
        path = config.model if config.model is not None else DEFAULT_DETECTOR.verify()
        detector = OnnxDetector(
            path,
            layout=config.layout,
            labels=config.labels,
            input_size=config.input_size,
            providers=config.providers,
            threads=config.threads,
            batch_size=config.batch_size,
            nms_iou=config.nms_iou,
        )
        return cls(detector, config)

    @property
    def batch_size(self) -> int:
        return self.detector.max_batch

    def detect(self, images: Sequence[np.ndarray], threshold: float | None = None) -> list[list[Detection]]:
        threshold = self.config.threshold if threshold is None else threshold
        if self.zoom is None:
            return self.detector.detect(images, threshold=threshold, classes=self.classes)
        if self.zoom.mode == "persons":
            first_threshold = min(threshold, self.zoom.person_threshold)
            full = self.detector.detect(images, threshold=first_threshold, classes=[*self.classes, PERSON])
            crops_per_image = [self._person_crops(img, dets) for img, dets in zip(images, full, strict=True)]
        else:
            full = self.detector.detect(images, threshold=threshold, classes=self.classes)
            crops_per_image = [self._tiles(img) for img in images]
        crop_images = [
            img[c.y1 : c.y2, c.x1 : c.x2] for img, crops in zip(images, crops_per_image, strict=True) for c in crops
        ]
        crop_results = iter(self.detector.detect(crop_images, threshold=threshold, classes=self.classes))
        merged = []
        for dets, crops in zip(full, crops_per_image, strict=True):
            found = [d for d in dets if d.label != PERSON and d.score >= threshold]
            for crop in crops:
                found.extend(_shift(d, crop) for d in next(crop_results))
            merged.append(self._merge(found))
        return merged

    def _tiles(self, image: np.ndarray) -> list[Crop]:
        assert self.zoom is not None
        height, width = image.shape[:2]
        n, overlap = self.zoom.grid, self.zoom.overlap
        tile_w = int(width / (n - (n - 1) * overlap))
        tile_h = int(height / (n - (n - 1) * overlap))
        xs = np.linspace(0, width - tile_w, n).astype(int)
        ys = np.linspace(0, height - tile_h, n).astype(int)
        return [Crop(int(x), int(y), int(x) + tile_w, int(y) + tile_h) for y in ys for x in xs]

    def _person_crops(self, image: np.ndarray, detections: list[Detection]) -> list[Crop]:
        assert self.zoom is not None
        height, width = image.shape[:2]
        persons = [
            d
            for d in detections
            if d.label == PERSON
            and d.score >= self.zoom.person_threshold
            and d.box[3] - d.box[1] >= self.zoom.min_person_height
        ]
        persons.sort(key=lambda d: d.area, reverse=True)
        crops = []
        for person in persons[: self.zoom.max_crops]:
            x1, y1, x2, y2 = person.box
            mx, my = (x2 - x1) * self.zoom.margin, (y2 - y1) * self.zoom.margin
            crop = Crop(
                max(0, int(x1 - mx)),
                max(0, int(y1 - my)),
                min(width, int(x2 + mx)),
                min(height, int(y2 + my)),
            )
            # A crop covering most of the frame would only repeat the full-frame pass.
            if (crop.x2 - crop.x1) * (crop.y2 - crop.y1) < 0.6 * width * height:
                crops.append(crop)
        return crops

    def _merge(self, detections: list[Detection]) -> list[Detection]:
        if len(detections) < 2:
            return detections
        xywh = [[d.box[0], d.box[1], d.box[2] - d.box[0], d.box[3] - d.box[1]] for d in detections]
        keep = cv2.dnn.NMSBoxesBatched(
            xywh, [d.score for d in detections], [d.class_id for d in detections], 0.0, self.config.nms_iou
        )
        kept = [detections[int(i)] for i in np.asarray(keep).reshape(-1)]
        return sorted(kept, key=lambda d: d.score, reverse=True)

    def close(self) -> None:
        pass


def _shift(detection: Detection, crop: Crop) -> Detection:
    x1, y1, x2, y2 = detection.box
    return Detection(
        detection.label,
        detection.score,
        (x1 + crop.x1, y1 + crop.y1, x2 + crop.x1, y2 + crop.y1),
        detection.class_id,
    )
