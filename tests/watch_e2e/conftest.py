"""The running app (real uvicorn on a loopback port) watching a loopback MJPEG camera, with a fake DingTalk
robot and a fake WeCom group robot as its channels; a scene switch picks what the camera shows."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml

from tests.fakes.dingtalk import SECRET, TOKEN, FakeDingTalk
from tests.fakes.wecom import BOT_KEY, FakeWeComBot
from tests.watch.conftest import Frames, frames  # noqa: F401  (the session fixture, reused)
from tests.watch.mjpeg_server import MjpegServer
from vigilo.api.app import create_app
from vigilo.config import load_settings
from vigilo.vision.imageio import encode_jpeg

CAMERA = "room-101"
API_KEY = "mgmt-key-e2e"  # server.api_keys: the management API key
AUTH = {"Authorization": f"Bearer {API_KEY}"}
ZONE = "desks"  # holds the phone's centre (0.54, 0.62)


class Scene:
    """What the camera shows now: "phone", "empty" or "down" (connections close, new ones get 503)."""

    def __init__(self, jpegs: dict[str, bytes]) -> None:
        self.jpegs = jpegs
        self.what = "empty"

    def frame(self, _elapsed: float) -> bytes | None:
        return None if self.what == "down" else self.jpegs[self.what]


@dataclass
class SseCollector:
    """Reads `/api/v1/events/stream` on a thread: (event type, data) pairs as they arrive."""

    url: str
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    content_type: str = ""
    connected: threading.Event = field(default_factory=threading.Event)
    _stop: bool = False

    def start(self) -> SseCollector:
        threading.Thread(target=self._run, daemon=True).start()
        assert self.connected.wait(10), "the SSE stream did not open"
        return self

    def _run(self) -> None:
        try:
            self._read()
        except httpx.HTTPError:
            if not self._stop:
                raise

    def _read(self) -> None:
        timeout = httpx.Timeout(5.0, read=None)
        with httpx.Client(timeout=timeout, headers=AUTH) as client, client.stream("GET", self.url) as reply:
            self.content_type = reply.headers.get("content-type", "")
            kind = ""
            for line in reply.iter_lines():
                if self._stop:
                    return
                if line.startswith(": connected"):
                    self.connected.set()
                elif line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    self.events.append((kind, json.loads(line[6:])))

    def stop(self) -> None:
        self._stop = True

    def phone(self, change: str) -> list[dict[str, Any]]:
        return [d for k, d in self.events if k == "phone" and d["change"] == change]

    def camera(self, kind: str) -> list[dict[str, Any]]:
        return [d for k, d in self.events if k == "camera" and d["kind"] == kind]


@dataclass
class Running:
    url: str
    scene: Scene
    sse: SseCollector
    dingtalk: FakeDingTalk
    wecom: FakeWeComBot
    client: httpx.Client
    data_dir: Path


def wait_for(check: Callable[[], object], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.05)


def _config(tmp: Path, public_url: str, camera_url: str, ding: str, bot: str) -> Path:
    config = {
        "server": {"public_url": public_url, "api_keys": [API_KEY]},
        "storage": {"data_dir": str(tmp / "var")},
        "detector": {"threads": 1},
        "alerts": {
            "channels": {
                "ops-dingtalk": {"type": "dingtalk", "access_token": TOKEN, "secret": SECRET, "base_url": ding},
                "room-bot": {"type": "wecom_bot", "key": BOT_KEY, "base_url": bot},
            },
            "policy": {"group_wait": 0, "group_interval": 0},
            "outbox": {"poll_interval": 0.05},
        },
        "cameras": {
            "defaults": {"fps": 5, "confirm": {"min_frames": 2, "window": 3}, "episode": {"grace_seconds": 1.0}},
            "streams": {
                CAMERA: {
                    "source": camera_url,
                    "offline_seconds": 1.0,
                    "reconnect": {"initial_seconds": 0.2, "max_seconds": 0.5},
                    "zones": [{"name": ZONE, "polygon": [[0.2, 0.3], [0.9, 0.3], [0.9, 0.95], [0.2, 0.95]]}],
                }
            },
        },
        "events": {"alerts": {"started": True, "ended": True, "camera": True}},
    }
    path = tmp / "vigilo.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def running(frames: Frames, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:  # noqa: F811
    tmp = tmp_path_factory.mktemp("watch_e2e")
    scene = Scene({"phone": encode_jpeg(frames.phone), "empty": encode_jpeg(frames.empty)})
    camera = MjpegServer(scene.frame, fps=10).start()
    dingtalk, wecom = FakeDingTalk().start(), FakeWeComBot().start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    path = _config(tmp, url, camera.url + "/stream.mjpg", dingtalk.url, wecom.url)
    app = create_app(load_settings(path, env_file=None))
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=2)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 30, "the app to start")
    client = httpx.Client(base_url=url, timeout=10, headers=AUTH)
    sse = SseCollector(url + "/api/v1/events/stream").start()
    try:
        wait_for(lambda: _state(client) == "online", 30, "the camera to be online")
        yield Running(url, scene, sse, dingtalk, wecom, client, tmp / "var")
    finally:
        sse.stop()
        client.close()
        server.should_exit = True
        thread.join(15)
        sock.close()
        camera.stop()
        dingtalk.stop()
        wecom.stop()


@contextlib.contextmanager
def served(app: Any) -> Iterator[str]:
    """`app` under real uvicorn on a loopback port, for the duration of the block; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=2)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, 30, "the app to start")
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def _state(client: httpx.Client) -> str:
    items = client.get("/api/v1/cameras").json()["items"]
    return str(items[0]["state"])
