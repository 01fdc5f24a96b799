"""The command line: frames, a playable MP4, a valid .y4m and the timeline; readable errors."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import shared_path
from vigilo.tools.face_animation import main


def test_the_cli_writes_frames_mp4_y4m_and_timeline(tmp_path: Path) -> None:
    photo = shared_path("data", "genki4k", "files", "file2933.jpg")
    out = tmp_path / "anim"
    args = ["--photo", str(photo), "--actions", "blink,open_mouth", "--out", str(out)]
    assert main([*args, "--fps", "10", "--size", "320x240", "--mp4", "--y4m", "--format", "jpg"]) == 0
    timeline = json.loads((out / "timeline.json").read_text())
    count = timeline["frames"]
    assert timeline["size"] == [320, 240] and timeline["fps"] == 10
    assert [a["action"] for a in timeline["actions"]] == ["blink", "open_mouth"]
    frames = sorted((out / "frames").glob("*.jpg"))
    assert len(frames) == count > 20
    first = cv2.imread(str(frames[0]))
    assert first is not None and first.shape == (240, 320, 3)

    capture = cv2.VideoCapture(str(out / "animation.mp4"))
    decoded = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        assert frame.shape == (240, 320, 3)
        decoded += 1
    capture.release()
    assert decoded == count

    data = (out / "animation.y4m").read_bytes()
    header, _, body = data.partition(b"\n")
    assert header == b"YUV4MPEG2 W320 H240 F10:1 Ip A1:1"
    plane = 320 * 240 * 3 // 2
    assert len(body) == count * (len(b"FRAME\n") + plane)
    # The first y4m frame decodes back to (nearly) the first frame written.
    yuv = np.frombuffer(body[6 : 6 + plane], np.uint8).reshape(240 * 3 // 2, 320)
    back = cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR_I420)
    assert np.abs(back.astype(int) - first.astype(int)).mean() < 6


def test_the_cli_refuses_bad_input_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.jpg"
    assert main(["--photo", str(missing), "--actions", "blink", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot read an image") and "\n" not in err
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((200, 200, 3), 128, np.uint8))
    assert main(["--photo", str(blank), "--actions", "blink", "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip() == "error: no face found in the photo"
    with pytest.raises(SystemExit) as exc:
        main(["--photo", str(blank), "--actions", "wave", "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
