"""Face signals on real images from ../shared/data (skipped, with the reason, when it is absent)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")
pytest.importorskip("mediapipe", reason="mediapipe==0.10.21 is not installed")

from vigilo.liveness.pose import (  # noqa: E402
    canonical_face,
    euler_from_rotation,
    fit_pose,
    fit_similarity,
    landmarks_to_camera,
)
from vigilo.liveness.signals import MIN_FACE_SIZE, FaceAnalyzer, FaceSignals, landmarks_array  # noqa: E402

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _img(*parts: str) -> np.ndarray:
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"evaluation data not present: {path}")
    img = cv2.imread(str(path))
    assert img is not None, path
    return img


def _genki_label(name: str) -> tuple[int, float]:
    """(smile, yaw in Vigilo degrees) from GENKI labels (GENKI yaw < 0 = face toward image left)."""
    path = DATA / "genki4k" / "labels.txt"
    if not path.exists():
        pytest.skip(f"evaluation data not present: {path}")
    for line in path.read_text().splitlines():
        p = line.split()
        if p and p[0] == name:
            return int(p[1]), math.degrees(float(p[2]))
    raise AssertionError(f"{name} not in GENKI labels")


@pytest.fixture(scope="module")
def analyzer() -> Iterator[FaceAnalyzer]:
    an = FaceAnalyzer(pool_size=2, max_faces=2)
    yield an
    an.close()


# -- pose maths (no data needed) --------------------------------------------------------------------


def _rot_y(deg: float) -> np.ndarray:
    a = math.radians(deg)
    return np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])


def _rot_x(deg: float) -> np.ndarray:
    a = math.radians(deg)
    return np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])


def _rot_z(deg: float) -> np.ndarray:
    a = math.radians(deg)
    return np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])


def test_canonical_face_axes() -> None:
    v = canonical_face().vertices
    assert v.shape == (468, 3)
    assert v[263, 0] > 0 > v[33, 0]  # subject's left eye outer corner at +x (image right)
    assert v[10, 1] > v[152, 1]  # forehead above chin: y up
    assert v[1, 2] > v[234, 2]  # nose tip in front of the cheek: z toward the camera


def test_similarity_fit_recovers_pose_and_conventions() -> None:
    v = canonical_face().vertices
    rot = _rot_y(25) @ _rot_x(-10) @ _rot_z(7)  # turned to own left, looking up 10, left eye up
    cam = 3.0 * v @ rot.T + np.array([100.0, -50.0, 20.0])
    sim = fit_pose(cam)
    assert sim.scale == pytest.approx(3.0, rel=1e-6)
    yaw, pitch, roll = euler_from_rotation(sim.rotation)
    assert yaw == pytest.approx(25, abs=1e-6)
    assert pitch == pytest.approx(10, abs=1e-6)
    assert roll == pytest.approx(7, abs=1e-6)
    # Turning to the subject's own left moves the nose tip toward the image's right.
    assert cam[1, 0] - cam[168, 0] > 0
    # A reflection is never returned as a rotation.
    mirrored = cam * np.array([-1.0, 1.0, 1.0])
    assert np.linalg.det(fit_similarity(v, mirrored).rotation) == pytest.approx(1.0)


def test_landmarks_to_camera_axes() -> None:
    lm = np.array([[0.75, 0.25, -0.1]])
    cam = landmarks_to_camera(lm, 640, 480)
    assert cam.tolist() == [[480.0, -120.0, 64.0]]


# -- real images ------------------------------------------------------------------------------------


def test_frontal_faces_have_small_yaw(analyzer: FaceAnalyzer) -> None:
    s = analyzer.analyze(_img("aflw2000", "image00050.jpg"))  # AFLW yaw 0.94°
    assert s.faces == 1
    assert abs(s.yaw) < 8
    assert abs(s.roll) < 15
    _, yaw = _genki_label("file0001.jpg")  # GENKI yaw -1.2°
    g = analyzer.analyze(_img("genki4k", "files", "file0001.jpg"))
    assert g.faces == 1
    assert abs(g.yaw - yaw) < 10 and abs(g.yaw) < 10


@pytest.mark.parametrize(
    ("name", "aflw_yaw"),
    [("image00251.jpg", -54.69), ("image00516.jpg", -35.71), ("image00475.jpg", 65.62), ("image00081.jpg", 17.91)],
)
def test_aflw_turn_sign(analyzer: FaceAnalyzer, name: str, aflw_yaw: float) -> None:
    # AFLW2000: yaw > 0 ⇒ face toward the image's left ⇒ the subject turned to their own RIGHT ⇒ Vigilo yaw < 0.
    s = analyzer.analyze(_img("aflw2000", name))
    assert s.faces == 1
    assert s.yaw * aflw_yaw < 0
    assert abs(s.yaw - (-aflw_yaw)) < 10


@pytest.mark.parametrize("name", ["file0039.jpg", "file0115.jpg", "file0041.jpg", "file0281.jpg"])
def test_genki_turn_sign(analyzer: FaceAnalyzer, name: str) -> None:
    # GENKI: yaw < 0 ⇒ face toward the image's left ⇒ Vigilo yaw < 0 (same sign, radians → degrees).
    _, yaw = _genki_label(name)
    assert abs(yaw) > 25
    s = analyzer.analyze(_img("genki4k", "files", name))
    assert s.faces == 1
    assert s.yaw * yaw > 0
    assert abs(s.yaw) > 15


def test_pitch_sign(analyzer: FaceAnalyzer) -> None:
    up = analyzer.analyze(_img("aflw2000", "image00430.jpg"))  # AFLW pitch +34° (looking up)
    level = analyzer.analyze(_img("aflw2000", "image00050.jpg"))  # AFLW pitch -4.7°
    assert up.pitch > 20
    assert up.pitch > level.pitch + 20


@pytest.mark.parametrize(
    ("smiling", "not_smiling"), [("file0007.jpg", "file2175.jpg"), ("file0011.jpg", "file2183.jpg")]
)
def test_smile_orders_genki_pair(analyzer: FaceAnalyzer, smiling: str, not_smiling: str) -> None:
    # The first frontal (|yaw| < 10°) smiling and non-smiling files of the held-out half (number 3 mod 4).
    assert _genki_label(smiling)[0] == 1 and _genki_label(not_smiling)[0] == 0
    a = analyzer.analyze(_img("genki4k", "files", smiling))
    b = analyzer.analyze(_img("genki4k", "files", not_smiling))
    assert a.faces == 1 and b.faces == 1
    assert a.smile > 0.5 > b.smile
    assert 0.0 <= b.smile <= a.smile <= 1.0


def test_signal_ranges_and_quality(analyzer: FaceAnalyzer) -> None:
    img = _img("aflw2000", "image00050.jpg")
    s = analyzer.analyze(img)
    assert s.box is not None and s.landmarks is not None
    assert s.landmarks.shape == (478, 3)
    x1, y1, x2, y2 = s.box
    assert 0 <= x1 < x2 <= img.shape[1] and 0 <= y1 < y2 <= img.shape[0]
    assert s.face_size == pytest.approx((y2 - y1) / img.shape[0])
    assert 0.15 < s.eye_openness_left < 0.5 and 0.15 < s.eye_openness_right < 0.5
    assert 0 <= s.mouth_open < 0.3
    assert 0 < s.brightness < 255 and s.sharpness > 0
    assert 0 <= s.centring < 0.5
    dark = analyzer.analyze((img * 0.3).astype(np.uint8))
    assert dark.faces == 1 and dark.brightness < s.brightness * 0.5
    blurred = analyzer.analyze(cv2.GaussianBlur(img, (0, 0), 3))
    assert blurred.faces == 1 and blurred.sharpness < s.sharpness * 0.5


def test_blank_image_has_no_face(analyzer: FaceAnalyzer) -> None:
    s = analyzer.analyze(np.full((480, 640, 3), 128, np.uint8))
    assert s.faces == 0 and s.box is None and s.landmarks is None
    assert s.brightness == pytest.approx(128)
    assert not s.too_small


def test_two_faces_side_by_side(analyzer: FaceAnalyzer) -> None:
    a = _img("aflw2000", "image00050.jpg")
    b = _img("aflw2000", "image00430.jpg")
    both = np.hstack([a, b])
    s = analyzer.analyze(both)
    assert s.faces == 2
    assert analyzer.analyze(a).faces == 1


def test_mirrored_flag(analyzer: FaceAnalyzer) -> None:
    img = _img("aflw2000", "image00251.jpg")  # subject turned to own left (Vigilo yaw ≈ +55)
    flipped = np.ascontiguousarray(img[:, ::-1])
    orig = analyzer.analyze(img)
    as_plain = analyzer.analyze(flipped)
    as_mirror = analyzer.analyze(flipped, mirrored=True)
    assert orig.yaw > 30
    assert as_plain.yaw < -30  # a flipped frame read as unmirrored: the sign changes
    assert as_mirror.yaw == pytest.approx(orig.yaw, abs=1e-3)  # flag set: subject-relative yaw kept
    assert as_mirror.eye_openness_left == pytest.approx(orig.eye_openness_left, abs=1e-6)
    # The box is reported in the coordinates of the frame as sent.
    assert orig.box is not None and as_mirror.box is not None
    w = img.shape[1]
    assert as_mirror.box[0] == pytest.approx(w - orig.box[2], abs=1e-3)
    assert as_mirror.box[2] == pytest.approx(w - orig.box[0], abs=1e-3)


def test_pool_from_several_threads() -> None:
    names = ["image00050.jpg", "image00081.jpg", "image00251.jpg", "image00516.jpg"]
    imgs = [_img("aflw2000", n) for n in names]
    with FaceAnalyzer(pool_size=2) as an:
        ref = [an.analyze(im) for im in imgs]
        jobs = imgs * 4
        with ThreadPoolExecutor(max_workers=4) as ex:
            got: list[FaceSignals] = list(ex.map(an.analyze, jobs))
        assert an._created <= 2
    for i, s in enumerate(got):
        r = ref[i % len(imgs)]
        assert s.faces == r.faces == 1
        assert s.yaw == pytest.approx(r.yaw, abs=1e-6)
        assert s.eye_openness_left == pytest.approx(r.eye_openness_left, abs=1e-9)


def test_rejects_non_image_input(analyzer: FaceAnalyzer) -> None:
    with pytest.raises(ValueError):
        analyzer.analyze(np.zeros((48, 64, 3), np.float32))
    with pytest.raises(ValueError):
        analyzer.analyze(np.zeros((0, 64, 3), np.uint8))


def test_closed_analyzer_refuses() -> None:
    an = FaceAnalyzer(pool_size=1)
    an.close()
    with pytest.raises(RuntimeError):
        an.analyze(np.zeros((10, 10, 3), np.uint8))


def test_small_face_in_wide_frame_is_found_and_flagged(analyzer: FaceAnalyzer) -> None:
    # A face about 11 % of the frame height in a 1280x960 frame: the full-frame pass misses it,
    # the centre-crop retry finds it, and it is reported as too small.
    face = cv2.resize(_img("aflw2000", "image00050.jpg"), (200, 200), interpolation=cv2.INTER_AREA)
    canvas = np.full((960, 1280, 3), 90, np.uint8)
    canvas[380:580, 540:740] = face
    s = analyzer.analyze(canvas)
    assert s.faces == 1
    assert s.too_small and 0.05 < s.face_size < MIN_FACE_SIZE
    assert s.box is not None and 540 <= s.box[0] < s.box[2] <= 740
    assert abs(s.yaw) < 10


def test_landmarks_fast_path_matches_attributes() -> None:
    import mediapipe as mp

    img = _img("aflw2000", "image00081.jpg")
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True) as fm:
        res = fm.process(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
    face = res.multi_face_landmarks[0]
    slow = np.array([(p.x, p.y, p.z) for p in face.landmark])
    fast = landmarks_array(face)
    assert fast.shape == (478, 3)
    np.testing.assert_array_equal(fast, slow.astype(np.float32).astype(np.float64))
    face.landmark[0].visibility = 0.5  # a record with an extra field: must fall back, not misparse
    np.testing.assert_allclose(landmarks_array(face)[1:], slow[1:], rtol=0, atol=1e-7)
