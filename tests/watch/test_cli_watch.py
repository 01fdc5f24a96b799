"""`vigilo watch` as a user runs it: a real process on a composed video file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.watch.conftest import PHONE_CENTRE, Frames, write_clip

SEGMENTS = [(1.0, False), (2.0, True), (3.0, False), (2.0, True), (1.0, False)]


def vigilo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VIGILO_STORAGE__DATA_DIR": str(cwd / "var")}
    return subprocess.run(
        [sys.executable, "-m", "vigilo", *args], capture_output=True, text=True, cwd=cwd, timeout=120, env=env
    )


@pytest.fixture(scope="module")
def folder(frames: Frames, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    write_clip(root / "exam.mp4", frames, SEGMENTS)
    return root


def test_json_events_and_clean_exit_at_the_end_of_the_file(folder: Path) -> None:
    result = vigilo("watch", "exam.mp4", "--fast", "--fps", "4", "--json", cwd=folder)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(e["change"], e["id"]) for e in events] == [("started", 1), ("ended", 1), ("started", 2), ("ended", 2)]
    assert all(e["type"] == "phone" and e["camera"] == "exam" and e["zone"] == "frame" for e in events)
    assert Path(events[0]["snapshot"]).is_file() and (folder / "var" / "vigilo.db").is_file()
    assert 1.0 <= events[1]["duration_s"] <= 2.5


def test_config_camera_by_name_and_zone_flag(folder: Path) -> None:
    x, y = PHONE_CENTRE
    (folder / "vigilo.yaml").write_text(
        "cameras:\n"
        "  defaults: {fps: 4, episode: {grace_seconds: 1}}\n"
        "  streams:\n"
        "    hall:\n"
        "      source: exam.mp4\n"
        f"      zones: [{{name: desk, polygon: [[{x - 0.1}, {y - 0.1}], [{x + 0.1}, {y - 0.1}], [{x}, {y + 0.1}]]}}]\n"
    )
    named = vigilo("watch", "hall", "--fast", "--config", "vigilo.yaml", cwd=folder)
    assert named.returncode == 0, named.stderr
    lines = named.stdout.splitlines()
    assert len(lines) == 4 and "hall / desk: phone episode" in lines[0] and "started: 1 phone(s)" in lines[0]
    assert "ended after" in lines[1]
    assert "2 episode(s)" in named.stderr
    # --zone replaces the configured zones: a zone away from the phone sees nothing
    away = vigilo("watch", "hall", "--fast", "--config", "vigilo.yaml", "--zone", "door=0,0,0.3,1", cwd=folder)
    assert away.returncode == 0, away.stderr
    assert away.stdout == "" and "0 episode(s)" in away.stderr


def test_usage_errors_are_one_line(folder: Path) -> None:
    bad_zone = vigilo("watch", "exam.mp4", "--zone", "desk=0,0,1", cwd=folder)
    assert bad_zone.returncode == 2
    assert bad_zone.stderr.strip().splitlines() == [
        "vigilo: error: --zone 'desk=0,0,1': give 4 numbers (a rectangle) or 3 or more x,y pairs"
    ]
    missing = vigilo("watch", "nope.mp4", cwd=folder)
    assert missing.returncode == 2 and "nope.mp4: no such file" in missing.stderr
    assert "Traceback" not in missing.stderr
    (folder / "junk.mp4").write_bytes(b"not a video")
    junk = vigilo("watch", "junk.mp4", "--fast", cwd=folder)
    assert junk.returncode == 1 and junk.stdout == ""
    assert junk.stderr.strip().splitlines()[-1].startswith("vigilo: cannot read junk.mp4: cannot open")
