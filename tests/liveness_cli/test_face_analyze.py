"""`vigilo face analyze`: real GENKI-4K photos and a real ZJU Eyeblink clip through the command line."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from tests.conftest import shared_path
from tests.liveness_cli.conftest import json_lines, vigilo
from vigilo.liveness.evaluate import match_intervals
from vigilo.tools.face_animation import main as animate_main

FRAME_KEYS = {"path", "frame", "face", "faces", "yaw", "pitch", "roll", "ear", "mar", "smile", "smiling"}
FRAME_KEYS |= {"eyes_closed", "mouth_open"}
EVENT_TYPES = {"blink", "turn_left", "turn_right", "mouth_open", "smile"}

# GENKI-4K photos with a clear label: (file, smiling, turn) where turn is the label's direction in Vigilo's
# convention (GENKI yaw < 0 = face toward the image's left = the subject's right), 0 = frontal (|yaw| < 2°).
GENKI = [
    ("file0039.jpg", True, +1),
    ("file0387.jpg", True, +1),
    ("file0041.jpg", True, -1),
    ("file0199.jpg", True, -1),
    ("file2179.jpg", False, +1),
    ("file2199.jpg", False, +1),
    ("file2229.jpg", False, -1),
    ("file2257.jpg", False, -1),
    ("file0011.jpg", True, 0),
    ("file2183.jpg", False, 0),
]


def genki_labels() -> dict[str, tuple[bool, float]]:
    labels = {}
    for line in shared_path("data", "genki4k", "labels.txt").read_text().splitlines():
        parts = line.split()
        labels[parts[0]] = (parts[1] == "1", math.degrees(float(parts[2])))
    return labels


def check_frame_schema(row: dict[str, object]) -> None:
    assert set(row) == FRAME_KEYS
    assert isinstance(row["path"], str) and isinstance(row["frame"], int)
    assert isinstance(row["face"], bool) and isinstance(row["faces"], int)
    for key in ("yaw", "pitch", "roll", "ear", "mar", "smile"):
        assert isinstance(row[key], float) if row["face"] else row[key] is None, (key, row)
    for key in ("smiling", "eyes_closed", "mouth_open"):
        assert isinstance(row[key], bool) if row["face"] else row[key] is None, (key, row)


def test_genki_photos_yaw_sign_and_smile_match_the_labels(tmp_path: Path) -> None:
    files = shared_path("data", "genki4k", "files")
    labels = genki_labels()
    folder = tmp_path / "genki"
    folder.mkdir()
    for name, smiling, turn in GENKI:
        label_smile, label_yaw = labels[name]
        assert label_smile == smiling and ((turn == 0 and abs(label_yaw) < 2) or turn * label_yaw > 20), name
        (folder / name).symlink_to(files / name)  # read in place, nothing copied
    result = vigilo("face", "analyze", str(folder), "--json")
    assert result.exit_code == 0, result.stderr
    rows = {Path(r["path"]).name: r for r in json_lines(result)}
    assert set(rows) == {name for name, _, _ in GENKI}  # one line per image, no events line for photos
    for name, smiling, turn in GENKI:
        row = rows[name]
        check_frame_schema(row)
        assert row["frame"] == 0 and row["face"] and row["faces"] == 1, row
        assert row["smiling"] is smiling, row
        if turn == 0:
            assert abs(row["yaw"]) < 10, row
        else:
            assert turn * row["yaw"] > 10, row


def test_zju_clip_events_are_the_labelled_blinks(zju_clip: tuple[Path, list[tuple[int, int]], int, int]) -> None:
    mp4, blinks, first, last = zju_clip
    result = vigilo("face", "analyze", str(mp4), "--json")
    assert result.exit_code == 0, result.stderr
    rows = json_lines(result)
    frames, summary = rows[:-1], rows[-1]
    assert [r["frame"] for r in frames] == list(range(len(frames))) and len(frames) > last
    for row in frames:
        check_frame_schema(row)
        assert row["path"] == str(mp4)
    assert set(summary) == {"path", "events"} and summary["path"] == str(mp4)
    for event in summary["events"]:
        assert set(event) == {"type", "start_frame", "end_frame"} and event["type"] in EVENT_TYPES
        assert 0 <= event["start_frame"] <= event["end_frame"] < len(frames)
    predicted = [(e["start_frame"], e["end_frame"]) for e in summary["events"] if e["type"] == "blink"]
    assert len(blinks) == 3
    # every labelled blink found once, nothing else inside the annotated frames
    assert match_intervals(predicted, blinks) == len(blinks)
    assert len([p for p in predicted if p[1] >= first and p[0] <= last]) == len(blinks)
    # the subject only blinks: no turn, mouth or smile events
    assert {e["type"] for e in summary["events"]} == {"blink"}
    # per-frame eyes_closed flags agree: closed frames lie inside labelled blinks, and each blink has some
    closed = [r["frame"] for r in frames if r["eyes_closed"]]
    assert closed and all(any(a <= f <= b for a, b in blinks) for f in closed)
    assert all(any(a <= f <= b for f in closed) for a, b in blinks)


def test_readable_lines_without_json(zju_clip: tuple[Path, list[tuple[int, int]], int, int]) -> None:
    photo = shared_path("data", "genki4k", "files", "file0039.jpg")
    result = vigilo("face", "analyze", str(photo))
    assert result.exit_code == 0, result.stderr
    line = result.stdout.strip()
    assert re.fullmatch(
        rf"{re.escape(str(photo))}#0  faces 1  yaw +\+\d+\.\d  pitch .*  smile (0\.9\d|1\.00)  \[.*smiling\]", line
    ), line


@pytest.mark.parametrize("kind", ["missing", "empty_folder", "not_an_image", "not_a_video"])
def test_bad_input_exits_with_one_readable_line(tmp_path: Path, kind: str) -> None:
    path = {
        "missing": tmp_path / "nope.jpg",
        "empty_folder": tmp_path,
        "not_an_image": tmp_path / "text.jpg",
        "not_a_video": tmp_path / "broken.mp4",
    }[kind]
    if kind == "not_an_image":
        path.write_text("not a picture")
    if kind == "not_a_video":
        path.write_bytes(b"\x00\x00\x00\x18ftypmp42 truncated")
    result = vigilo("face", "analyze", str(path), "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vigilo: error: ") and str(path) in lines[0], result.stderr


def test_folder_with_a_bad_file_reports_it_and_analyses_the_rest(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").symlink_to(shared_path("data", "genki4k", "files", "file0039.jpg"))
    (tmp_path / "b.png").write_bytes(b"\x89PNG broken")
    result = vigilo("face", "analyze", str(tmp_path), "--json")
    assert result.exit_code == 1
    rows = json_lines(result)
    assert [Path(r["path"]).name for r in rows] == ["a.jpg"] and rows[0]["face"]
    assert "b.png: not a readable image" in result.stderr


def test_animated_face_events_match_its_timeline(tmp_path: Path) -> None:
    """A real photo animated by the project's harness (known timing): every action is one event of its type
    inside its window, in order. A session's smile rule also fires while the mouth opens wide (the smile
    score rises with the open mouth; decision.py lets a smile step pass that way), so an extra smile event
    is allowed only inside the open-mouth window."""
    photo = shared_path("data", "genki4k", "files", "file2933.jpg")
    out = tmp_path / "anim"
    actions = ["turn_left", "blink", "open_mouth", "smile", "turn_right"]
    args = ["--photo", str(photo), "--actions", ",".join(actions), "--out", str(out)]
    assert animate_main([*args, "--fps", "10", "--size", "320x240", "--mp4", "--format", "jpg"]) == 0
    timeline = json.loads((out / "timeline.json").read_text())
    result = vigilo("face", "analyze", str(out / "animation.mp4"), "--json")
    assert result.exit_code == 0, result.stderr
    rows = json_lines(result)
    assert len(rows) == timeline["frames"] + 1
    events = rows[-1]["events"]
    kind = {"open_mouth": "mouth_open"}
    windows = {kind.get(a["action"], a["action"]): (a["start_frame"], a["end_frame"]) for a in timeline["actions"]}
    found = []
    for event in events:
        start, end = windows[event["type"]]
        inside = start <= event["start_frame"] <= event["end_frame"] <= end
        if inside:
            found.append(event["type"])
        else:
            mouth_start, mouth_end = windows["mouth_open"]
            assert event["type"] == "smile" and mouth_start <= event["start_frame"] <= event["end_frame"] <= mouth_end
    assert found == [kind.get(a, a) for a in actions], events
