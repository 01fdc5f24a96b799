"""Camera config: defaults merged into cameras, schedules (an exam timetable in a few YAML lines), clear errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from vigilo.config import ConfigError, load_settings
from vigilo.config.cameras import CamerasConfig

SHANGHAI = ZoneInfo("Asia/Shanghai")

EXAM_YAML = """
cameras:
  defaults:
    fps: 2
    confirm: {min_frames: 3, window: 5}
    schedule:
      timezone: Asia/Shanghai
      windows:
        - {date: 2026-06-07, start: "09:00", end: "11:30"}
        - {date: 2026-06-07, start: "15:00", end: "17:00"}
        - {from: 2026-06-08, to: 2026-06-09, start: "09:00", end: "11:30"}
  streams:
    room-101:
      source: rtsp://10.0.0.11/stream1
      zones:
        - {name: desks, polygon: [[0.1, 0.3], [0.9, 0.3], [0.9, 1.0], [0.1, 1.0]], threshold: 0.4}
    room-102:
      source: rtsp://10.0.0.12/stream1
      fps: 4
      confirm: {min_frames: 2}
events:
  retain_days: 7
"""


def at(year: int, month: int, day: int, hour: int, minute: int) -> float:
    return dt.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI).timestamp()


def test_exam_timetable(tmp_path: Path) -> None:
    path = tmp_path / "vigilo.yaml"
    path.write_text(EXAM_YAML)
    settings = load_settings(path)
    room = settings.cameras.streams["room-101"]
    schedule = room.schedule
    assert schedule.active(at(2026, 6, 7, 9, 0)) and schedule.active(at(2026, 6, 7, 11, 29))
    assert not schedule.active(at(2026, 6, 7, 11, 30))  # end is exclusive
    assert not schedule.active(at(2026, 6, 7, 13, 0))
    assert schedule.active(at(2026, 6, 7, 16, 0))
    assert schedule.active(at(2026, 6, 9, 10, 0)) and not schedule.active(at(2026, 6, 10, 10, 0))
    # the same instant in UTC: 02:00 UTC is 10:00 in Shanghai
    assert schedule.active(dt.datetime(2026, 6, 8, 2, 0, tzinfo=dt.UTC).timestamp())
    assert settings.events.retain_days == 7


def test_defaults_merge_into_each_camera(tmp_path: Path) -> None:
    cameras = CamerasConfig.model_validate(yaml.safe_load(EXAM_YAML)["cameras"])
    one, two = cameras.streams["room-101"], cameras.streams["room-102"]
    assert (one.name, one.fps, one.confirm.min_frames, one.confirm.window) == ("room-101", 2, 3, 5)
    assert (two.fps, two.confirm.min_frames, two.confirm.window) == (4, 2, 5)  # nested keys merge one by one
    assert two.schedule.timezone == "Asia/Shanghai" and len(two.schedule.windows) == 3
    assert one.zones[0].threshold == 0.4 and two.zones == []
    adhoc = cameras.adhoc("clip.mp4", fps=1)
    assert (adhoc.source, adhoc.fps, adhoc.confirm.min_frames) == ("clip.mp4", 1, 3)


def test_cameras_as_a_list() -> None:
    cameras = CamerasConfig.model_validate({"streams": [{"name": "a", "source": "0"}, {"name": "b", "source": "1"}]})
    assert list(cameras.streams) == ["a", "b"]


def test_weekly_schedule_overnight_and_except() -> None:
    cameras = CamerasConfig.model_validate(
        {
            "defaults": {
                "schedule": {
                    "timezone": "Asia/Shanghai",
                    "windows": [{"days": ["mon", "tue"], "start": "22:00", "end": "06:00"}],
                    "except": ["2026-06-02"],
                }
            },
            "streams": {"lab": {"source": "0"}},
        }
    )
    schedule = cameras.streams["lab"].schedule
    assert schedule.active(at(2026, 6, 1, 23, 0))  # Monday night
    assert schedule.active(at(2026, 6, 1, 5, 0))  # Monday early morning
    assert not schedule.active(at(2026, 6, 3, 23, 0))  # Wednesday
    assert not schedule.active(at(2026, 6, 2, 23, 0))  # a Tuesday, but an exception


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ("cameras:\n  streams:\n    a: {source: '0', fsp: 2}\n", "fsp"),
        ("cameras:\n  defaults:\n    schedule: {timezone: Mars/Olympus}\n", "Mars/Olympus"),
        ("cameras:\n  defaults:\n    zones: [{name: z, polygon: [[0, 0], [2, 0], [1, 1]]}]\n", "outside"),
        ("cameras:\n  defaults:\n    confirm: {min_frames: 6, window: 5}\n", "min_frames"),
    ],
)
def test_errors_name_the_bad_key(tmp_path: Path, snippet: str, message: str) -> None:
    path = tmp_path / "vigilo.yaml"
    path.write_text(snippet)
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    assert message in str(error.value)
