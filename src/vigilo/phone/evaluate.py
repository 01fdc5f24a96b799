"""Accuracy of the phone detector on labelled images: AP@0.5, recall at precision 0.9, image level P/R.

Ground truth comes as YOLO txt files (`class cx cy w h`, normalised; one file per image, same stem)
or as a centre-point list (`name.jpg cx cy`, normalised), where a detection counts when it covers
the centre. Images without a label file are negatives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vigilo.phone.detector import PhoneDetector
from vigilo.vision.detection import Detection
from vigilo.vision.imageio import IMAGE_SUFFIXES, ImageError, read_image

IOU_MATCH = 0.5


@dataclass
class Truth:
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)  # pixels, xyxy
    centres: list[tuple[float, float]] = field(default_factory=list)  # pixels

    @property
    def count(self) -> int:
        return len(self.boxes) + len(self.centres)


@dataclass(frozen=True)
class EvalReport:
    images: int
    positives: int  # ground-truth phones
    positive_images: int
    ap50: float
    recall_at_p90: float
    image_precision: float
    image_recall: float
    image_threshold: float
    seconds: float
    unreadable: int

    def to_json(self) -> dict[str, float | int]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match(detections: list[Detection], truth: Truth) -> list[bool]:
    """Greedy one-to-one matching by descending score: True where a detection is a true positive."""
    used_boxes: set[int] = set()
    used_centres: set[int] = set()
    hits = []
    for det in sorted(detections, key=lambda d: d.score, reverse=True):
        best, best_iou = -1, IOU_MATCH
        for i, box in enumerate(truth.boxes):
            overlap = iou(det.box, box)
            if i not in used_boxes and overlap >= best_iou:
                best, best_iou = i, overlap
        if best >= 0:
            used_boxes.add(best)
            hits.append(True)
            continue
        x1, y1, x2, y2 = det.box
        centre = next(
            (
                i
                for i, (cx, cy) in enumerate(truth.centres)
                if i not in used_centres and x1 <= cx <= x2 and y1 <= cy <= y2
            ),
            None,
        )
        if centre is not None:
            used_centres.add(centre)
        hits.append(centre is not None)
    return hits


def average_precision(scores: np.ndarray, hits: np.ndarray, positives: int) -> tuple[float, float]:
    """(AP with all-point interpolation, best recall with precision >= 0.9)."""
    if positives == 0 or scores.size == 0:
        return 0.0, 0.0
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(hits[order])
    fp = np.cumsum(~hits[order])
    recall = tp / positives
    precision = tp / np.maximum(tp + fp, 1)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    recall_steps = np.concatenate(([0.0], recall))
    ap = float(np.sum((recall_steps[1:] - recall_steps[:-1]) * envelope))
    ok = precision >= 0.9
    return ap, float(recall[ok].max()) if ok.any() else 0.0


def yolo_truth(label_dir: Path, phone_class: int) -> Callable[[Path, int, int], Truth]:
    """Label files found anywhere under `label_dir`, matched to images by file stem."""
    index = {p.stem: p for p in label_dir.rglob("*.txt")}

    def load(image: Path, width: int, height: int) -> Truth:
        truth = Truth()
        label = index.get(image.stem)
        if label is None:
            return truth
        for line in label.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 5 and int(float(parts[0])) == phone_class:
                cx, cy, w, h = (float(v) for v in parts[1:5])
                truth.boxes.append(
                    ((cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height)
                )
        return truth

    return load


def centre_truth(labels_file: Path) -> Callable[[Path, int, int], Truth]:
    centres: dict[str, tuple[float, float]] = {}
    for line in labels_file.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3:
            centres[parts[0]] = (float(parts[1]), float(parts[2]))

    def load(image: Path, width: int, height: int) -> Truth:
        point = centres.get(image.name)
        return Truth(centres=[(point[0] * width, point[1] * height)] if point else [])

    return load


def labelled_images(image_dir: Path) -> list[Path]:
    return sorted(p for p in image_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def evaluate(
    detector: PhoneDetector,
    images: list[Path],
    truth_for: Callable[[Path, int, int], Truth],
    *,
    score_floor: float = 0.05,
    image_threshold: float | None = None,
    progress: Callable[[], None] | None = None,
) -> EvalReport:
    """Runs the detector at a low floor so the whole precision/recall curve is seen."""
    import time

    image_threshold = detector.config.threshold if image_threshold is None else image_threshold
    all_scores: list[float] = []
    all_hits: list[bool] = []
    positives = positive_images = unreadable = 0
    image_tp = image_fp = 0
    started = time.perf_counter()
    for batch in _batches(images, detector.batch_size):
        loaded = []
        for path in batch:
            try:
                loaded.append((path, read_image(path, 100_000_000)))
            except ImageError:
                unreadable += 1
        results = detector.detect([img for _, img in loaded], score_floor)
        for (path, img), dets in zip(loaded, results, strict=True):
            truth = truth_for(path, img.shape[1], img.shape[0])
            positives += truth.count
            positive_images += truth.count > 0
            all_scores.extend(d.score for d in dets)
            all_hits.extend(match(dets, truth))
            alarmed = any(d.score >= image_threshold for d in dets)
            image_tp += alarmed and truth.count > 0
            image_fp += alarmed and truth.count == 0
            if progress:
                progress()
    ap, recall90 = average_precision(np.asarray(all_scores), np.asarray(all_hits, dtype=bool), positives)
    return EvalReport(
        images=len(images) - unreadable,
        positives=positives,
        positive_images=positive_images,
        ap50=ap,
        recall_at_p90=recall90,
        image_precision=image_tp / (image_tp + image_fp) if image_tp + image_fp else 0.0,
        image_recall=image_tp / positive_images if positive_images else 0.0,
        image_threshold=image_threshold,
        seconds=time.perf_counter() - started,
        unreadable=unreadable,
    )


def _batches(items: list[Path], size: int) -> Iterator[list[Path]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
