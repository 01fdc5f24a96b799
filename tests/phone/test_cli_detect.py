"""`vigilo detect` and `vigilo models` as a user runs them: real processes, real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import shared_path
from tests.phone.onnx_builders import build
from tests.phone.test_default_model import CLEAR_PHONE


def vigilo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vigilo", *args], capture_output=True, text=True, cwd=cwd, timeout=180)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("media")
    phone = cv2.imread(str(shared_path("data", "phone", "necem", "test", "images", f"{CLEAR_PHONE}.jpg")))
    (root / "nested" / "deeper").mkdir(parents=True)
    cv2.imwrite(str(root / "phone.jpg"), phone)
    cv2.imwrite(str(root / "nested" / "deeper" / "empty.png"), np.full((480, 640, 3), 200, np.uint8))
    (root / "nested" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (root / "notes.txt").write_text("not media; folders skip it")
    writer = cv2.VideoWriter(str(root / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (640, 640))
    assert writer.isOpened()
    for index in range(10):
        writer.write(phone if index >= 5 else np.full((640, 640, 3), 30, np.uint8))
    writer.release()
    return root


def test_json_lines_for_images_folders_and_videos(media: Path) -> None:
    result = vigilo("detect", str(media), "--json", "--every", "2", cwd=media)
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    by_name = {(Path(r["path"]).name, r["frame"]): r for r in rows}
    # the broken file is reported, the rest still runs, and the exit code says so
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"vigilo: cannot read {media / 'nested' / 'broken.jpg'}: not a readable image"
    ]
    assert "Traceback" not in result.stderr
    assert set(by_name) == {
        ("clip.mp4", 0), ("clip.mp4", 2), ("clip.mp4", 4), ("clip.mp4", 6), ("clip.mp4", 8),
        ("empty.png", None), ("phone.jpg", None),
    }  # fmt: skip
    phone = by_name[("phone.jpg", None)]
    assert (phone["width"], phone["height"]) == (640, 640)
    assert [d["label"] for d in phone["detections"]] == ["cell phone"]
    x1, y1, x2, y2 = phone["detections"][0]["box"]
    assert 200 < x1 < x2 < 500 and 200 < y1 < y2 < 600
    assert by_name[("empty.png", None)]["detections"] == []
    assert [by_name[("clip.mp4", f)]["detections"] != [] for f in (0, 2, 4, 6, 8)] == [
        False,
        False,
        False,
        True,
        True,
    ]


def test_threshold_and_annotated_output(media: Path, tmp_path: Path) -> None:
    out = tmp_path / "annotated"
    result = vigilo("detect", str(media / "phone.jpg"), "--threshold", "0.95", "--save-annotated", str(out), cwd=media)
    assert result.returncode == 0, result.stderr
    assert "no phone" in result.stdout  # the phone scores below 0.95
    saved = list(out.glob("*.jpg"))
    assert len(saved) == 1 and cv2.imread(str(saved[0])).shape == (640, 640, 3)


def test_missing_path_and_bad_model(media: Path, tmp_path: Path) -> None:
    missing = vigilo("detect", str(media / "nope.jpg"), cwd=media)
    assert missing.returncode == 1
    assert "no such file or folder" in missing.stderr
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    bad = vigilo("detect", str(media / "phone.jpg"), "--model", str(junk), cwd=media)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [f"vigilo: error: {junk} is not an ONNX model"]


def test_models_check_default_model(tmp_path: Path) -> None:
    result = vigilo("models", "check", "--runs", "3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "layout:      yolox" in result.stdout
    assert "input:       416x416" in result.stdout
    assert "'cell phone' (index 67)" in result.stdout
    assert "timing:      p50" in result.stdout


def test_models_check_rejects_a_classifier_cleanly(tmp_path: Path) -> None:
    classifier = build(tmp_path / "resnet.onnx", {"logits": np.zeros((1, 1000), np.float32)}, input_hw=(224, 224))
    result = vigilo("models", "check", str(classifier), cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "output layout not recognised" in lines[0]
    assert "Traceback" not in result.stderr


def test_models_lists_the_bundled_model(tmp_path: Path) -> None:
    result = vigilo("models", cwd=tmp_path)
    assert result.returncode == 0
    assert "yolox-nano-coco" in result.stdout and "ok" in result.stdout
