"""Frame sources on real files, folders and a loopback MJPEG server: sampling, latest-frame, loop, reconnect."""

from __future__ import annotations

import functools
import itertools
import socket
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.watch.mjpeg_server import MjpegServer
from vigilo.phone.sources import FrameSource, SourceError, classify, open_source, redact
from vigilo.vision.imageio import encode_jpeg


def numbered(index: int) -> np.ndarray:
    """A frame whose mean grey level tells which one it is."""
    return np.full((48, 64, 3), index * 2 % 256, np.uint8)


def frame_number(image: np.ndarray) -> int:
    return round(float(image.mean())) // 2


def write_video(path: Path, frames: int, fps: int = 10) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (64, 48))
    for index in range(frames):
        writer.write(numbered(index))
    writer.release()
    return path


def take_all(source: FrameSource, limit: int = 1000, timeout: float = 10.0) -> list:
    frames = []
    deadline = time.monotonic() + timeout
    while not source.finished and len(frames) < limit and time.monotonic() < deadline:
        frame = source.next(0.5)
        if frame is not None:
            frames.append(frame)
    return frames


def test_classify() -> None:
    assert classify("0") == classify("webcam:1") == classify("/dev/video2") == "webcam"
    assert classify("rtsp://cam/1") == classify("https://cdn/live.m3u8") == "stream"
    assert classify("http://cam/video.mjpg") == classify("https://cam/snapshot.jpg?x=1") == "http"
    assert classify("https://cdn/clip.mp4") == classify("exam.mp4") == "file"


def test_redact() -> None:
    assert redact("rtsp://admin:s3cret@10.0.0.5:554/Streaming/Channels/101") == (
        "rtsp://admin:***@10.0.0.5:554/Streaming/Channels/101"
    )
    assert redact("http://cam/video.mjpg") == "http://cam/video.mjpg"


def test_file_is_sampled_at_the_configured_fps_in_video_time(tmp_path: Path) -> None:
    source = open_source(str(write_video(tmp_path / "clip.avi", 30)), fps=4, realtime=False).start()
    frames = take_all(source)
    source.stop()
    positions = [f.position for f in frames]
    assert positions == pytest.approx([0.0, 0.3, 0.5, 0.8, 1.0, 1.3, 1.5, 1.8, 2.0, 2.3, 2.5, 2.8])
    assert [frame_number(f.image) for f in frames] == [round(p * 10) for p in positions]
    assert [round(f.monotonic - frames[0].monotonic, 3) for f in frames] == pytest.approx(positions)
    assert frames[-1].wall - source.start_wall == pytest.approx(2.8)
    assert source.finished and source.stats.dropped == 0


def test_looped_file_keeps_going(tmp_path: Path) -> None:
    source = open_source(str(write_video(tmp_path / "clip.avi", 10)), fps=5, loop=True, realtime=False).start()
    frames = take_all(source, limit=12)
    source.stop()
    assert len(frames) == 12 and not source.finished
    assert [frame_number(f.image) for f in frames] == [0, 2, 4, 6, 8] * 2 + [0, 2]
    assert all(b.position > a.position for a, b in itertools.pairwise(frames))


def test_folder_in_real_time_drops_instead_of_lagging(tmp_path: Path) -> None:
    for index in range(60):
        cv2.imwrite(str(tmp_path / f"{index:03d}.png"), numbered(index))
    source = open_source(str(tmp_path), fps=20).start()  # one image every 50 ms
    first = source.next(2.0)
    time.sleep(0.8)  # a slow consumer
    latest = source.next(1.0)
    source.stop()
    assert first is not None and latest is not None
    assert frame_number(latest.image) >= 12  # the newest frame, not the next one in line
    assert source.stats.dropped >= 10
    assert time.monotonic() - latest.monotonic < 1.0


def test_missing_file_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        open_source(str(tmp_path / "nope.mp4"), fps=1)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="no images"):
        open_source(str(tmp_path / "empty"), fps=1)


def test_unreadable_file_finishes_with_the_reason(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video")
    source = open_source(str(junk), fps=1).start()
    assert take_all(source, timeout=5.0) == []
    assert source.finished and source.stats.last_error


@pytest.mark.parametrize("content_length", [True, False])
def test_mjpeg_stream(content_length: bool) -> None:
    jpegs = [encode_jpeg(numbered(i)) for i in range(100)]
    server = MjpegServer(lambda t: jpegs[int(t * 20) % 100], fps=20, content_length=content_length).start()
    source = open_source(server.url + "/video", fps=5, offline_seconds=2).start()
    frames = take_all(source, limit=6)
    source.stop()
    server.stop()
    assert len(frames) == 6
    gaps = np.diff([f.monotonic for f in frames])
    assert 0.1 < float(np.median(gaps)) < 0.35  # about 5 frames per second out of 20
    assert len({frame_number(f.image) for f in frames}) == 6


def test_snapshot_url_is_polled() -> None:
    server = MjpegServer(lambda t: encode_jpeg(numbered(int(t * 10))), fps=10).start()
    source = open_source(server.url + "/snapshot.jpg", fps=4).start()
    frames = take_all(source, limit=3)
    source.stop()
    server.stop()
    assert len(frames) == 3 and server.connections >= 3


def test_dead_webcam_goes_offline() -> None:
    source = open_source("webcam:57", fps=2, offline_seconds=0.6, reconnect_initial=0.1, reconnect_max=0.2).start()
    time.sleep(1.0)
    assert source.next(0.2) is None
    events = source.drain_events()
    source.stop()
    assert [e.kind for e in events] == ["offline"]
    assert source.stats.online is False and source.stats.reconnects >= 2


def test_video_file_over_http(tmp_path: Path) -> None:
    write_video(tmp_path / "clip.avi", 20)
    handler = functools.partial(_QuietFiles, directory=str(tmp_path))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/clip.avi"
        source = open_source(url, fps=5, realtime=False).start()
        frames = take_all(source)
        source.stop()
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert [frame_number(f.image) for f in frames] == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
    assert source.finished


def test_unreachable_rtsp_goes_offline_and_keeps_trying() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    source = open_source(
        f"rtsp://127.0.0.1:{port}/live", fps=2, offline_seconds=0.6, reconnect_initial=0.1, reconnect_max=0.2
    ).start()
    time.sleep(1.2)
    assert source.next(0.1) is None
    events = source.drain_events()
    source.stop()
    assert [e.kind for e in events] == ["offline"] and events[0].reason
    assert source.stats.reconnects >= 2 and not source.finished


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def test_frozen_stream_goes_offline_and_recovers() -> None:
    jpeg = encode_jpeg(numbered(7))
    server = MjpegServer(lambda t: b"" if 1.0 <= t < 3.5 else jpeg, fps=10).start()
    source = open_source(
        server.url + "/video", fps=5, offline_seconds=1.0, timeout_s=1.5, reconnect_initial=0.1, reconnect_max=0.2
    ).start()
    frames = []
    while server.elapsed() < 4.5:
        frame = source.next(0.2)
        if frame is not None:
            frames.append(frame.wall - server.started)
    events = source.drain_events()
    source.stop()
    server.stop()
    assert [e.kind for e in events] == ["offline", "online"]
    offline, online = events
    assert 1.7 < offline.wall - server.started < 2.6  # a second after the last frame
    assert 3.4 < online.wall - server.started < 4.2 and online.down_seconds is not None
    assert server.connections >= 2  # the frozen connection timed out and the source reconnected
    assert not [t for t in frames if 1.2 < t < 3.4] and frames[-1] > 4.0
