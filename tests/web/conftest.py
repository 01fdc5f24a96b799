"""Fixtures for the H5 page in a real browser: Vigilo under uvicorn, a stand-in business app, camera files.

The browser is Debian's /usr/bin/chromium driven by Playwright (never `playwright install`); its camera is a
`.y4m` file made here from real clips read in place from ../shared/data.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import cv2
import httpx
import numpy as np
import pytest
import uvicorn

from tests.conftest import REPO, free_port, shared_path
from vigilo.api.app import create_app
from vigilo.config import Settings
from vigilo.services import Services
from vigilo.tools.face_animation import write_y4m

CHROMIUM = Path("/usr/bin/chromium")
API_KEY = "web-e2e-business-key-0123456789"
RESULT_SECRET = "web-e2e-result-secret-0123456789-abcdefghijkl"
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"

__all__ = ["write_y4m"]  # the camera-file writer lives in the face-animation tool


# ---- camera files ------------------------------------------------------------------------------


def fit(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scaled to fit `width` x `height` and padded (black) to exactly that size."""
    h, w = frame.shape[:2]
    scale = min(width / w, height / h)
    resized = cv2.resize(frame, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)
    rh, rw = resized.shape[:2]
    top, left = (height - rh) // 2, (width - rw) // 2
    return cv2.copyMakeBorder(resized, top, height - rh - top, left, width - rw - left, cv2.BORDER_CONSTANT)


def blink_clip(subject: str = "1") -> list[np.ndarray]:
    """A ZJU Eyeblink clip (320x240, 30 fps, two blinks in 4.6 s), upscaled to a 640x480 webcam picture."""
    folder = shared_path("data", "zju-blink", subject)
    path = next(iter(sorted(folder.glob("*.mp4"))), None)
    if path is None:
        pytest.skip(f"no clip in {folder}")
    capture = cv2.VideoCapture(str(path))
    frames: list[np.ndarray] = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(fit(frame, 640, 480))
    capture.release()
    assert frames, f"no frames decoded from {path}"
    return frames


def replayed_with_fresh_noise(frames: list[np.ndarray], passes: int, seed: int = 9) -> list[np.ndarray]:
    """The clip `passes` times over, each pass with its own faint sensor noise, as a camera filming the same
    scene again would give. Chromium loops the y4m file: a loop that repeats frames byte for byte is a replay,
    which the server rightly refuses (and the page then reports a static picture)."""
    rng = np.random.default_rng(seed)
    return [
        np.clip(frame + rng.normal(0, 2, frame.shape), 0, 255).astype(np.uint8)
        for _ in range(passes)
        for frame in frames
    ]


def head_turn_clip() -> list[np.ndarray]:
    """The head-pose preview GIF (480x270): a woman facing the camera, then turning to her own left, and back.

    Frame 9 is frontal; 10-13 turn to her left. Held frames get faint noise, as a camera sensor gives, so
    that they are not refused as duplicates.
    """
    from PIL import Image, ImageSequence

    path = shared_path("data", "clips", "intel_sample_videos_previews", "head-pose-face-detection-female.gif")
    with Image.open(path) as gif:
        frames = [cv2.cvtColor(np.array(f.convert("RGB")), cv2.COLOR_RGB2BGR) for f in ImageSequence.Iterator(gif)]
    rng = np.random.default_rng(7)

    def held(frame: np.ndarray, count: int) -> list[np.ndarray]:
        big = fit(frame, 640, 360)
        return [np.clip(big + rng.normal(0, 2, big.shape), 0, 255).astype(np.uint8) for _ in range(count)]

    sequence = held(frames[9], 45)  # 1.5 s frontal: the page's calibration
    for index in (10, 11, 12, 13):
        sequence += held(frames[index], 6)
    sequence += held(frames[13], 24)
    for index in (12, 11, 10):
        sequence += held(frames[index], 4)
    return sequence


# ---- Vigilo under uvicorn ----------------------------------------------------------------------


@dataclass
class Vigilo:
    base: str
    services: Services

    def create(self, actions: list[str], **body: Any) -> dict[str, Any]:
        """What the business backend does: a session with an explicit action list."""
        response = httpx.post(
            f"{self.base}/api/v1/liveness/sessions",
            json={"actions": actions, **body},
            headers={"X-API-Key": API_KEY},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def result_token(self, session_id: str) -> str:
        response = httpx.get(
            f"{self.base}/api/v1/liveness/sessions/{session_id}/result",
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["token"]
        return token


@dataclass
class Business:
    """A stand-in business app on another origin: a page that embeds Vigilo's page, and a return URL."""

    base: str
    returns: list[dict[str, list[str]]] = field(default_factory=list)

    @property
    def return_url(self) -> str:
        return f"{self.base}/liveness/return"


EMBED_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>business app</title></head>
<body><script>
window.vigiloEvents = [];
window.addEventListener('message', function (e) { window.vigiloEvents.push({origin: e.origin, data: e.data}); });
var frame = document.createElement('iframe');
frame.src = decodeURIComponent(location.hash.slice(1));
frame.allow = 'camera';
frame.style = 'width:390px;height:760px;border:0';
document.body.appendChild(frame);
</script></body></html>"""


def _business_handler(business: Business) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == "/embed":
                body = EMBED_PAGE.encode()
            elif parts.path == "/liveness/return":
                business.returns.append(parse_qs(parts.query))
                body = json.dumps({"returned": parse_qs(parts.query)}).encode()
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    return Handler


@pytest.fixture(scope="module")
def business() -> Iterator[Business]:
    port = free_port()
    business = Business(f"http://127.0.0.1:{port}")
    server = ThreadingHTTPServer(("127.0.0.1", port), _business_handler(business))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield business
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def vigilo(business: Business, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vigilo]:
    port = free_port()
    settings = Settings.model_validate(
        {
            "storage": {"data_dir": str(tmp_path_factory.mktemp("vigilo"))},
            "liveness": {
                "api_keys": [API_KEY],
                "result_secret": RESULT_SECRET,
                "return_urls": [f"{business.base}/liveness/"],
                "lockout_failures": 20,  # every case comes from 127.0.0.1
            },
        }
    )
    services = Services(settings)
    analyzer = services.liveness.analyzer  # MediaPipe loads before the browser starts, not on frame one
    analyzer.analyze(np.zeros((480, 640, 3), np.uint8))
    app = create_app(settings, services)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield Vigilo(base, services)
    server.should_exit = True
    thread.join(timeout=20)
