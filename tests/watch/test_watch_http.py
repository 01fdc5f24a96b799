"""A live HTTP MJPEG camera on loopback, in real time: episodes within a second of truth, then an outage."""

from __future__ import annotations

import time

from tests.watch.conftest import Collected, Frames, camera
from tests.watch.mjpeg_server import MjpegServer
from vigilo.phone.detector import PhoneDetector
from vigilo.phone.events import EventStore
from vigilo.phone.watcher import CameraWatcher
from vigilo.vision.imageio import encode_jpeg

# seconds since the server started: (from, to, what) — "down" means connections close and get 503
TIMELINE = [(0.0, 1.5, "empty"), (1.5, 4.0, "phone"), (4.0, 6.0, "empty"), (6.0, 8.5, "down"),
            (8.5, 9.5, "empty"), (9.5, 12.0, "phone"), (12.0, 99.0, "empty")]  # fmt: skip
PHONE_TRUTH = [(1.5, 4.0), (9.5, 12.0)]
END = 13.6


def test_live_stream_episodes_outage_and_recovery(frames: Frames, detector: PhoneDetector, store: EventStore) -> None:
    jpegs = {"phone": encode_jpeg(frames.phone), "empty": encode_jpeg(frames.empty)}

    def frame_for(t: float) -> bytes | None:
        what = next(w for start, stop, w in TIMELINE if start <= t < stop)
        return None if what == "down" else jpegs[what]

    server = MjpegServer(frame_for, fps=10).start()
    config = camera(
        server.url + "/stream.mjpg",
        realtime=True,
        offline_seconds=1.0,
        reconnect={"initial_seconds": 0.2, "max_seconds": 0.5},
    )
    seen = Collected()
    watcher = CameraWatcher(config, detector, store, on_event=seen.phone.append, on_camera=seen.cameras.append)
    watcher.start()
    statuses = []
    while server.elapsed() < END:
        time.sleep(0.5)
        statuses.append(watcher.status())
    watcher.stop()
    server.stop()
    t0 = server.started

    started, ended = seen.of("started"), seen.of("ended")
    assert len(started) == 2 and len(ended) == 2, [e.to_json() for e in seen.phone]
    for (appears, disappears), start, end in zip(PHONE_TRUTH, started, ended, strict=True):
        assert abs(start.started_at.timestamp() - t0 - appears) <= 1.0
        assert end.ended_at is not None and abs(end.ended_at.timestamp() - t0 - disappears) <= 1.0
        assert start.id == end.id and start.snapshot is not None and start.snapshot.exists()

    assert [e.kind for e in seen.cameras] == ["offline", "online"]
    offline, online = seen.cameras
    assert 6.0 < offline.at.timestamp() - t0 < 8.5  # frames stopped at 6 s; reported a second later
    assert 8.5 <= online.at.timestamp() - t0 < 9.8
    assert online.down_seconds is not None and 2.0 < online.down_seconds < 4.0
    assert [e.kind for e in store.camera_events()] == ["online", "offline"]
    # the stream resumed: the second episode was seen after the recovery, and the status said so on the way
    assert started[1].started_at > online.at
    assert any(s.online is False for s in statuses) and statuses[-1].online is True
    assert statuses[-1].reconnects >= 1 and statuses[-1].lag_ms is not None and statuses[-1].lag_ms < 500
    assert 2.0 < max(s.fps for s in statuses) < 6.0
