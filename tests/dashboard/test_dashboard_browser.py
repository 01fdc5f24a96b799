"""The dashboard in real Debian Chromium (Playwright, never `playwright install`): log in, visit every page,
switch a camera, retry a dead letter; screenshots go to docs/images/dashboard-*.png (the README shows two).

The app runs under uvicorn on loopback with its lifespan: one camera watches a loopback MJPEG stream of a
real photo (../shared/data/phone/find_phone), a second is disabled; events with snapshots are stored."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import Page, expect, sync_playwright

from tests.alerts_delivery.robot_server import RobotServer
from tests.conftest import REPO, shared_path
from tests.dashboard.conftest import CAMERA, OTHER, PASSWORD, PASSWORD_HASH, ZONE, dead_letter, now, seed_events
from tests.watch.mjpeg_server import MjpegServer
from vigilo.api.app import create_app
from vigilo.config import Settings

CHROMIUM = Path("/usr/bin/chromium")
IMAGES = REPO / "docs" / "images"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--no-first-run"]

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (make install: apt-get install chromium)"),
    pytest.mark.timeout(60),
]


def _settings(tmp: Path, camera_url: str, robot_url: str) -> Settings:
    zone = [{"name": ZONE, "polygon": [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]}]
    return Settings(
        server={"admin_password_hash": PASSWORD_HASH},
        storage={"data_dir": str(tmp / "var")},
        detector={"threads": 1},
        cameras={
            "defaults": {"fps": 2},
            "streams": {
                CAMERA: {"source": camera_url, "zones": zone},
                OTHER: {"source": camera_url, "enabled": False, "zones": zone},
            },
        },
        alerts={
            "channels": {"ops-dingtalk": {"type": "dingtalk", "access_token": "t", "base_url": robot_url}},
            "policy": {"group_wait": 0},
            "outbox": {"poll_interval": 0.2},
        },
        events={"alerts": {"enabled": False}},
    )


def _wait(check: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, int]]:
    photos = sorted(shared_path("data", "phone", "find_phone").glob("*.jpg"))[:4]
    frame = photos[0].read_bytes()
    camera = MjpegServer(lambda _t: frame, fps=4).start()
    robot = RobotServer().start()
    robot.default = (310000, "sign not match")
    settings = _settings(tmp_path, camera.url + "/stream.mjpg", robot.url)
    dead_id = dead_letter(settings)
    hours = [now() - h * 3600 - 60 for h in (1, 2, 2, 5, 9, 26, 50, 50, 100)]
    seed_events(settings, frame, [(CAMERA if i % 3 else OTHER, t) for i, t in enumerate(hours)])
    seed_events(settings, photos[-1].read_bytes(), [(CAMERA, now() - 600)])
    seed_liveness_outcomes(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(create_app(settings), log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        _wait(lambda: server.started, 30, "the app to start")
        _wait(lambda: _camera_online(base, settings), 40, "the camera to be online")
        yield base, dead_id
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
        camera.stop()
        robot.stop()


def seed_liveness_outcomes(settings: Settings) -> None:
    """Finished liveness sessions over the last days, as the liveness service records them."""
    from vigilo.liveness.outcomes import Outcome, OutcomeStore

    store = OutcomeStore(settings.storage.resolved_database_url())
    reasons = [[], [], ["step_timeout:blink"], [], ["wrong_direction"], [], ["identity_changed"]]  # 7: not 9 days
    for index in range(40):
        when = now() - (index % 9) * 86400 - index * 60
        why = reasons[index % len(reasons)]
        status = "passed" if not why else "failed"
        store.record(Outcome(f"seeded-{index}", None, status, why, ["blink", "turn_left"], 30, when - 20, when))
    store.close()


def _camera_online(base: str, settings: Settings) -> bool:
    reply = httpx.get(f"{base}/api/v1/cameras/{CAMERA}", timeout=5)  # loopback: no key needed
    return reply.status_code == 200 and reply.json().get("state") == "online"


def _shot(page: Page, name: str) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / f"dashboard-{name}.png"), full_page=True)


def test_log_in_and_visit_every_page(served: tuple[str, int]) -> None:
    base, dead_id = served
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS, timeout=30_000)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")
            page.goto(f"{base}/dashboard/events")
            expect(page).to_have_url(f"{base}/dashboard/login?next=%2Fdashboard%2Fevents")
            page.fill("#secret", "wrong password")
            page.click("button[type=submit]")
            expect(page.locator(".note.bad")).to_have_text("密码或密钥不正确")
            _shot(page, "login")
            page.fill("#secret", PASSWORD)
            page.click("button[type=submit]")
            expect(page).to_have_url(f"{base}/dashboard/events")
            expect(page.locator("img.thumb").first).to_be_visible()
            assert page.locator("img.thumb").first.evaluate("img => img.naturalWidth") > 0
            _shot(page, "events")

            page.goto(f"{base}/dashboard/")
            expect(page.locator("h1")).to_have_text("概览")
            expect(page.locator(".state-online")).to_have_count(1)
            _shot(page, "overview")

            page.goto(f"{base}/dashboard/cameras")
            page.click(f'button[data-camera="{OTHER}"]')
            expect(page.locator(".note.ok")).to_have_text(f"摄像头 {OTHER} 已启用")
            _wait(lambda: page.reload() and page.locator(".state-online").count() == 2, 20, f"{OTHER} online")
            _shot(page, "cameras")

            page.goto(f"{base}/dashboard/events")
            page.locator("tbody a").first.click()
            expect(page.locator(".timeline li")).to_have_count(3)
            _shot(page, "event")

            page.goto(f"{base}/dashboard/alerts")
            page.fill("input[name=matchers]", f"camera={CAMERA}")
            page.fill("input[name=duration]", "2h")
            page.fill("input[name=comment]", "演练")
            page.click("text=添加")
            expect(page.locator(".note.ok")).to_contain_text("已添加静默")
            expect(page.locator("td code")).to_have_text(f"camera={CAMERA}")
            _shot(page, "alerts")
            page.click(f'form[action="/dashboard/alerts/{dead_id}/retry"] button')
            expect(page.locator(".note.ok")).to_have_text(f"告警 {dead_id} 已重新排队")

            page.goto(f"{base}/dashboard/charts?lang=en")
            expect(page.locator("h1")).to_have_text("Charts")
            expect(page.locator("svg.chart")).to_have_count(4)
            _shot(page, "charts")

            page.goto(f"{base}/dashboard/liveness?lang=zh-CN")
            expect(page.locator("h1")).to_have_text("活体检测统计（近 14 天）")
            expect(page.locator("svg.chart")).to_have_count(1)
            expect(page.locator("td code")).to_have_text(["step_timeout", "wrong_direction", "identity_changed"])
            _shot(page, "liveness")
        finally:
            browser.close()
