"""Episode clips (`events.clips`): the sampled frames from before the start to after the end, as MP4, stored
beside the event, served by the API, counted in the disk budget."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from starlette.testclient import TestClient

from tests.watch.conftest import Frames, camera, truth, watch, write_clip
from vigilo.api.app import create_app
from vigilo.config import load_settings
from vigilo.config.cameras import EventsConfig
from vigilo.phone.detector import PhoneDetector
from vigilo.phone.events import EventStore
from vigilo.phone.watcher import CameraWatcher

SEGMENTS = [(2.0, False), (3.0, True), (3.0, False), (2.0, True), (2.0, False)]  # phone 2-5 s and 8-10 s
CLIPS = {"enabled": True, "before_seconds": 1.0, "after_seconds": 1.0}
FPS = 4  # the camera's sampling rate in tests/watch/conftest.camera


@pytest.fixture(scope="module")
def clip(frames: Frames, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip(tmp_path_factory.mktemp("clips") / "exam.mp4", frames, SEGMENTS)


def read_video(path: Path) -> tuple[list[np.ndarray], str]:
    capture = cv2.VideoCapture(str(path))
    fourcc = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode(errors="replace")
    images = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        images.append(image)
    capture.release()
    return images, fourcc


def run_with_clips(clip: Path, detector: PhoneDetector, store: EventStore) -> list[int]:
    events = EventsConfig.model_validate({"clips": CLIPS})
    watcher = CameraWatcher(camera(clip), detector, store, events=events)
    watcher.run()  # returns once the writer has finished the queued clips
    return [e.id for e in store.query()][::-1]


def test_each_episode_gets_a_clip_from_before_its_start_to_after_its_end(
    clip: Path, detector: PhoneDetector, store: EventStore
) -> None:
    ids = run_with_clips(clip, detector, store)
    assert len(ids) == 2
    for event_id, (appears, disappears) in zip(ids, truth(SEGMENTS), strict=True):
        event = store.get(event_id)
        assert event is not None and event.clip is not None and event.clip.is_file()
        assert event.clip.is_relative_to(store.data_dir / "clips" / "room-101")
        images, fourcc = read_video(event.clip)
        expected = (disappears - appears + 2 * 1.0) * FPS  # the episode plus a second each side, at 4 fps
        assert expected - 4 <= len(images) <= expected + 8, (len(images), expected)
        if shutil.which("ffmpeg"):
            assert fourcc.lower() in ("avc1", "h264"), fourcc
        # the pre-roll shows the scene before the phone; the middle shows the phone
        assert not [d for d in detector.detect([images[0]])[0] if d.label != "person"]
        assert [d for d in detector.detect([images[len(images) // 2]])[0] if d.label != "person"]


def test_without_clips_nothing_is_recorded(clip: Path, detector: PhoneDetector, store: EventStore) -> None:
    seen, _ = watch(camera(clip), detector, store)
    assert seen.of("ended") and all(e.clip is None for e in store.query())
    assert not (store.data_dir / "clips").exists()


def test_clips_count_in_the_disk_budget_and_go_before_snapshots(
    clip: Path, detector: PhoneDetector, store: EventStore
) -> None:
    ids = run_with_clips(clip, detector, store)
    clip_files = [store.get(i).clip for i in ids]  # type: ignore[union-attr]
    snapshots = sum(store.get(i).snapshot.stat().st_size for i in ids)  # type: ignore[union-attr]
    report = store.cleanup(retain_days=30, max_disk_mb=(snapshots + 100) / 1024 / 1024)
    assert report.snapshots_deleted == 0 and report.events_deleted == 0
    assert all(path is not None and not path.exists() for path in clip_files)
    assert all(store.get(i).clip is None and store.get(i).snapshot is not None for i in ids)  # type: ignore[union-attr]
    assert store.clip_bytes() == 0


def test_the_api_serves_the_clip(clip: Path, detector: PhoneDetector, tmp_path: Path, frames: Frames) -> None:
    config = tmp_path / "vigilo.yaml"
    config.write_text(yaml.safe_dump({"storage": {"data_dir": str(tmp_path / "var")}}), encoding="utf-8")
    app = create_app(load_settings(config, env_file=None))
    store = app.state.services.event_store
    ids = run_with_clips(clip, detector, store)
    client = TestClient(app, client=("127.0.0.1", 50000))  # loopback: no management key configured
    event = client.get(f"/api/v1/events/{ids[0]}").json()
    assert event["clip_url"] == f"/api/v1/events/{ids[0]}/clip.mp4" and "clip" not in event
    video = client.get(event["clip_url"])
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert video.content == store.get(ids[0]).clip.read_bytes()
    store.cleanup(retain_days=30, max_disk_mb=0.000001)  # the budget removes every clip
    missing = client.get(event["clip_url"])
    assert missing.status_code == 404 and missing.json()["code"] == "event_clip_missing"
