"""CameraWatcher on composed video files (video time): one event per episode, zones, masks, schedules."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.watch.conftest import PHONE_CENTRE, Frames, camera, truth, watch, write_clip
from vigilo.config import DetectorConfig
from vigilo.phone.detector import PhoneDetector
from vigilo.phone.events import EventStore, PhoneEvent
from vigilo.phone.watcher import CameraWatcher

# phone from 2 s to 5 s and from 8 s to 10 s, 12 s in all
SEGMENTS = [(2.0, False), (3.0, True), (3.0, False), (2.0, True), (2.0, False)]


@pytest.fixture(scope="module")
def clip(frames: Frames, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip(tmp_path_factory.mktemp("clips") / "exam.mp4", frames, SEGMENTS)


def test_one_event_per_episode_with_times_and_snapshot(clip: Path, detector: PhoneDetector, store: EventStore) -> None:
    seen, watcher = watch(camera(clip), detector, store)
    started, ended = seen.of("started"), seen.of("ended")
    assert len(started) == 2 and len(ended) == 2 and not seen.of("updated")
    assert [e.id for e in started] == [e.id for e in ended]
    base = watcher.source.start_wall
    for (appears, disappears), start, end in zip(truth(SEGMENTS), started, ended, strict=True):
        assert abs(start.started_at.timestamp() - base - appears) <= 1.0
        assert end.ended_at is not None and abs(end.ended_at.timestamp() - base - disappears) <= 1.0
        assert (start.status, end.status, start.zone, start.phone_count) == ("new", "ended", "frame", 1)
        assert start.peak_score > 0.5 and start.track_ids
    snapshot = started[0].snapshot
    assert snapshot is not None and snapshot.exists()
    image = cv2.imread(str(snapshot))
    assert image.shape == (320, 320, 3)
    assert [e.status for e in store.query()] == ["ended", "ended"]
    status = watcher.status()
    assert status.finished and status.open_episodes == 0 and status.frames == 48 and status.lag_ms is None


def test_zones(clip: Path, detector: PhoneDetector, store: EventStore) -> None:
    x, y = PHONE_CENTRE
    zones = [
        {"name": "window", "polygon": [[0, 0], [0.3, 0], [0.3, 1], [0, 1]]},
        {"name": "desk", "polygon": [[x - 0.1, y - 0.1], [x + 0.1, y - 0.1], [x + 0.1, y + 0.1], [x - 0.1, y + 0.1]]},
    ]
    seen, _ = watch(camera(clip, zones=zones), detector, store)
    assert [(e.change, e.zone) for e in seen.phone] == [("started", "desk"), ("ended", "desk")] * 2
    # a zone with a threshold above the phone's score, and one whose smallest box is bigger than the phone
    strict = [
        {"name": "strict", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]], "threshold": 0.95},
        {"name": "big-only", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]], "min_area": 0.5},
    ]
    seen, _ = watch(camera(clip, zones=strict), detector, store)
    assert seen.phone == []


def test_masks(clip: Path, detector: PhoneDetector, store: EventStore) -> None:
    x, y = PHONE_CENTRE
    over = [{"polygon": [[x - 0.05, y - 0.05], [x + 0.05, y - 0.05], [x + 0.05, y + 0.05], [x - 0.05, y + 0.05]]}]
    seen, _ = watch(camera(clip, masks=over), detector, store)
    assert seen.phone == []
    elsewhere = [{"polygon": [[0, 0], [0.2, 0], [0.2, 0.2], [0, 0.2]]}]
    seen, _ = watch(camera(clip, masks=elsewhere), detector, store)
    assert len(seen.of("started")) == 2


def _clock(wall: float) -> str:
    return dt.datetime.fromtimestamp(wall, tz=dt.UTC).strftime("%H:%M:%S")


def test_schedules(clip: Path, detector: PhoneDetector, store: EventStore) -> None:
    today = dt.datetime.now(dt.UTC).date()
    tomorrow = today + dt.timedelta(days=1)
    off = {"timezone": "UTC", "windows": [{"date": tomorrow.isoformat()}]}
    seen, _ = watch(camera(clip, schedule=off), detector, store)
    assert seen.phone == []
    holiday = {"timezone": "UTC", "except": [today.isoformat(), tomorrow.isoformat()]}
    seen, _ = watch(camera(clip, schedule=holiday), detector, store)
    assert seen.phone == []
    # watching starts 6.5 s into the clip (between the two phones): only the second episode counts
    start = time.time() + 6.5
    if _clock(start) > _clock(start + 30):
        pytest.skip("too close to midnight UTC for a same-day window")
    late = {"timezone": "UTC", "windows": [{"start": _clock(start), "end": _clock(start + 3600)}]}
    seen, watcher = watch(camera(clip, schedule=late), detector, store)
    assert [e.change for e in seen.phone] == ["started", "ended"]
    assert abs(seen.phone[0].started_at.timestamp() - watcher.source.start_wall - 8.0) <= 1.0


def test_person_rule_end_to_end(clip: Path, store: EventStore) -> None:
    # the phone in the test frame is held by a person: with persons detected, the rule lets it through
    with_persons = PhoneDetector.from_config(DetectorConfig(classes=["cell phone", "person"], threads=1))
    seen, _ = watch(camera(clip, person={"enabled": True}), with_persons, store)
    assert len(seen.of("started")) == 2
    seen, _ = watch(camera(clip, person={"enabled": True, "threshold": 0.99}), with_persons, store)
    assert seen.phone == []
    with pytest.raises(ValueError, match="person"):
        CameraWatcher(camera(clip, person={"enabled": True}), PhoneDetector.from_config(DetectorConfig()), store)


def test_three_phones_make_an_urgent_episode(
    frames: Frames, detector: PhoneDetector, store: EventStore, tmp_path: Path
) -> None:
    grid = np.vstack([np.hstack([frames.phone] * 2)] * 2)  # four copies: three score 0.33-0.64 in the video, one ~0.22
    empty = cv2.resize(frames.empty, grid.shape[1::-1])
    path = tmp_path / "class.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, grid.shape[1::-1])
    for index in range(40):
        writer.write(grid if 10 <= index < 30 else empty)
    writer.release()
    seen, _ = watch(camera(path, threshold=0.3, episode={"grace_seconds": 1.0, "urgent_phones": 3}), detector, store)
    assert len(seen.of("started")) == 1 and len(seen.of("ended")) == 1
    (end,) = seen.of("ended")
    assert end.phone_count == 3 and end.severity == "urgent" and len(end.track_ids) >= 3
    assert all(e.id == end.id for e in seen.phone)  # updates, if any, belong to the same episode


def test_a_failing_callback_does_not_stop_the_watcher(clip: Path, detector: PhoneDetector, store: EventStore) -> None:
    calls: list[str] = []

    def broken(event: PhoneEvent) -> None:
        calls.append(event.change)
        raise RuntimeError("alert pipeline down")

    watcher = CameraWatcher(camera(clip), detector, store, on_event=broken)
    watcher.run()
    assert calls == ["started", "ended", "started", "ended"]
    assert len(store.query(status="ended")) == 2
