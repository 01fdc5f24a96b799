"""`vigilo eval blink|headpose|smile`: Vigilo's rules and the seed's, measured in the same run.

Data is read in place from ``../shared/data`` (see its README); the scoring follows
:mod:`vigilo.liveness.evaluate` (whose helpers are reused):

* blink (ZJU Eyeblink, 40 clips): events scored by interval overlap, one-to-one; predictions wholly outside
  a clip's annotated frames are not scored. Vigilo = the session rules over the whole clip, as a session
  started at its first frame would see it (:mod:`vigilo.liveness.analysis`, frame times from the 30 fps clip):
  no blink before the baseline has settled, and no baseline at all when the face is pitched beyond
  `baseline_max_angle` (ZJU's "upward view" clips); the report counts both. Also shown: the per-clip adaptive
  detector of :mod:`vigilo.liveness.evaluate` (open level = the clip's median, so not causal), which measures
  the eye signal itself. Seed = EAR < 0.21 for >= 3 frames (:func:`vigilo.liveness.seed_rules.seed_blinks`).
* headpose (AFLW2000 sample + GENKI-4K): yaw MAE and 3-class turn accuracy at ±15°, labels in Vigilo's sign
  convention; Vigilo = the 3-D fit, seed = the 2-D nose-eye angle. A missed face counts as a wrong class.
* smile (GENKI-4K): accuracy of ``smile >= 0.5``, on the half the model was fitted on (files 1 mod 4), the
  other half (3 mod 4) and all. The seed has no smile rule; the majority class is shown instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vigilo.config.liveness import LivenessThresholds
from vigilo.liveness.analysis import DEFAULT_FPS, SMILE_THRESHOLD, track
from vigilo.liveness.evaluate import (
    BAND_DEG,
    _load_tag_parser,
    _pose_metrics,
    detect_blinks,
    genki_number,
    match_intervals,
    read_genki,
)
from vigilo.liveness.seed_rules import seed_blinks, seed_yaw
from vigilo.liveness.signals import FaceAnalyzer, FaceSignals

Progress = Callable[[], None]


class DataError(Exception):
    """The evaluation data is missing or incomplete."""


def require(data: Path, *parts: str) -> Path:
    path = data.joinpath(*parts)
    if not path.exists():
        raise DataError(f"evaluation data not found: {path} (see --data)")
    return path


def _prf(tp: int, npred: int, ngt: int) -> dict[str, Any]:
    p = tp / npred if npred else 0.0
    r = tp / ngt if ngt else 0.0
    return {
        "precision": p,
        "recall": r,
        "f1": 2 * p * r / (p + r) if p + r else 0.0,
        "tp": tp,
        "pred": npred,
        "gt": ngt,
    }


def eval_blink(
    analyzer: FaceAnalyzer,
    data: Path,
    th: LivenessThresholds,
    limit: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Blink event precision / recall / F1 on ZJU clips 1..40 (the first `limit` of them)."""
    root = require(data, "zju-blink")
    require(data, "tools", "parse_blink_tag.py")
    parser = _load_tag_parser(data)
    clips = sorted(int(p.name) for p in root.iterdir() if p.is_dir() and p.name.isdigit())[: limit or None]
    if not clips:
        raise DataError(f"no ZJU clips in {root}")
    counts = {"vigilo": [0, 0], "vigilo_offline": [0, 0], "seed": [0, 0]}  # tp, pred
    ngt = frames = no_face = before_baseline = 0
    without_baseline: list[int] = []
    per_clip = []
    for n in clips:
        folder = root / str(n)
        mp4, tag = next(folder.glob("*.mp4"), None), next(folder.glob("*.tag"), None)
        if mp4 is None or tag is None:
            raise DataError(f"ZJU clip {folder} lacks its .mp4 or .tag")
        rows = parser.parse(str(tag))
        gt = [tuple(b) for b in parser.blinks(rows)]
        first, last = min(r["frame"] for r in rows), max(r["frame"] for r in rows)
        signals, fps, aspect = _read_clip(analyzer, mp4)
        ear = [(s.eye_openness_left + s.eye_openness_right) / 2.0 if s.faces else math.nan for s in signals]
        tracker = track(signals, th, fps, aspect)
        preds = {
            "vigilo": [(e.start_frame, e.end_frame) for e in tracker.finish() if e.type == "blink"],
            "vigilo_offline": detect_blinks(np.array(ear)),
            "seed": seed_blinks(ear),
        }
        if tracker.baseline_frame is None:
            without_baseline.append(n)
        settled = len(signals) if tracker.baseline_frame is None else tracker.baseline_frame
        before_baseline += sum(a <= settled for a, _ in gt)
        clip: dict[str, Any] = {"clip": n, "gt": gt}
        for name, pred in preds.items():
            scored = [(a, b) for a, b in pred if b >= first and a <= last]
            tp = match_intervals(scored, gt)
            counts[name][0] += tp
            counts[name][1] += len(scored)
            clip[name] = scored
        per_clip.append(clip)
        ngt += len(gt)
        frames += len(signals)
        no_face += sum(s.faces == 0 for s in signals)
        if progress:
            progress()
    return {
        "dataset": "ZJU Eyeblink",
        "clips": len(clips),
        "frames": frames,
        "no_face_frames": no_face,
        "gt_blinks": ngt,
        "clips_without_baseline": without_baseline,
        "gt_blinks_before_baseline": before_baseline,
        **{name: _prf(tp, npred, ngt) for name, (tp, npred) in counts.items()},
        "per_clip": per_clip,
    }


def _read_clip(analyzer: FaceAnalyzer, path: Path) -> tuple[list[FaceSignals], float, float]:
    capture = cv2.VideoCapture(str(path))
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0) or DEFAULT_FPS
    signals: list[FaceSignals] = []
    aspect = 4 / 3
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        aspect = frame.shape[1] / frame.shape[0]
        signals.append(analyzer.analyze(frame))
    capture.release()
    if not signals:
        raise DataError(f"cannot decode {path}")
    return signals, fps, aspect


def _pose_row(analyzer: FaceAnalyzer, path: Path, gt_yaw: float) -> dict[str, Any]:
    image = cv2.imread(str(path))
    if image is None:
        raise DataError(f"cannot read {path}")
    s = analyzer.analyze(image)
    found = s.faces > 0 and s.landmarks is not None
    seed = seed_yaw(s.landmarks, image.shape[1], image.shape[0]) if found and s.landmarks is not None else None
    return {"image": path.name, "gt_yaw": gt_yaw, "vigilo": s.yaw if found else None, "seed": seed}


def _pose_summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(rows)}
    for name in ("vigilo", "seed"):
        m = _pose_metrics([{"gt_yaw": r["gt_yaw"], "pred_yaw": r[name]} for r in rows])
        out[name] = {k: m[k] for k in ("faces_found", "yaw_mae_deg", "yaw_median_ae_deg", "turn3_acc")}
        out[name]["confusion_gt_to_pred"] = m["confusion_gt_to_pred"]
    out["gt_class_counts"] = _pose_metrics([{"gt_yaw": r["gt_yaw"], "pred_yaw": None} for r in rows])["gt_class_counts"]
    return out


def _every_kth(items: list[Any], limit: int | None) -> list[Any]:
    if not limit or limit >= len(items):
        return items
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def eval_headpose(
    analyzer: FaceAnalyzer, data: Path, limit: int | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Yaw MAE and 3-class turn accuracy on AFLW2000 (first `limit`) and GENKI-4K (every k-th, `limit`)."""
    import json

    aflw = json.loads(require(data, "aflw2000", "pose_labels_degrees.json").read_text())
    genki_dir = require(data, "genki4k", "files")
    require(data, "genki4k", "labels.txt")
    sets: dict[str, list[dict[str, Any]]] = {"aflw2000": [], "genki4k": []}
    for lab in aflw[: limit or None]:
        # AFLW2000: yaw > 0 = face toward the image's left, the opposite of Vigilo's convention.
        sets["aflw2000"].append(_pose_row(analyzer, data / "aflw2000" / lab["image"], -float(lab["yaw_deg"])))
        if progress:
            progress()
    for row in _every_kth(read_genki(data), limit):
        # GENKI: yaw < 0 (radians) = face toward the image's left, Vigilo's sign.
        sets["genki4k"].append(_pose_row(analyzer, genki_dir / row[0], math.degrees(row[2])))
        if progress:
            progress()
    return {
        "band_deg": BAND_DEG,
        "aflw2000": _pose_summary(sets["aflw2000"]),
        "genki4k": _pose_summary(sets["genki4k"]),
        "all": _pose_summary(sets["aflw2000"] + sets["genki4k"]),
    }


def eval_smile(
    analyzer: FaceAnalyzer, data: Path, limit: int | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Smile accuracy on GENKI-4K (every k-th image when limited), per half and overall."""
    files = require(data, "genki4k", "files")
    require(data, "genki4k", "labels.txt")
    rows: list[tuple[int, bool, bool]] = []  # file number, label, prediction
    for name, label, *_ in _every_kth(read_genki(data), limit):
        image = cv2.imread(str(files / name))
        if image is None:
            raise DataError(f"cannot read {files / name}")
        s = analyzer.analyze(image)
        # A missed face counts as "not smiling" (a session would not accept it either).
        rows.append((genki_number(name), bool(label), bool(s.faces and s.smile >= SMILE_THRESHOLD)))
        if progress:
            progress()
    fit_half = [r for r in rows if r[0] % 4 == 1]
    majority = bool(np.mean([r[1] for r in fit_half]) >= 0.5) if fit_half else True
    return {
        "dataset": "GENKI-4K",
        "threshold": SMILE_THRESHOLD,
        "fit_half_1mod4": _smile_scores(fit_half, majority),
        "other_half_3mod4": _smile_scores([r for r in rows if r[0] % 4 == 3], majority),
        "all": _smile_scores(rows, majority),
        "seed": None,
        "majority_class": "smiling" if majority else "not smiling",
    }


def _smile_scores(rows: Sequence[tuple[int, bool, bool]], majority: bool) -> dict[str, Any]:
    n = len(rows)
    tp = sum(g and p for _, g, p in rows)
    fp = sum(p and not g for _, g, p in rows)
    fn = sum(g and not p for _, g, p in rows)
    return {
        "n": n,
        "vigilo_acc": sum(g == p for _, g, p in rows) / n if n else None,
        "vigilo_precision": tp / (tp + fp) if tp + fp else None,
        "vigilo_recall": tp / (tp + fn) if tp + fn else None,
        "majority_acc": sum(g == majority for _, g, _ in rows) / n if n else None,
    }
