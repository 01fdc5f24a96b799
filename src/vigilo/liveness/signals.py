"""Per-frame face signals for the liveness check.

:class:`FaceAnalyzer` runs MediaPipe 0.10.21 face mesh (``static_image_mode=True``,
``refine_landmarks=True``: 478 points with iris) and turns the main face into a :class:`FaceSignals`:
head pose from a 3-D similarity fit to MediaPipe's canonical face (see :mod:`vigilo.liveness.pose`),
eye openness, mouth opening, a smile score and quality measures (size, light, blur, centring).

Conventions
-----------
* ``yaw`` > 0 when the subject turns to THEIR OWN LEFT (nose toward the image's right in an
  unmirrored frame); ``pitch`` > 0 when the subject looks up; ``roll`` > 0 when the subject's left eye
  rises. ``eye_openness_left`` is the subject's own left eye.
* ``mirrored=True`` tells the analyzer that the client sent a selfie-mirrored frame (what a front
  camera preview shows). The frame is flipped horizontally before analysis, so yaw, roll and the
  left/right eye keep the subject-relative convention above. ``box`` is reported in the pixel
  coordinates of the frame *as sent*, ``landmarks`` in normalized coordinates of the *unmirrored*
  frame (so that landmark indices keep their anatomical meaning for identity checks).
* Faces smaller than :data:`MIN_FACE_SIZE` (box height / image height) are still reported, with
  ``face_size`` set; their eye/mouth signals are unreliable and :attr:`FaceSignals.too_small` is True.
  When the full frame yields no face, one retry runs on the centre crop (half width, half height),
  because the short-range face detector misses small faces in wide frames.
* With no face, every signal is 0.0 except ``brightness`` and ``sharpness``, which are then measured
  on the whole frame (useful for a "too dark" hint).

MediaPipe ``FaceMesh`` objects are not thread-safe: the analyzer keeps a pool of them and each call
borrows one, so one analyzer can be shared by several threads.
"""

from __future__ import annotations

import contextlib
import math
import queue
import threading
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from vigilo.liveness.pose import euler_from_rotation, fit_pose, landmarks_to_camera

MIN_FACE_SIZE = 0.15
"""Smallest usable face (box height / image height); below it ``FaceSignals.too_small`` is True."""

# Face-mesh indices. "Left"/"right" are the subject's own.
_EYE_RIGHT = (33, 160, 158, 133, 153, 144)  # outer, upper x2, inner, lower x2 (image left)
_EYE_LEFT = (263, 387, 385, 362, 380, 373)  # outer, upper x2, inner, lower x2 (image right)
_MOUTH_INNER_UP, _MOUTH_INNER_DOWN = 13, 14
_MOUTH_INNER_CORNERS = (78, 308)
_MOUTH_CORNERS = (61, 291)
_LIP_UP_OUTER = 0
_SUBNASALE = 2
_EYE_OUTER = (33, 263)

# Smile model: logistic regression on frontalized mouth geometry, fitted on GENKI-4K files whose
# number is 1 mod 4 (see vigilo.liveness.evaluate, docs/liveness-signals.md).
_SMILE_MEAN = np.array([0.62575, -0.225257, -0.146666, -0.231642])
_SMILE_STD = np.array([0.095416, 0.0438, 0.039037, 0.031775])
_SMILE_W = np.array([1.729682, 1.915421, 0.442495, -1.676511])
_SMILE_B = 0.895274


@dataclass(frozen=True)
class FaceSignals:
    faces: int  # number of faces found
    box: tuple[float, float, float, float] | None  # x1, y1, x2, y2 pixels of the main face
    yaw: float  # degrees, > 0 subject turned to their own left
    pitch: float  # degrees, > 0 looking up
    roll: float  # degrees, > 0 subject's left eye higher
    eye_openness_left: float  # EAR, subject's left eye
    eye_openness_right: float  # EAR, subject's right eye
    mouth_open: float  # MAR: inner-lip gap / inner mouth width
    smile: float  # 0..1, higher = smiling (0.5 = decision threshold fitted on GENKI)
    face_size: float  # face box height / image height
    brightness: float  # mean luma 0..255 of the face region (whole frame when no face)
    sharpness: float  # variance of Laplacian of the face region resized to 128x128
    centring: float  # distance of face centre from image centre / image diagonal
    landmarks: np.ndarray | None = None  # (478, 3) normalized, unmirrored frame

    @property
    def too_small(self) -> bool:
        """True when a face was found but is below :data:`MIN_FACE_SIZE`."""
        return self.faces > 0 and self.face_size < MIN_FACE_SIZE


def _dist(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))


def eye_aspect_ratio(pts: np.ndarray, ids: tuple[int, int, int, int, int, int]) -> float:
    """EAR = (|p2-p6| + |p3-p5|) / (2 |p1-p4|) on 2-D pixel points."""
    p1, p2, p3, p4, p5, p6 = (pts[i] for i in ids)
    width = _dist(p1, p4)
    if width <= 1e-9:
        return 0.0
    return (_dist(p2, p6) + _dist(p3, p5)) / (2.0 * width)


def mouth_aspect_ratio(pts: np.ndarray) -> float:
    """MAR = inner-lip vertical gap / inner mouth width on 2-D pixel points."""
    width = _dist(pts[_MOUTH_INNER_CORNERS[0]], pts[_MOUTH_INNER_CORNERS[1]])
    if width <= 1e-9:
        return 0.0
    return _dist(pts[_MOUTH_INNER_UP], pts[_MOUTH_INNER_DOWN]) / width


def smile_features(canon_pts: np.ndarray) -> np.ndarray:
    """Frontalized mouth features (canonical frame, y up), scale-free via the outer-eye distance.

    [mouth width, corner height below the nose, upper-lip height below the nose, corner depth behind the
    upper lip], each / eye distance. Heights are taken from the nose (subnasale), which the jaw does not
    move: measured from the middle of the lips, a dropping jaw lowers that middle and reads as raised
    corners, so an open mouth scored as a smile (0.98 median on animated open mouths; 0.02 now).
    """
    eye = _dist(canon_pts[_EYE_OUTER[0]], canon_pts[_EYE_OUTER[1]])
    if eye <= 1e-9:
        return np.zeros(4)
    cl, cr = canon_pts[_MOUTH_CORNERS[0]], canon_pts[_MOUTH_CORNERS[1]]
    nose_y = canon_pts[_SUBNASALE][1]
    lip = canon_pts[_LIP_UP_OUTER]
    width = _dist(cl[:2], cr[:2]) / eye
    corners = (0.5 * (cl[1] + cr[1]) - nose_y) / eye
    upper_lip = (lip[1] - nose_y) / eye
    depth = (0.5 * (cl[2] + cr[2]) - lip[2]) / eye
    return np.array([width, corners, upper_lip, depth])


def smile_score(features: np.ndarray) -> float:
    z = float(((features - _SMILE_MEAN) / _SMILE_STD) @ _SMILE_W + _SMILE_B)
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def landmarks_array(face: Any) -> np.ndarray:
    """(N, 3) float64 array from a ``NormalizedLandmarkList``.

    Fast path: the serialized message is N fixed-size records (x, y, z as float32, no visibility or
    presence), decoded with numpy; anything else falls back to reading the attributes one by one.
    """
    n = len(face.landmark)
    buf = face.SerializeToString()
    if n and len(buf) == n * 17:
        rec = np.frombuffer(buf, dtype=np.uint8).reshape(n, 17)
        if (
            (rec[:, 0] == 0x0A).all()  # field 1 (landmark), length-delimited
            and (rec[:, 1] == 15).all()
            and (rec[:, 2] == 0x0D).all()  # x: field 1, fixed32
            and (rec[:, 7] == 0x15).all()  # y: field 2, fixed32
            and (rec[:, 12] == 0x1D).all()  # z: field 3, fixed32
        ):
            cols = np.ascontiguousarray(rec[:, [3, 4, 5, 6, 8, 9, 10, 11, 13, 14, 15, 16]])
            return cols.view("<f4").reshape(n, 3).astype(np.float64)
    return np.array([(p.x, p.y, p.z) for p in face.landmark], dtype=np.float64)


def _quality(bgr: np.ndarray, box: tuple[int, int, int, int] | None) -> tuple[float, float]:
    region = bgr
    if box is not None:
        x1, y1, x2, y2 = box
        if x2 > x1 and y2 > y1:
            region = bgr[y1:y2, x1:x2]
    region = cv2.cvtColor(region, cv2.COLOR_BGR2GRAY)
    brightness = float(region.mean()) if region.size else 0.0
    small = cv2.resize(region, (128, 128), interpolation=cv2.INTER_AREA)
    sharpness = float(cv2.Laplacian(small, cv2.CV_64F).var())
    return brightness, sharpness


class FaceAnalyzer:
    """Thread-safe face-signal extractor backed by a pool of MediaPipe ``FaceMesh`` objects.

    ``pool_size`` FaceMesh instances are created lazily (at most that many frames are analysed at
    once; other callers wait). ``max_faces`` caps how many faces the mesh looks for; the main face is
    the largest. See the module docstring for the ``mirrored`` flag and sign conventions.
    """

    def __init__(self, *, pool_size: int = 2, max_faces: int = 2) -> None:
        if pool_size < 1:
            raise ValueError("pool_size must be >= 1")
        if max_faces < 1:
            raise ValueError("max_faces must be >= 1")
        self.pool_size = pool_size
        self.max_faces = max_faces
        self._pool: queue.Queue[Any] = queue.Queue()
        self._created = 0
        self._all: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False

    # -- pool -------------------------------------------------------------------------------
    def _new_mesh(self) -> Any:
        import mediapipe as mp

        return mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True,
            refine_landmarks=True,
            max_num_faces=self.max_faces,
            min_detection_confidence=0.5,
        )

    def _acquire(self) -> Any:
        if self._closed:
            raise RuntimeError("FaceAnalyzer is closed")
        try:
            return self._pool.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._created < self.pool_size:
                self._created += 1
                create = True
            else:
                create = False
        if create:
            try:
                mesh = self._new_mesh()
            except BaseException:
                with self._lock:
                    self._created -= 1
                raise
            with self._lock:
                self._all.append(mesh)
            return mesh
        return self._pool.get()

    def _release(self, mesh: Any) -> None:
        self._pool.put(mesh)

    def close(self) -> None:
        """Release the MediaPipe graphs. The analyzer cannot be used afterwards."""
        with self._lock:
            self._closed = True
            meshes, self._all = self._all, []
        for mesh in meshes:
            with contextlib.suppress(Exception):
                mesh.close()

    def __enter__(self) -> FaceAnalyzer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- analysis ---------------------------------------------------------------------------
    def _mesh_faces(self, rgb: np.ndarray) -> list[np.ndarray]:
        mesh = self._acquire()
        try:
            result = mesh.process(rgb)
        finally:
            self._release(mesh)
        found = result.multi_face_landmarks or []
        return [landmarks_array(f) for f in found]

    def _detect(self, rgb: np.ndarray) -> list[np.ndarray]:
        faces = self._mesh_faces(rgb)
        if faces:
            return faces
        h, w = rgb.shape[:2]
        if min(h, w) < 200:
            return faces
        # Retry on the centre crop: small faces in wide frames are missed by the short-range detector.
        x0, y0 = w // 4, h // 4
        cw, ch = w // 2, h // 2
        crop = np.ascontiguousarray(rgb[y0 : y0 + ch, x0 : x0 + cw])
        out = []
        for lm in self._mesh_faces(crop):
            full = np.empty_like(lm)
            full[:, 0] = (lm[:, 0] * cw + x0) / w
            full[:, 1] = (lm[:, 1] * ch + y0) / h
            full[:, 2] = lm[:, 2] * cw / w
            out.append(full)
        return out

    def analyze(self, image_bgr: np.ndarray, *, mirrored: bool = False) -> FaceSignals:
        """Face signals of the main (largest) face in a uint8 BGR frame (BGRA and gray accepted).

        ``mirrored=True``: the frame is selfie-mirrored; it is flipped back before analysis so that
        yaw > 0 still means the subject turned to their own left (and left/right eyes stay the
        subject's). ``box`` is returned in the coordinates of the frame as sent.
        """
        if image_bgr.dtype != np.uint8 or image_bgr.size == 0 or image_bgr.ndim not in (2, 3):
            raise ValueError("expected a non-empty uint8 BGR, BGRA or grayscale image")
        if image_bgr.ndim == 3 and image_bgr.shape[2] == 1:
            image_bgr = image_bgr[:, :, 0]
        if image_bgr.ndim == 2:
            image_bgr = cv2.cvtColor(image_bgr, cv2.COLOR_GRAY2BGR)
        elif image_bgr.shape[2] == 4:
            image_bgr = cv2.cvtColor(image_bgr, cv2.COLOR_BGRA2BGR)
        frame = cv2.flip(image_bgr, 1) if mirrored else image_bgr
        h, w = frame.shape[:2]
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

        faces = self._detect(rgb)
        if not faces:
            brightness, sharpness = _quality(frame, None)
            return FaceSignals(0, None, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, brightness, sharpness, 0.0)

        def extent(lm: np.ndarray) -> tuple[float, float, float, float]:
            xs = lm[:468, 0] * w
            ys = lm[:468, 1] * h
            return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())

        boxes = [extent(lm) for lm in faces]
        main = max(range(len(faces)), key=lambda i: (boxes[i][2] - boxes[i][0]) * (boxes[i][3] - boxes[i][1]))
        lm = faces[main]
        x1, y1, x2, y2 = boxes[main]

        cam = landmarks_to_camera(lm, w, h)
        sim = fit_pose(cam)
        yaw, pitch, roll = euler_from_rotation(sim.rotation)

        px = cam[:, :2]  # pixel plane (y up); ratios are unaffected by the sign of y
        ear_l = eye_aspect_ratio(px, _EYE_LEFT)
        ear_r = eye_aspect_ratio(px, _EYE_RIGHT)
        mar = mouth_aspect_ratio(px)
        smile = smile_score(smile_features(sim.inverse_apply(cam[:468])))

        ib = (max(0, int(x1)), max(0, int(y1)), min(w, math.ceil(x2)), min(h, math.ceil(y2)))
        brightness, sharpness = _quality(frame, ib)
        cx, cy = 0.5 * (x1 + x2), 0.5 * (y1 + y2)
        centring = math.hypot(cx - 0.5 * w, cy - 0.5 * h) / math.hypot(w, h)
        box = (w - x2, y1, w - x1, y2) if mirrored else (x1, y1, x2, y2)
        return FaceSignals(
            faces=len(faces),
            box=box,
            yaw=yaw,
            pitch=pitch,
            roll=roll,
            eye_openness_left=ear_l,
            eye_openness_right=ear_r,
            mouth_open=mar,
            smile=smile,
            face_size=(y2 - y1) / h,
            brightness=brightness,
            sharpness=sharpness,
            centring=centring,
            landmarks=lm.astype(np.float32),
        )
