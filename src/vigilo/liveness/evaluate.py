"""Measure the face signals of :mod:`vigilo.liveness.signals` on the shared evaluation data.

Reads ``../shared/data`` (or ``--data``) in place; nothing is copied into the repository.

    .venv/bin/python -m vigilo.liveness.evaluate --data ../shared/data --out /tmp/face_eval.json
    .venv/bin/python -m vigilo.liveness.evaluate --only smile --fit-smile   # refit the smile model

Metrics
-------
* pose: yaw MAE (degrees) and 3-class head-turn accuracy on AFLW2000 (8 images) and GENKI-4K.
  Labels are converted to Vigilo's convention (yaw > 0 = subject turned to their own left):
  AFLW2000 yaw > 0 means face toward image left, so ``vigilo = -aflw``; GENKI yaw < 0 means face
  toward image left, so ``vigilo = +genki`` (radians → degrees). Classes: left if yaw > +BAND,
  right if yaw < -BAND, else frontal, applied to label and prediction alike (BAND = 15°).
* smile: GENKI-4K accuracy. The logistic smile model is fitted on files whose number is 1 mod 4 and
  reported on files 3 mod 4 (the shared copy holds only odd-numbered files).
* blink: ZJU eyeblink, per-clip adaptive detector on mean eye openness, events scored by interval
  overlap with one-to-one matching; F1 over all clips and per half (subjects 1-5 / 6-10).
* timing: p50/p90 of ``FaceAnalyzer.analyze`` on 640x480 frames cut from the talking-head clip.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vigilo.liveness.pose import fit_pose, landmarks_to_camera
from vigilo.liveness.signals import FaceAnalyzer, FaceSignals, smile_features

BAND_DEG = 15.0
DEFAULT_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"


def turn_class(yaw_deg: float, band: float = BAND_DEG) -> str:
    if yaw_deg > band:
        return "left"
    if yaw_deg < -band:
        return "right"
    return "frontal"


def _pose_metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    found = [r for r in rows if r["pred_yaw"] is not None]
    errs = [abs(r["pred_yaw"] - r["gt_yaw"]) for r in found]
    # A missed face counts as a wrong class.
    correct = sum(turn_class(r["pred_yaw"]) == turn_class(r["gt_yaw"]) for r in found)
    classes = {c: sum(turn_class(r["gt_yaw"]) == c for r in rows) for c in ("left", "frontal", "right")}
    # Labels within 5° of the band edge are ambiguous (label noise of a few degrees flips them);
    # reported separately, never instead of the plain accuracy.
    clear = [r for r in rows if abs(abs(r["gt_yaw"]) - BAND_DEG) > 5.0]
    clear_ok = sum(r["pred_yaw"] is not None and turn_class(r["pred_yaw"]) == turn_class(r["gt_yaw"]) for r in clear)
    confusion: dict[str, dict[str, int]] = {}
    for r in rows:
        pc = turn_class(r["pred_yaw"]) if r["pred_yaw"] is not None else "no_face"
        row = confusion.setdefault(turn_class(r["gt_yaw"]), {})
        row[pc] = row.get(pc, 0) + 1
    return {
        "n": len(rows),
        "faces_found": len(found),
        "turn3_acc_labels_not_within_5deg_of_band": clear_ok / len(clear) if clear else None,
        "n_labels_not_within_5deg_of_band": len(clear),
        "confusion_gt_to_pred": confusion,
        "yaw_mae_deg": float(np.mean(errs)) if errs else None,
        "yaw_median_ae_deg": float(np.median(errs)) if errs else None,
        "turn3_acc": correct / len(rows) if rows else None,
        "turn3_acc_found_only": correct / len(found) if found else None,
        "gt_class_counts": classes,
    }


def eval_aflw(analyzer: FaceAnalyzer, data: Path) -> dict[str, Any]:
    labels = json.loads((data / "aflw2000" / "pose_labels_degrees.json").read_text())
    rows = []
    for lab in labels:
        img = cv2.imread(str(data / "aflw2000" / lab["image"]))
        s = analyzer.analyze(img)
        rows.append(
            {
                "image": lab["image"],
                "gt_yaw": -float(lab["yaw_deg"]),
                "gt_pitch": float(lab["pitch_deg"]),
                "pred_yaw": s.yaw if s.faces else None,
                "pred_pitch": s.pitch if s.faces else None,
            }
        )
    out = _pose_metrics(rows)
    perr = [abs(r["pred_pitch"] - r["gt_pitch"]) for r in rows if r["pred_pitch"] is not None]
    out["pitch_mae_deg"] = float(np.mean(perr)) if perr else None
    out["rows"] = rows
    return out


def read_genki(data: Path) -> list[tuple[str, int, float, float, float]]:
    out = []
    for line in (data / "genki4k" / "labels.txt").read_text().splitlines():
        p = line.split()
        if len(p) >= 5:
            out.append((p[0], int(p[1]), float(p[2]), float(p[3]), float(p[4])))
    return out


def genki_number(name: str) -> int:
    return int("".join(ch for ch in name if ch.isdigit()))


def genki_signals(
    analyzer: FaceAnalyzer, data: Path, limit: int | None = None
) -> list[tuple[tuple[str, int, float, float, float], FaceSignals, np.ndarray | None]]:
    """(label row, signals, smile features or None) for GENKI images (every k-th when limited)."""
    labels = read_genki(data)
    if limit and limit < len(labels):
        step = len(labels) / limit
        labels = [labels[int(i * step)] for i in range(limit)]
    out = []
    for row in labels:
        img = cv2.imread(str(data / "genki4k" / "files" / row[0]))
        if img is None:
            continue
        s = analyzer.analyze(img)
        feats = None
        if s.faces and s.landmarks is not None:
            h, w = img.shape[:2]
            cam = landmarks_to_camera(s.landmarks.astype(np.float64), w, h)
            feats = smile_features(fit_pose(cam).inverse_apply(cam[:468]))
        out.append((row, s, feats))
    return out


def eval_genki_pose(items: Sequence[tuple[Any, FaceSignals, Any]]) -> dict[str, Any]:
    rows = [{"gt_yaw": math.degrees(row[2]), "pred_yaw": s.yaw if s.faces else None} for row, s, _ in items]
    return _pose_metrics(rows)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, iters: int = 200) -> tuple[np.ndarray, float]:
    """Plain Newton-iteration logistic regression (x already standardized)."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -50, 50)))
        g = xb.T @ (p - y) + l2 * np.r_[w[:-1], 0.0]
        hmat = (xb * (p * (1 - p))[:, None]).T @ xb + l2 * np.eye(len(w))
        step = np.linalg.solve(hmat, g)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])


def eval_smile(items: Sequence[tuple[Any, FaceSignals, Any]], fit: bool) -> dict[str, Any]:
    def split(mod: int) -> list[tuple[Any, FaceSignals, Any]]:
        return [it for it in items if genki_number(it[0][0]) % 4 == mod]

    train, test = split(1), split(3)
    out: dict[str, Any] = {"n_train": len(train), "n_test": len(test)}
    if fit:
        tr = [it for it in train if it[2] is not None]
        x = np.array([it[2] for it in tr])
        y = np.array([it[0][1] for it in tr], dtype=np.float64)
        mean, std = x.mean(0), x.std(0) + 1e-12
        w, b = fit_logistic((x - mean) / std, y)
        out["fitted"] = {"mean": mean.tolist(), "std": std.tolist(), "w": w.tolist(), "b": b}

    def acc(part: Sequence[tuple[Any, FaceSignals, Any]]) -> dict[str, Any]:
        # A missed face is scored as "not smiling" (the decision layer would not accept it either).
        pred = [bool(s.faces and s.smile >= 0.5) for _, s, _ in part]
        gt = [bool(row[1]) for row, _, _ in part]
        tp = sum(p and g for p, g in zip(pred, gt, strict=True))
        fp = sum(p and not g for p, g in zip(pred, gt, strict=True))
        fn = sum(g and not p for p, g in zip(pred, gt, strict=True))
        return {
            "n": len(part),
            "faces_found": sum(bool(s.faces) for _, s, _ in part),
            "acc": sum(p == g for p, g in zip(pred, gt, strict=True)) / len(part) if part else None,
            "precision": tp / (tp + fp) if tp + fp else None,
            "recall": tp / (tp + fn) if tp + fn else None,
        }

    out["train_1mod4"] = acc(train)
    out["test_3mod4"] = acc(test)
    return out


# -- blink ------------------------------------------------------------------------------------------


def _load_tag_parser(data: Path) -> Any:
    spec = importlib.util.spec_from_file_location("parse_blink_tag", data / "tools" / "parse_blink_tag.py")
    if spec is None or spec.loader is None:
        raise RuntimeError("cannot load parse_blink_tag.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def detect_blinks(
    ear: np.ndarray, ratio: float = 0.82, min_gap: int = 2, min_len: int = 2, max_len: int = 30
) -> list[tuple[int, int]]:
    """Per-clip adaptive blink detector on a per-frame eye-openness series (NaN = no face).

    Open-eye baseline = median over the clip; a frame is "closed" below ``ratio * baseline``;
    closed runs separated by fewer than ``min_gap`` open frames are merged; runs shorter than
    ``min_len`` or longer than ``max_len`` frames (≈ 1 s at 30 fps) are not blinks. The defaults were
    chosen on ZJU subjects 1-5 only (middle of the plateau of a small grid), see docs/liveness-signals.md.
    """
    valid = ear[~np.isnan(ear)]
    if len(valid) == 0:
        return []
    base = float(np.median(valid))
    closed = np.nan_to_num(ear, nan=base) < ratio * base
    runs: list[tuple[int, int]] = []
    i = 0
    n = len(closed)
    while i < n:
        if closed[i]:
            j = i
            while j + 1 < n and closed[j + 1]:
                j += 1
            if runs and i - runs[-1][1] - 1 < min_gap:
                runs[-1] = (runs[-1][0], j)
            else:
                runs.append((i, j))
            i = j + 1
        else:
            i += 1
    return [r for r in runs if min_len <= r[1] - r[0] + 1 <= max_len]


def match_intervals(pred: Sequence[tuple[int, int]], gt: Sequence[tuple[int, int]]) -> int:
    """Number of one-to-one matches between overlapping intervals (greedy by overlap length)."""
    pairs = []
    for i, (a, b) in enumerate(pred):
        for j, (c, d) in enumerate(gt):
            ov = min(b, d) - max(a, c) + 1
            if ov > 0:
                pairs.append((ov, i, j))
    used_p: set[int] = set()
    used_g: set[int] = set()
    tp = 0
    for _, i, j in sorted(pairs, reverse=True):
        if i not in used_p and j not in used_g:
            used_p.add(i)
            used_g.add(j)
            tp += 1
    return tp


def zju_series(analyzer: FaceAnalyzer, data: Path, clips: Sequence[int] | None = None) -> list[dict[str, Any]]:
    parser = _load_tag_parser(data)
    root = data / "zju-blink"
    out = []
    for n in clips or range(1, 41):
        d = root / str(n)
        mp4 = next(d.glob("*.mp4"))
        tag = next(d.glob("*.tag"))
        rows = parser.parse(str(tag))
        cap = cv2.VideoCapture(str(mp4))
        el, er, nf = [], [], 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            s = analyzer.analyze(frame)
            if s.faces:
                el.append(s.eye_openness_left)
                er.append(s.eye_openness_right)
            else:
                nf += 1
                el.append(math.nan)
                er.append(math.nan)
        cap.release()
        out.append(
            {
                "clip": n,
                "subject": (n - 1) // 4 + 1,
                "frames": len(el),
                "no_face_frames": nf,
                "ear_left": el,
                "ear_right": er,
                "gt": [tuple(b) for b in parser.blinks(rows)],
                "tag_first": min(r["frame"] for r in rows),
                "tag_last": max(r["frame"] for r in rows),
                "tag_nonfrontal": sum(r["nf"] == "N" for r in rows),
                "tag_eye_not_visible": sum(r["le_nv"] == "N" or r["re_nv"] == "N" for r in rows),
            }
        )
    return out


def blink_scores(
    series: Sequence[dict[str, Any]], detector: Callable[[np.ndarray], list[tuple[int, int]]]
) -> dict[str, Any]:
    def score(part: Sequence[dict[str, Any]]) -> dict[str, Any]:
        tp = npred = ngt = outside = 0
        for c in part:
            ear = np.nanmean(np.vstack([c["ear_left"], c["ear_right"]]), axis=0)
            # Frames outside the annotated range carry no labels: events wholly outside are not scored
            # (counted in "pred_outside_annotation"; "f1_outside_as_fp" scores them as false positives).
            allp = detector(ear)
            pred = [(a, b) for a, b in allp if b >= c["tag_first"] and a <= c["tag_last"]]
            outside += len(allp) - len(pred)
            tp += match_intervals(pred, c["gt"])
            npred += len(pred)
            ngt += len(c["gt"])

        def f1(tp: int, npred: int, ngt: int) -> tuple[float, float, float]:
            p = tp / npred if npred else 0.0
            r = tp / ngt if ngt else 0.0
            return p, r, (2 * p * r / (p + r) if p + r else 0.0)

        p, r, f = f1(tp, npred, ngt)
        return {
            "gt": ngt,
            "pred": npred,
            "tp": tp,
            "precision": p,
            "recall": r,
            "f1": f,
            "pred_outside_annotation": outside,
            "f1_outside_as_fp": f1(tp, npred + outside, ngt)[2],
        }

    return {
        "all": score(series),
        "subjects_1_5": score([c for c in series if c["subject"] <= 5]),
        "subjects_6_10": score([c for c in series if c["subject"] > 5]),
    }


# -- timing -----------------------------------------------------------------------------------------


def eval_timing(analyzer: FaceAnalyzer, data: Path, passes: int = 3) -> dict[str, Any]:
    """p50/p90 of ``analyze`` on 640x480 frames (4:3 centre crop of the talking-head clip, resized).

    Each frame is also run through the bare MediaPipe ``process`` call right after, interleaved, so
    both numbers see the same machine load; the difference is Vigilo's own work.
    """
    cap = cv2.VideoCapture(str(data / "clips" / "3ddfa_obama" / "obama.mp4"))
    imgs: list[np.ndarray] = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        h, w = f.shape[:2]
        cw = h * 4 // 3
        x0 = (w - cw) // 2
        imgs.append(cv2.resize(f[:, x0 : x0 + cw], (640, 480), interpolation=cv2.INTER_AREA))
    cap.release()
    for im in imgs[:5]:
        analyzer.analyze(im)
    times: list[float] = []
    bare: list[float] = []
    found = 0
    for _ in range(passes):
        for im in imgs:
            t0 = time.perf_counter()
            s = analyzer.analyze(im)
            times.append((time.perf_counter() - t0) * 1000)
            found += s.faces > 0
            rgb = cv2.cvtColor(im, cv2.COLOR_BGR2RGB)
            m = analyzer._acquire()
            try:
                t0 = time.perf_counter()
                m.process(rgb)
                bare.append((time.perf_counter() - t0) * 1000)
            finally:
                analyzer._release(m)
    return {
        "frames": len(imgs),
        "calls": len(times),
        "faces_found": found,
        "p50_ms": float(np.percentile(times, 50)),
        "p90_ms": float(np.percentile(times, 90)),
        "mean_ms": float(np.mean(times)),
        "mediapipe_process_only_p50_ms": float(np.percentile(bare, 50)),
        "load_average_1min": os.getloadavg()[0],
        "cpu_count": os.cpu_count(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--only", choices=["aflw", "genki", "smile", "blink", "timing"], action="append")
    ap.add_argument("--genki-limit", type=int, default=None, help="evaluate every k-th GENKI image")
    ap.add_argument("--fit-smile", action="store_true", help="refit the smile model on files 1 mod 4")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    only = set(args.only or ["aflw", "genki", "smile", "blink", "timing"])
    res: dict[str, Any] = {"band_deg": BAND_DEG}
    an = FaceAnalyzer(pool_size=1, max_faces=2)
    try:
        if "aflw" in only:
            res["aflw2000"] = eval_aflw(an, args.data)
            print("aflw2000", {k: v for k, v in res["aflw2000"].items() if k != "rows"}, flush=True)
        if only & {"genki", "smile"}:
            items = genki_signals(an, args.data, args.genki_limit)
            if "genki" in only:
                res["genki_pose"] = eval_genki_pose(items)
                print("genki_pose", res["genki_pose"], flush=True)
            if "smile" in only:
                res["genki_smile"] = eval_smile(items, args.fit_smile)
                print("genki_smile", res["genki_smile"], flush=True)
        if "blink" in only:
            series = zju_series(an, args.data)
            res["zju_blink"] = blink_scores(series, detect_blinks)
            res["zju_blink"]["frames"] = sum(c["frames"] for c in series)
            res["zju_blink"]["no_face_frames"] = sum(c["no_face_frames"] for c in series)
            res["zju_blink"]["tag_nonfrontal_frames"] = sum(c["tag_nonfrontal"] for c in series)
            res["zju_blink"]["tag_eye_not_visible_frames"] = sum(c["tag_eye_not_visible"] for c in series)
            print("zju_blink", res["zju_blink"], flush=True)
        if "timing" in only:
            res["timing_640x480"] = eval_timing(an, args.data)
            print("timing", res["timing_640x480"], flush=True)
    finally:
        an.close()
    if args.out:
        args.out.write_text(json.dumps(res, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
