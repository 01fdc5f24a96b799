"""A real RTSP camera on loopback: Debian's ffmpeg publishes a composed H.264 clip (a phone from 5 s to 8 s)
to an RTSP relay (Debian's librtsp-server-perl, RTSP::Server), and the watcher reads
rtsp://127.0.0.1:PORT/... through OpenCV's FFmpeg backend, in real time: exactly one event."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest

from tests.conftest import free_port
from tests.watch.conftest import Collected, Frames, camera, write_clip
from vigilo.phone.detector import PhoneDetector
from vigilo.phone.events import EventStore
from vigilo.phone.watcher import CameraWatcher

SEGMENTS = [(5.0, False), (3.0, True), (5.0, False)]  # the first 5 s cover the RTSP open (probe) time
PHONE = (5.0, 8.0)  # seconds after the publisher started
STOP_AT = 11.5  # before the clip (13 s) ends, so that the end of the stream is not part of the test
TOLERANCE = 1.5  # relay + decoder buffering on top of the sampling (1 s for the HTTP camera)

# RTSP::Server's own command-line script, without the Debian service that comes with `rtsp-server-perl`
RELAY = "use AnyEvent; use RTSP::Server; RTSP::Server->new_with_options->listen; AnyEvent->condvar->recv;"


def _missing() -> str | None:
    if shutil.which("ffmpeg") is None:
        return "ffmpeg is not installed (apt-get install ffmpeg)"
    if shutil.which("perl") is None or subprocess.run(["perl", "-MRTSP::Server", "-e1"], check=False).returncode:
        return "RTSP::Server is not installed (apt-get install librtsp-server-perl)"
    if "FFMPEG:                      YES" not in cv2.getBuildInformation():
        return "this OpenCV has no FFmpeg backend, so no RTSP"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


def _wait_port(port: int, seconds: float) -> None:
    import socket

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """(publisher port, client port) of a running RTSP relay."""
    source, client = free_port(), free_port()
    args = ["--serverport", str(source), "--clientport", str(client), "--rtp_start_port", str(free_port())]
    args += ["--source_listen_address", "127.0.0.1", "--client_listen_address", "127.0.0.1"]
    with (tmp_path / "relay.log").open("wb") as log:
        process = subprocess.Popen(["perl", "-e", RELAY, "--", *args], stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_port(source, 10)
        _wait_port(client, 10)
        yield source, client
    finally:
        process.terminate()
        process.wait(10)


def _publish(clip: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    encode = ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "10", "-pix_fmt", "yuv420p"]
    command = ["ffmpeg", "-hide_banner", "-loglevel", "warning", "-re", "-i", str(clip), *encode]
    command += ["-f", "rtsp", f"rtsp://127.0.0.1:{port}/exam-room"]  # UDP: RTSP::Server takes no TCP-interleaved
    with log.open("wb") as out:
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)


def test_rtsp_camera_gives_exactly_one_event(
    tmp_path: Path, frames: Frames, detector: PhoneDetector, store: EventStore, relay: tuple[int, int]
) -> None:
    clip = write_clip(tmp_path / "exam.mp4", frames, SEGMENTS)
    source_port, client_port = relay
    config = camera(
        f"rtsp://127.0.0.1:{client_port}/exam-room",
        realtime=True,
        reconnect={"initial_seconds": 0.2, "max_seconds": 0.5},
    )
    seen = Collected()
    publisher = _publish(clip, source_port, tmp_path / "ffmpeg.log")
    t0 = time.time()
    watcher = CameraWatcher(config, detector, store, on_event=seen.phone.append, on_camera=seen.cameras.append)
    try:
        time.sleep(0.5)  # the publisher announces the stream; a watcher earlier than that reconnects
        watcher.start()
        while time.time() - t0 < STOP_AT:
            time.sleep(0.2)
        status = watcher.status()
    finally:
        watcher.stop()
        publisher.terminate()
        publisher.wait(10)

    assert status.frames > 0, (tmp_path / "ffmpeg.log").read_text()
    started, ended = seen.of("started"), seen.of("ended")
    assert len(started) == 1 and len(ended) == 1, [e.to_json() for e in seen.phone]
    assert len(store.query()) == 1
    start, end = started[0], ended[0]
    assert start.id == end.id and start.snapshot is not None and start.snapshot.exists()
    assert end.ended_at is not None
    seen_from, seen_to = start.started_at.timestamp() - t0, end.ended_at.timestamp() - t0
    print(f"phone {PHONE} s; episode seen {seen_from:.2f} .. {seen_to:.2f} s")
    assert abs(seen_from - PHONE[0]) <= TOLERANCE and abs(seen_to - PHONE[1]) <= TOLERANCE, (seen_from, seen_to)
    assert 2.0 < status.fps < 6.0
