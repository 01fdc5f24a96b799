"""Head pose from a 3-D similarity fit of MediaPipe face-mesh landmarks to the canonical face.

The canonical face (``vigilo/assets/face/canonical_face.json``, derived from MediaPipe's
``geometry_pipeline_metadata_landmarks.binarypb``, Apache-2.0) is in centimetres with x toward the
subject's left (image right in an unmirrored frame), y up and z out of the face toward the camera.

MediaPipe returns normalized landmarks: x in [0, 1] of the image width, y in [0, 1] of the image
height (pointing down) and z on the same scale as x (negative toward the camera). They are mapped
to a right-handed camera frame with the same axes as the canonical model::

    X = x * width,   Y = -y * height,   Z = -z * width

and a weighted orthogonal Procrustes problem with scale (Umeyama / Kabsch) is solved,
``P_cam ≈ s · R · P_canon + t``. This is a weak-perspective fit; no camera intrinsics are guessed
(unlike ``cv2.solvePnP``), which keeps it stable on crops.

Angle conventions (degrees), derived from the direction of the nose axis ``n = R · (0, 0, 1)``:

* yaw   = atan2(n_x, n_z): > 0 when the subject turns to THEIR OWN LEFT (nose toward image right);
* pitch = asin(n_y):       > 0 when the subject looks up;
* roll  = in-plane rotation left after removing yaw and pitch: > 0 when the head tilts so that the
  subject's left eye rises (counter-clockwise in the unmirrored image as the viewer sees it).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

_ASSET = Path(__file__).resolve().parent.parent / "assets" / "face" / "canonical_face.json"


@dataclass(frozen=True)
class CanonicalFace:
    vertices: np.ndarray  # (468, 3) float64, centimetres
    basis_ids: np.ndarray  # (K,) int
    basis_weights: np.ndarray  # (K,) float64


@lru_cache(maxsize=1)
def canonical_face() -> CanonicalFace:
    """Load the canonical face model shipped with Vigilo (cached)."""
    data = json.loads(_ASSET.read_text(encoding="utf-8"))
    verts = np.asarray(data["vertices"], dtype=np.float64)
    basis = np.asarray(data["procrustes_basis"], dtype=np.float64)
    if verts.shape != (468, 3):
        raise ValueError(f"unexpected canonical face shape {verts.shape}")
    return CanonicalFace(verts, basis[:, 0].astype(np.int64), basis[:, 1].copy())


@dataclass(frozen=True)
class Similarity:
    """``dst ≈ scale * rotation @ src + translation``."""

    scale: float
    rotation: np.ndarray  # (3, 3)
    translation: np.ndarray  # (3,)

    def inverse_apply(self, pts: np.ndarray) -> np.ndarray:
        """Map camera-frame points back into the canonical frame (frontalize)."""
        return ((pts - self.translation) @ self.rotation) / self.scale


def fit_similarity(src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None) -> Similarity:
    """Weighted Umeyama fit of a similarity transform mapping ``src`` (N,3) onto ``dst`` (N,3)."""
    w = np.ones(len(src)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    mu_s = w @ src
    mu_d = w @ dst
    s0 = src - mu_s
    d0 = dst - mu_d
    cov = (d0 * w[:, None]).T @ s0
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[2] = -1.0
    rot = (u * d) @ vt
    var_s = float(w @ np.sum(s0 * s0, axis=1))
    scale = float(np.sum(sig * d) / var_s) if var_s > 0 else 1.0
    trans = mu_d - scale * rot @ mu_s
    return Similarity(scale, rot, trans)


def landmarks_to_camera(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """Normalized MediaPipe landmarks (N,3) → right-handed camera frame (x right, y up, z to camera)."""
    pts = np.empty((len(landmarks), 3), dtype=np.float64)
    pts[:, 0] = landmarks[:, 0] * width
    pts[:, 1] = -landmarks[:, 1] * height
    pts[:, 2] = -landmarks[:, 2] * width
    return pts


def euler_from_rotation(rot: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees with the conventions in the module docstring."""
    n = rot[:, 2]
    yaw = math.atan2(float(n[0]), float(n[2]))
    pitch = math.asin(max(-1.0, min(1.0, float(n[1]))))
    # R = Ry(yaw) @ Rx(-pitch) @ Rz(roll): undo yaw and pitch, read the in-plane angle.
    cy, sy = math.cos(yaw), math.sin(yaw)
    cp, sp = math.cos(-pitch), math.sin(-pitch)
    ry = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])
    rz = rx.T @ ry.T @ rot
    roll = math.atan2(float(rz[1, 0]), float(rz[0, 0]))
    return math.degrees(yaw), math.degrees(pitch), math.degrees(roll)


def fit_pose(cam_pts: np.ndarray, *, use_basis: bool = True) -> Similarity:
    """Fit the canonical face to camera-frame mesh points (the first 468 of 468/478 landmarks)."""
    canon = canonical_face()
    if use_basis:
        ids = canon.basis_ids
        return fit_similarity(canon.vertices[ids], cam_pts[ids], canon.basis_weights)
    return fit_similarity(canon.vertices, cam_pts[:468])
