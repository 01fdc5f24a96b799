"""Face animation harness (test tooling): one real frontal photo performing liveness actions on cue.

No public clip shows one person turning, blinking, opening the mouth and smiling with known timing, so this
module makes one from a single photo:

1. The photo is placed on a canvas (``size``; a blurred copy fills the sides, as a video-call background).
2. :class:`FaceRig` finds MediaPipe's 478 landmarks on it (the first 468 are used; iris points are left out)
   and triangulates them with rings of points around the face (hair, ears, neck) and points on the canvas
   border (Delaunay, ``cv2.Subdiv2D``).
3. Per frame, target landmark positions are computed from a :class:`Pose` (yaw/pitch rotate the 3-D mesh,
   ``x, y`` in pixels and ``z`` scaled to pixels, about an axis behind the face, projected orthographically;
   blink closes the upper lids onto the lower ones; mouth moves the lower lip and jaw down; smile pulls the
   mouth corners out and up and lifts the cheeks), and every triangle is warped piecewise-affinely (one
   backward map, triangles painted back to front, those facing away dropped). The open mouth is filled dark
   with a band of teeth; closed lids get a lash line.
4. Camera realism: slight head sway (sub-degree yaw/pitch/roll, sub-pixel shift), gain flicker, sensor noise
   and a JPEG round trip, so that consecutive frames are never near-duplicates.

:func:`animate` returns the frames and an exact :class:`Segment` timeline. Attack material: :func:`still_frames`
(the photo held still, with noise), :func:`card_frames` (the photo as a flat card turned in 3-D, via
:func:`vigilo.liveness.attacks.render_card`); a replay is the recorded bytes of a passing session re-sent.

CLI::

    python -m vigilo.tools.face_animation --photo P --actions turn_left,blink,open_mouth,smile --out DIR \
        [--mp4] [--y4m] [--fps 15] [--size 640x480] [--seed 0]

writes ``DIR/frames/000000.png ...``, ``DIR/timeline.json`` and, when asked, ``DIR/animation.mp4`` and
``DIR/animation.y4m`` (YUV4MPEG2 4:2:0, what Chromium's ``--use-file-for-fake-video-capture`` reads).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

ACTIONS = ("turn_left", "turn_right", "blink", "open_mouth", "smile", "nod")

# MediaPipe face-mesh indices ("right"/"left" are the subject's own; the right eye is on the image's left).
_FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
_UPPER_LID = (
    (33, 246, 161, 160, 159, 158, 157, 173, 133),
    (263, 466, 388, 387, 386, 385, 384, 398, 362),
)
_LOWER_LID = (
    (33, 7, 163, 144, 145, 153, 154, 155, 133),
    (263, 249, 390, 373, 374, 380, 381, 382, 362),
)
_LID_CREASE = (
    (247, 30, 29, 27, 28, 56, 190),
    (467, 260, 259, 257, 258, 286, 414),
)
_INNER_UPPER_LIP = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
_INNER_LOWER_LIP = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
_OUTER_LOWER_LIP = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
_MOUTH_CORNERS = (61, 291)
_INNER_CORNERS = (78, 308)
_EYE_OUTER = (33, 263)
_FOREHEAD, _CHIN = 10, 152
_MESH_POINTS = 468
_SMILE_PARTING = 0.12  # a full smile opens the lips this fraction of a full open mouth
_SMILE_WIDEN, _SMILE_LIFT = 0.15, 0.22  # mouth-corner shift out and up, over the mouth width


class PhotoError(ValueError):
    """The photo cannot be used (unreadable, no face)."""


class _Analyzer(Protocol):
    def analyze(self, image_bgr: np.ndarray, *, mirrored: bool = False) -> Any: ...


# -- timeline -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Durations in milliseconds. Each action starts and ends at neutral; `gap_ms` of neutral separates them."""

    lead_in_ms: int = 1200
    gap_ms: int = 800
    tail_ms: int = 600
    turn_ms: int = 1400  # ease out to the peak, hold, ease back (each a third)
    turn_deg: float = 35.0
    nod_ms: int = 1400
    nod_deg: float = 20.0
    blink_close_ms: int = 75
    blink_closed_ms: int = 100
    blink_open_ms: int = 100
    mouth_ms: int = 1200
    smile_ms: int = 1400


@dataclass(frozen=True)
class Segment:
    """One action: frames `start_frame..end_frame` (inclusive) are off neutral; `peak_*` is the plateau."""

    action: str
    start_frame: int
    end_frame: int
    start_ms: float
    end_ms: float
    peak_start_ms: float
    peak_end_ms: float


@dataclass(frozen=True)
class Pose:
    """What one frame shows. Angles in degrees with the analyzer's signs (yaw > 0: the subject's own left,
    pitch > 0: looking up); `blink`, `mouth`, `smile` from 0 (neutral) to 1 (full)."""

    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    blink: float = 0.0
    mouth: float = 0.0
    smile: float = 0.0
    shift: tuple[float, float] = (0.0, 0.0)


def _ease(u: float) -> float:
    u = min(1.0, max(0.0, u))
    return 0.5 - 0.5 * math.cos(math.pi * u)


def _ramp_hold_ramp(t: float, total: float, up: float, down: float) -> float:
    """0 -> 1 over `up`, hold, 1 -> 0 over the last `down` ms of `total` (eased)."""
    if t <= 0 or t >= total:
        return 0.0
    if t < up:
        return _ease(t / up)
    if t > total - down:
        return _ease((total - t) / down)
    return 1.0


def _blink_closure(t: float, timing: Timing) -> float:
    a, b, c = timing.blink_close_ms, timing.blink_closed_ms, timing.blink_open_ms
    if t <= 0 or t >= a + b + c:
        return 0.0
    if t < a:
        return t / a
    if t <= a + b:
        return 1.0
    return 1.0 - (t - a - b) / c


@dataclass(frozen=True)
class _Action:
    name: str
    duration_ms: float
    peak: tuple[float, float]  # plateau start/end, ms from the action's start
    profile: Callable[[float], float]  # 0..1 at ms from the action's start


def _action(name: str, timing: Timing) -> _Action:
    if name in ("turn_left", "turn_right", "nod"):
        total = float(timing.nod_ms if name == "nod" else timing.turn_ms)
        third = total / 3
        return _Action(name, total, (third, 2 * third), lambda t: _ramp_hold_ramp(t, total, third, third))
    if name == "blink":
        total = float(timing.blink_close_ms + timing.blink_closed_ms + timing.blink_open_ms)
        start = float(timing.blink_close_ms)
        return _Action(name, total, (start, start + timing.blink_closed_ms), lambda t: _blink_closure(t, timing))
    if name in ("open_mouth", "smile"):
        total = float(timing.mouth_ms if name == "open_mouth" else timing.smile_ms)
        quarter = total / 4
        return _Action(name, total, (quarter, 3 * quarter), lambda t: _ramp_hold_ramp(t, total, quarter, quarter))
    raise ValueError(f"unknown action {name!r}; known: {', '.join(ACTIONS)}")


def _pose_for(name: str, value: float, timing: Timing) -> Pose:
    if name == "turn_left":
        return Pose(yaw=timing.turn_deg * value)
    if name == "turn_right":
        return Pose(yaw=-timing.turn_deg * value)
    if name == "nod":
        return Pose(pitch=-timing.nod_deg * value)  # a nod goes down and back
    if name == "blink":
        return Pose(blink=value)
    if name == "open_mouth":
        return Pose(mouth=value)
    return Pose(smile=value)


def schedule(actions: Sequence[str], fps: float, timing: Timing | None = None) -> tuple[list[Pose], list[Segment]]:
    """The expression of every frame (no sway yet) and the exact timeline. Frame `i` is at `i * 1000 / fps` ms.

    Each action starts on a frame (so a short blink's closed plateau always holds a frame at 10 fps and up).
    """
    timing = timing or Timing()
    if fps <= 0:
        raise ValueError("fps must be positive")
    step = 1000.0 / fps
    specs = [_action(name, timing) for name in actions]
    poses: list[Pose] = []
    segments: list[Segment] = []
    t = float(timing.lead_in_ms)
    placed: list[tuple[_Action, float]] = []
    for spec in specs:
        start = math.ceil(t / step - 1e-9) * step
        placed.append((spec, start))
        t = start + spec.duration_ms + timing.gap_ms
    end = t - timing.gap_ms + timing.tail_ms
    count = math.ceil(end / step) + 1
    for i in range(count):
        now = i * step
        pose = Pose()
        for spec, start in placed:
            if start < now < start + spec.duration_ms:
                pose = _pose_for(spec.name, spec.profile(now - start), timing)
        poses.append(pose)
    for spec, start in placed:
        first = math.floor(start / step + 1e-9) + 1
        last = math.ceil((start + spec.duration_ms) / step - 1e-9) - 1
        segments.append(
            Segment(
                spec.name,
                first,
                last,
                round(start, 3),
                round(start + spec.duration_ms, 3),
                round(start + spec.peak[0], 3),
                round(start + spec.peak[1], 3),
            )
        )
    return poses, segments


# -- the rig --------------------------------------------------------------------------------------


def compose(photo: np.ndarray, size: tuple[int, int], face_fill: float = 1.0) -> np.ndarray:
    """The photo scaled to `face_fill` of the canvas height, centred, on a blurred cover-scaled copy of itself."""
    width, height = size
    h, w = photo.shape[:2]
    cover = max(width / w, height / h)
    back = cv2.resize(photo, (math.ceil(w * cover), math.ceil(h * cover)), interpolation=cv2.INTER_LINEAR)
    y0, x0 = (back.shape[0] - height) // 2, (back.shape[1] - width) // 2
    canvas = cv2.GaussianBlur(back[y0 : y0 + height, x0 : x0 + width], (0, 0), 12)
    canvas = (canvas * 0.85).astype(np.uint8)
    scale = min(height * face_fill / h, width / w)
    fg = cv2.resize(photo, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)
    fh, fw = fg.shape[:2]
    top, left = (height - fh) // 2, (width - fw) // 2
    # Feathered edge so the photo's border does not make a hard line.
    flat = np.zeros((fh, fw), np.float32)
    pad = max(2, round(min(fh, fw) * 0.04))
    flat[pad:-pad, pad:-pad] = 1.0
    mask = np.asarray(cv2.GaussianBlur(flat, (0, 0), pad / 2), dtype=np.float32)[..., None]
    region = canvas[top : top + fh, left : left + fw].astype(np.float32)
    canvas[top : top + fh, left : left + fw] = (fg * mask + region * (1 - mask)).astype(np.uint8)
    return canvas


def _triangulate(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """Delaunay triangles (indices into `points`) with cv2.Subdiv2D."""
    subdiv = cv2.Subdiv2D((-1, -1, width + 2, height + 2))
    index: dict[tuple[float, float], int] = {}
    for i, (x, y) in enumerate(points.astype(np.float32)):
        key = (float(x), float(y))
        if key in index:
            continue
        index[key] = i
        subdiv.insert(key)
    tris = []
    for x1, y1, x2, y2, x3, y3 in np.asarray(subdiv.getTriangleList(), dtype=np.float32):
        keys = ((float(x1), float(y1)), (float(x2), float(y2)), (float(x3), float(y3)))
        if all(k in index for k in keys):
            tris.append([index[k] for k in keys])
    return np.asarray(tris, dtype=np.int64)


@dataclass
class FaceRig:
    """A canvas with its face mesh, the extra control points and their triangulation."""

    canvas: np.ndarray
    mesh: np.ndarray  # (468, 3) pixels: x right, y down, z away from the camera (MediaPipe's z * width)
    ring: np.ndarray  # (R, 2) points around the face (hair, ears, neck)
    ring_anchor: np.ndarray  # (R,) oval point each ring point follows
    ring_weight: np.ndarray  # (R,) how much of that point's motion it takes
    border: np.ndarray  # (B, 2) fixed canvas points
    triangles: np.ndarray = field(init=False)
    centre: np.ndarray = field(init=False)  # rotation centre (x, y, z)
    face_height: float = field(init=False)
    face_width: float = field(init=False)

    def __post_init__(self) -> None:
        h, w = self.canvas.shape[:2]
        points = np.vstack([self.mesh[:, :2], self.ring, self.border])
        self.triangles = _triangulate(points, w, h)
        oval = self.mesh[list(_FACE_OVAL)]
        self.face_height = float(np.linalg.norm(self.mesh[_FOREHEAD, :2] - self.mesh[_CHIN, :2]))
        self.face_width = float(oval[:, 0].max() - oval[:, 0].min())
        cx, cy = oval[:, 0].mean(), oval[:, 1].mean()
        cz = float(np.median(oval[:, 2])) + 0.25 * self.face_width
        self.centre = np.array([cx, cy, cz])

    @classmethod
    def from_canvas(cls, canvas: np.ndarray, analyzer: _Analyzer | None = None) -> FaceRig:
        """Finds the face on `canvas` (MediaPipe via :class:`vigilo.liveness.signals.FaceAnalyzer`)."""
        h, w = canvas.shape[:2]
        if analyzer is None:
            from vigilo.liveness.signals import FaceAnalyzer

            with FaceAnalyzer(pool_size=1, max_faces=1) as own:
                signals = own.analyze(canvas)
        else:
            signals = analyzer.analyze(canvas)
        if signals.landmarks is None:
            raise PhotoError("no face found in the photo")
        lm = np.asarray(signals.landmarks, dtype=np.float64)[:_MESH_POINTS]
        mesh = np.column_stack([lm[:, 0] * w, lm[:, 1] * h, lm[:, 2] * w])
        oval = mesh[list(_FACE_OVAL), :2]
        centre = oval.mean(axis=0)
        rings, anchors, weights = [], [], []
        for scale, weight in ((1.3, 0.7), (1.75, 0.3)):
            rings.append(centre + (oval - centre) * scale)
            anchors.append(np.asarray(_FACE_OVAL))
            weights.append(np.full(len(_FACE_OVAL), weight))
        ring = np.vstack(rings)
        inside = (ring[:, 0] > 1) & (ring[:, 0] < w - 2) & (ring[:, 1] > 1) & (ring[:, 1] < h - 2)
        border = [(x, y) for x in np.linspace(0, w - 1, 9) for y in (0.0, h - 1.0)]
        border += [(x, y) for y in np.linspace(0, h - 1, 7)[1:-1] for x in (0.0, w - 1.0)]
        return cls(
            canvas=canvas,
            mesh=mesh,
            ring=ring[inside],
            ring_anchor=np.concatenate(anchors)[inside],
            ring_weight=np.concatenate(weights)[inside],
            border=np.asarray(border, dtype=np.float64),
        )

    # -- target points ----------------------------------------------------------------------------
    def _expression(self, pose: Pose) -> np.ndarray:
        """Mesh points (pixels, frontal) with the blink, mouth and smile applied."""
        pts = self.mesh.copy()
        if pose.blink > 0:
            self._close_lids(pts, pose.blink)
        if pose.mouth > 0:
            self._open_mouth(pts, pose.mouth)
        if pose.smile > 0:
            self._smile(pts, pose.smile)
            self._open_mouth(pts, _SMILE_PARTING * pose.smile)  # a smile parts the lips a little
        return pts

    def _close_lids(self, pts: np.ndarray, amount: float) -> None:
        for upper, lower, crease in zip(_UPPER_LID, _LOWER_LID, _LID_CREASE, strict=True):
            up = self.mesh[list(upper), :2]
            low = self.mesh[list(lower), :2]
            target = low + 0.08 * (up - low)  # the closed lid rests just above the lower lid
            moved = up + amount * (target - up)
            pts[list(upper[1:-1]), :2] = moved[1:-1]
            # The skin between the lid and the crease follows part of the way.
            for idx in crease:
                nearest = int(np.argmin(np.linalg.norm(up - self.mesh[idx, :2], axis=1)))
                pts[idx, :2] += 0.45 * (moved[nearest] - up[nearest])

    def _open_mouth(self, pts: np.ndarray, amount: float) -> None:
        drop = amount * 0.13 * self.face_height
        mouth = self.mesh[list(_INNER_CORNERS), :2]
        line_y = float(mouth[:, 1].mean())
        mid_x = float(mouth[:, 0].mean())
        half = 0.5 * self.face_width
        below = self.mesh[:, 1] - line_y
        ramp = np.clip(below / (0.05 * self.face_height), 0.0, 1.0)
        side = np.clip(1.0 - (np.abs(self.mesh[:, 0] - mid_x) / half) ** 2, 0.0, 1.0)
        weight = ramp * side
        lips = [i for i in (*_INNER_LOWER_LIP, *_OUTER_LOWER_LIP) if i not in (*_MOUTH_CORNERS, *_INNER_CORNERS)]
        corners = self.mesh[list(_MOUTH_CORNERS), 0]
        half_mouth = max(1.0, 0.5 * float(abs(corners[1] - corners[0])))
        across = np.clip(np.abs(self.mesh[lips, 0] - mid_x) / half_mouth, 0.0, 1.0)
        weight[lips] = np.maximum(weight[lips], 0.3 + 0.7 * (1.0 - across**2))
        weight[list(_MOUTH_CORNERS) + list(_INNER_CORNERS)] = 0.3
        pts[:, 1] += drop * weight
        # The jaw opening narrows the mouth a little.
        pts[list(_INNER_CORNERS), 0] += np.array([1.0, -1.0]) * 0.02 * self.face_width * amount

    def _smile(self, pts: np.ndarray, amount: float) -> None:
        corners = self.mesh[list(_MOUTH_CORNERS), :2]
        mouth_w = float(np.linalg.norm(corners[1] - corners[0]))
        sigma = 0.38 * mouth_w
        centre_x = float(corners[:, 0].mean())
        # The pull fades quickly above the mouth: the nose (whose width the identity check measures) stays.
        above = np.clip(float(corners[:, 1].mean()) - self.mesh[:, 1], 0.0, None)
        fade = np.clip(1.0 - above / (0.35 * mouth_w), 0.0, 1.0)
        for corner in corners:
            out = 1.0 if corner[0] > centre_x else -1.0
            shift = np.array([out * _SMILE_WIDEN, -_SMILE_LIFT]) * mouth_w * amount
            d2 = ((self.mesh[:, :2] - corner) ** 2).sum(axis=1)
            pts[:, :2] += (np.exp(-d2 / (2 * sigma**2)) * fade)[:, None] * shift
        # Cheeks rise a little (below the eyes, beside the nose).
        eyes = self.mesh[list(_EYE_OUTER), :2]
        for eye, corner in zip(eyes, corners, strict=True):
            cheek = 0.4 * eye + 0.6 * corner
            d2 = ((self.mesh[:, :2] - cheek) ** 2).sum(axis=1)
            pts[:, 1] -= np.exp(-d2 / (2 * (0.5 * mouth_w) ** 2)) * 0.02 * mouth_w * amount

    def _rotate(self, pts: np.ndarray, pose: Pose) -> np.ndarray:
        yaw, pitch, roll = (math.radians(a) for a in (pose.yaw, pose.pitch, pose.roll))
        cy_, sy_ = math.cos(yaw), math.sin(yaw)
        cp, sp = math.cos(pitch), math.sin(pitch)
        # x right, y down, z away from the camera. Yaw > 0 moves the nose (z < centre) to +x; pitch > 0 up.
        r_yaw = np.array([[cy_, 0, -sy_], [0, 1, 0], [sy_, 0, cy_]])
        r_pitch = np.array([[1, 0, 0], [0, cp, sp], [0, -sp, cp]])
        cr, sr = math.cos(roll), math.sin(roll)
        r_roll = np.array([[cr, sr, 0], [-sr, cr, 0], [0, 0, 1]])  # > 0: the subject's left eye (image right) up
        rot = r_roll @ r_yaw @ r_pitch
        return (pts - self.centre) @ rot.T + self.centre

    def targets(self, pose: Pose) -> tuple[np.ndarray, np.ndarray]:
        """Destination 2-D points of every control point and the depth of every point (for painting order)."""
        mesh = self._rotate(self._expression(pose), pose)
        moved = mesh[:, :2] - self.mesh[:, :2]
        ring = self.ring + moved[self.ring_anchor] * self.ring_weight[:, None]
        dst = np.vstack([mesh[:, :2], ring, self.border]) + np.asarray(pose.shift)
        dst[-len(self.border) :] = self.border
        far = float(self.mesh[:, 2].max()) + self.face_width
        depth = np.concatenate([mesh[:, 2], np.full(len(ring), far * 0.8), np.full(len(self.border), far)])
        return dst, depth

    # -- rendering --------------------------------------------------------------------------------
    def render(self, pose: Pose) -> np.ndarray:
        """The canvas warped to `pose` (no camera noise)."""
        h, w = self.canvas.shape[:2]
        src = np.vstack([self.mesh[:, :2], self.ring, self.border])
        dst, depth = self.targets(pose)
        tri = self.triangles
        s, d = src[tri], dst[tri]  # (T, 3, 2)
        area_s = _signed_area(s)
        area_d = _signed_area(d)
        keep = (np.sign(area_s) == np.sign(area_d)) & (np.abs(area_d) > 1e-3) & (np.abs(area_s) > 1e-3)
        order = np.argsort(-depth[tri].mean(axis=1))  # far first
        order = order[keep[order]]
        ids = np.full((h, w), -1, np.int32)
        polys = np.round(d * 16).astype(np.int32)
        for t in order:
            cv2.fillConvexPoly(ids, polys[t], (int(t),), lineType=cv2.LINE_8, shift=4)
        affine = _inverse_affines(s, d)  # (T, 2, 3): destination -> source
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        mapped = ids >= 0
        a = affine[ids[mapped]]
        map_x, map_y = xs.copy(), ys.copy()
        px, py = xs[mapped], ys[mapped]
        map_x[mapped] = a[:, 0, 0] * px + a[:, 0, 1] * py + a[:, 0, 2]
        map_y[mapped] = a[:, 1, 0] * px + a[:, 1, 1] * py + a[:, 1, 2]
        out = cv2.remap(self.canvas, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        mesh_dst = dst[:_MESH_POINTS]
        parting = pose.mouth + _SMILE_PARTING * pose.smile
        if parting > 0.05:
            teeth = 0.28 + 0.5 * min(1.0, pose.smile / max(parting, 1e-6))
            self._paint_mouth(out, mesh_dst, min(1.0, parting * 3), teeth)
        if pose.blink > 0.5:
            self._paint_lashes(out, mesh_dst, pose.blink)
        return out

    def _paint_mouth(self, out: np.ndarray, pts: np.ndarray, amount: float, teeth: float) -> None:
        poly = np.vstack([pts[list(_INNER_UPPER_LIP)], pts[list(_INNER_LOWER_LIP[::-1])]])
        mask = np.zeros(out.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round(poly * 16).astype(np.int32)], (255,), lineType=cv2.LINE_AA, shift=4)
        inner = np.zeros_like(out)
        inner[:] = (35, 25, 60)  # BGR: dark red-brown
        # Upper teeth: a light band under the upper lip.
        upper = pts[list(_INNER_UPPER_LIP)]
        gap = float(np.median(pts[list(_INNER_LOWER_LIP[1:-1]), 1] - upper[1:-1, 1]))
        band = np.vstack([upper[2:-2], upper[2:-2][::-1] + np.array([0.0, max(1.0, teeth * gap)])])
        cv2.fillPoly(inner, [np.round(band * 16).astype(np.int32)], (190, 200, 210), lineType=cv2.LINE_AA, shift=4)
        inner = cv2.GaussianBlur(inner, (0, 0), 1.0)
        alpha = (cv2.GaussianBlur(mask, (0, 0), 0.8).astype(np.float32) / 255.0 * min(1.0, amount * 1.5))[..., None]
        out[:] = (out * (1 - alpha) + inner * alpha).astype(np.uint8)

    def _paint_lashes(self, out: np.ndarray, pts: np.ndarray, amount: float) -> None:
        strength = (amount - 0.5) * 2
        layer = out.copy()
        for upper in _UPPER_LID:
            line = np.round(pts[list(upper)] * 16).astype(np.int32)
            width = max(1, round(self.face_width * 0.008))
            cv2.polylines(layer, [line], False, (40, 35, 35), width, lineType=cv2.LINE_AA, shift=4)
        out[:] = cv2.addWeighted(layer, 0.6 * strength, out, 1 - 0.6 * strength, 0)


def _signed_area(t: np.ndarray) -> np.ndarray:
    return 0.5 * (
        (t[:, 1, 0] - t[:, 0, 0]) * (t[:, 2, 1] - t[:, 0, 1]) - (t[:, 2, 0] - t[:, 0, 0]) * (t[:, 1, 1] - t[:, 0, 1])
    )


def _inverse_affines(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Per triangle, the 2x3 affine taking destination points to source points."""
    n = len(src)
    d = np.concatenate([dst, np.ones((n, 3, 1))], axis=2)  # (T, 3, 3) rows [x y 1]
    det = np.linalg.det(d)
    d[np.abs(det) < 1e-9] = np.eye(3)
    inv = np.linalg.inv(d)  # solves d @ M = src
    m = inv @ src  # (T, 3, 2)
    return np.transpose(m, (0, 2, 1))


# -- camera realism -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Camera:
    """Per-frame realism: head sway (degrees / pixels, a slow random walk), gain flicker, noise, JPEG."""

    sway_deg: float = 0.6
    sway_px: float = 1.0
    gain: float = 0.015
    noise_sigma: float = 2.0
    jpeg_quality: tuple[int, int] = (84, 95)


def _sway(count: int, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """A smooth random walk in [-amplitude, amplitude]."""
    if count == 0 or amplitude <= 0:
        return np.zeros(count)
    steps = rng.normal(0, 1, count + 8)
    smooth = np.convolve(steps, np.ones(8) / 8, mode="valid")[:count]
    walk = np.cumsum(smooth)
    walk -= np.linspace(walk[0], walk[-1], count) if count > 1 else walk
    peak = float(np.abs(walk).max()) or 1.0
    return walk / peak * amplitude


def with_sway(poses: Sequence[Pose], rng: np.random.Generator, camera: Camera) -> list[Pose]:
    n = len(poses)
    yaw, pitch, roll = (_sway(n, rng, camera.sway_deg) for _ in range(3))
    dx, dy = (_sway(n, rng, camera.sway_px) for _ in range(2))
    return [
        replace(p, yaw=p.yaw + yaw[i], pitch=p.pitch + pitch[i], roll=p.roll + roll[i] * 0.5, shift=(dx[i], dy[i]))
        for i, p in enumerate(poses)
    ]


def camera_noise(image: np.ndarray, rng: np.random.Generator, camera: Camera, index: int = 0) -> np.ndarray:
    """Gain flicker (alternating, as under mains light; so that consecutive frames always differ), Gaussian
    sensor noise and a JPEG round trip at a random quality."""
    gain = 1.0 + (-1) ** index * rng.uniform(0.5, 1.0) * camera.gain
    noisy = image.astype(np.float32) * gain + rng.normal(0.0, camera.noise_sigma, image.shape)
    frame = np.clip(noisy, 0, 255).astype(np.uint8)
    low, high = camera.jpeg_quality
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(low, high + 1))])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


# -- animations -----------------------------------------------------------------------------------


@dataclass
class Animation:
    frames: list[np.ndarray]
    timeline: list[Segment]
    fps: float
    poses: list[Pose]

    def frame_ms(self, index: int) -> float:
        return index * 1000.0 / self.fps

    def timeline_json(self) -> dict[str, Any]:
        return {
            "fps": self.fps,
            "frames": len(self.frames),
            "size": [int(self.frames[0].shape[1]), int(self.frames[0].shape[0])] if self.frames else None,
            "actions": [asdict(s) for s in self.timeline],
        }


def load_photo(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise PhotoError(f"cannot read an image from {path}")
    return image


def animate(
    photo: np.ndarray,
    actions: Sequence[str],
    *,
    fps: float = 15.0,
    size: tuple[int, int] = (640, 480),
    timing: Timing | None = None,
    camera: Camera | None = None,
    seed: int = 0,
    analyzer: _Analyzer | None = None,
    rig: FaceRig | None = None,
) -> Animation:
    """`photo` (BGR) performing `actions` in order, each from and back to neutral; see the module docstring."""
    for name in actions:
        if name not in ACTIONS:
            raise ValueError(f"unknown action {name!r}; known: {', '.join(ACTIONS)}")
    camera = camera or Camera()
    rng = np.random.default_rng(seed)
    rig = rig or FaceRig.from_canvas(compose(photo, size), analyzer)
    poses, timeline = schedule(actions, fps, timing)
    poses = with_sway(poses, rng, camera)
    frames = [camera_noise(rig.render(p), rng, camera, i) for i, p in enumerate(poses)]
    return Animation(frames, timeline, fps, poses)


def still_frames(
    photo: np.ndarray, count: int, *, size: tuple[int, int] = (640, 480), seed: int = 0
) -> list[np.ndarray]:
    """Attack: the photo held still in front of the camera (a hand's sway, sensor noise, JPEG)."""
    rng = np.random.default_rng(seed)
    canvas = compose(photo, size)
    camera = Camera()
    dx, dy = _sway(count, rng, 1.5), _sway(count, rng, 1.5)
    out = []
    for i in range(count):
        matrix = np.array([[1, 0, dx[i]], [0, 1, dy[i]]], dtype=np.float32)
        moved = cv2.warpAffine(canvas, matrix, size, borderMode=cv2.BORDER_REFLECT)
        out.append(camera_noise(moved, rng, camera, i))
    return out


def card_frames(
    photo: np.ndarray,
    angles: Sequence[float],
    *,
    size: tuple[int, int] = (640, 480),
    seed: int = 0,
) -> list[np.ndarray]:
    """Attack: the photo as a flat card turned about the vertical axis by each of `angles` (degrees)."""
    from vigilo.liveness.attacks import render_card

    rng = np.random.default_rng(seed)
    camera = Camera()
    canvas = compose(photo, size)
    return [
        camera_noise(render_card(canvas, a, size=size, scale=1.0, background=90), rng, camera, i)
        for i, a in enumerate(angles)
    ]


def turn_sweep(
    fps: float, direction: int, *, hold_s: float = 1.2, sweep_s: float = 2.0, peak: float = 50.0
) -> list[float]:
    """Card angles: held at 0, swept to `direction * peak` and back, held, twice."""
    hold = [0.0] * round(hold_s * fps)
    n = max(2, round(sweep_s * fps))
    sweep = [direction * peak * math.sin(math.pi * k / n) for k in range(n + 1)]
    return hold + sweep + hold + sweep + hold


# -- files ----------------------------------------------------------------------------------------


def write_y4m(path: Path, frames: Sequence[np.ndarray], fps: int = 30) -> Path:
    """YUV4MPEG2 (4:2:0) for Chromium's --use-file-for-fake-video-capture, which loops it."""
    height, width = frames[0].shape[:2]
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1\n".encode())
        for frame in frames:
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path


def write_mp4(path: Path, frames: Sequence[np.ndarray], fps: float) -> Path:
    height, width = frames[0].shape[:2]
    fourcc = cv2.VideoWriter.fourcc(*"mp4v")
    writer = cv2.VideoWriter(str(path), fourcc, float(fps), (width, height))
    if not writer.isOpened():
        raise OSError(f"cannot write {path}")
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()
    return path


def write_frames(folder: Path, frames: Sequence[np.ndarray], ext: str = ".png") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, frame in enumerate(frames):
        path = folder / f"{i:06d}{ext}"
        if not cv2.imwrite(str(path), frame):
            raise OSError(f"cannot write {path}")
        paths.append(path)
    return paths


# -- CLI ------------------------------------------------------------------------------------------


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError("size must look like 640x480") from None
    if not (64 <= w <= 4096 and 64 <= h <= 4096) or w % 2 or h % 2:
        raise argparse.ArgumentTypeError("size must be even, between 64 and 4096 per side")
    return w, h


def _actions(text: str) -> list[str]:
    names = [a.strip() for a in text.split(",") if a.strip()]
    unknown = [a for a in names if a not in ACTIONS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"actions must be a comma list of: {', '.join(ACTIONS)}")
    return names


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vigilo.tools.face_animation", description=__doc__.split("\n")[0])
    parser.add_argument("--photo", type=Path, required=True, help="a frontal face photo")
    parser.add_argument("--actions", type=_actions, required=True, help=f"comma list of {', '.join(ACTIONS)}")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--size", type=_size, default=(640, 480), help="WIDTHxHEIGHT, default 640x480")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--format", choices=("png", "jpg"), default="png", help="frame files")
    parser.add_argument("--mp4", action="store_true", help="also write animation.mp4 (mp4v)")
    parser.add_argument("--y4m", action="store_true", help="also write animation.y4m (4:2:0)")
    args = parser.parse_args(argv)
    if not 1 <= args.fps <= 60:
        parser.error("fps must be between 1 and 60")
    try:
        photo = load_photo(args.photo)
        animation = animate(photo, args.actions, fps=args.fps, size=args.size, seed=args.seed)
        args.out.mkdir(parents=True, exist_ok=True)
        write_frames(args.out / "frames", animation.frames, "." + args.format)
        (args.out / "timeline.json").write_text(json.dumps(animation.timeline_json(), indent=2) + "\n")
        if args.mp4:
            write_mp4(args.out / "animation.mp4", animation.frames, args.fps)
        if args.y4m:
            write_y4m(args.out / "animation.y4m", animation.frames, round(args.fps))
    except (PhotoError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(animation.frames)} frames, {len(animation.timeline)} actions -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
