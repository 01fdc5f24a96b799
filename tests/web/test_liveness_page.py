"""The H5 liveness page end to end in real Chromium, the camera fed from real clips.

Each case: the business backend creates a session with an explicit action list, Chromium opens
/liveness/#session_id=...&nonce=... with a `.y4m` file as its camera, the page streams frames to the real
server (uvicorn, MediaPipe), and the business backend checks the signed result itself.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jwt
import pytest
from playwright.sync_api import Browser, Page, Playwright, ViewportSize, expect, sync_playwright

from tests.liveness.session_fixtures import doc_verifier
from tests.web.conftest import (
    CHROMIUM,
    RESULT_SECRET,
    SCREENSHOTS,
    Business,
    Vigilo,
    blink_clip,
    head_turn_clip,
    replayed_with_fresh_noise,
    write_y4m,
)

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (make install: apt-get install chromium)"),
    pytest.mark.timeout(60),
]

BASE_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--use-fake-device-for-media-stream",
]
PHONE: ViewportSize = {"width": 390, "height": 760}
DECISION_MS = 40_000  # the longest a case waits for the page's result screen (generous: CI shares 2 cores)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


def launch(playwright: Playwright, camera: Path | None, *, allow_camera: bool = True) -> Browser:
    args = list(BASE_ARGS)
    if camera is not None:
        args.append(f"--use-file-for-fake-video-capture={camera}")
    args.append("--use-fake-ui-for-media-stream" if allow_camera else "--deny-permission-prompts")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args, timeout=30_000)


def page_url(vigilo: Vigilo, created: dict[str, Any], **extra: str) -> str:
    fragment = urlencode({"session_id": created["session_id"], "nonce": created["nonce"], **extra})
    return f"{vigilo.base}/liveness/#{fragment}"


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def claims_of(vigilo: Vigilo, created: dict[str, Any]) -> dict[str, Any]:
    token = vigilo.result_token(created["session_id"])
    claims: dict[str, Any] = jwt.decode(token, RESULT_SECRET, algorithms=["HS256"], audience="vigilo-liveness")
    assert claims["sid"] == created["session_id"] and claims["nonce"] == created["nonce"]
    return claims


def test_a_real_blink_passes_and_the_backend_verifies_the_signed_result(
    playwright: Playwright, vigilo: Vigilo, business: Business, tmp_path: Path
) -> None:
    """Embedded in the business app's page (iframe, postMessage), mirrored frames, one blink asked for."""
    camera = write_y4m(tmp_path / "blink.y4m", blink_clip("1"))
    created = vigilo.create(["blink"], user_ref="web-e2e-1", mirrored=True)
    browser = launch(playwright, camera)
    try:
        host = browser.new_page(viewport={"width": 420, "height": 800})
        host.goto(f"{business.base}/embed#{quote(page_url(vigilo, created), safe='')}")
        frame = host.frame_locator("iframe")
        expect(frame.locator("#start")).to_be_visible(timeout=10_000)
        expect(frame.locator("#steps-preview")).to_contain_text("眨眼")
        started = time.monotonic()
        frame.locator("#start").click()
        expect(frame.locator("#prompt")).to_have_text("请眨眼", timeout=10_000)
        expect(frame.locator("#countdown")).to_contain_text("秒")
        expect(frame.locator("#app")).to_have_attribute("data-result", "pass", timeout=DECISION_MS)
        assert time.monotonic() - started < DECISION_MS / 1000
        expect(frame.locator("#result-title")).to_have_text("验证完成")
        expect(frame.locator("#progress-bar")).to_have_attribute("style", "width: 100%;")
        events = host.evaluate("window.vigiloEvents")
    finally:
        browser.close()
    types = [e["data"]["type"] for e in events]
    assert types[0] == "ready" and "started" in types and "step" in types and types[-1] == "finished", types
    assert {e["origin"] for e in events} == {vigilo.base}
    assert all(
        set(e["data"]) <= {"source", "type", "session_id", "steps", "step", "total", "action", "state"} for e in events
    )
    assert all("passed" not in e["data"] for e in events)  # no verdict from the page
    # The business backend: the signed result, verified as docs/liveness-api.md shows.
    token = vigilo.result_token(created["session_id"])
    verify_liveness = doc_verifier()
    assert verify_liveness(token, RESULT_SECRET, created["session_id"], created["nonce"])
    claims = jwt.decode(token, RESULT_SECRET, algorithms=["HS256"], audience="vigilo-liveness")
    assert claims["decision"] == "pass" and claims["requested"] == ["blink"] and claims["user_ref"] == "web-e2e-1"


def test_screens_for_the_docs(playwright: Playwright, vigilo: Vigilo, business: Business, tmp_path: Path) -> None:
    """Intro, capture (prompt, countdown, steps) and success on a phone-sized page, saved as artifacts."""
    camera = write_y4m(tmp_path / "blink.y4m", blink_clip("5"))
    created = vigilo.create(["blink"], mirrored=True)
    browser = launch(playwright, camera)
    try:
        page = browser.new_page(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True)
        page.goto(page_url(vigilo, created))
        expect(page.locator("#start")).to_be_visible(timeout=10_000)
        shot(page, "1-intro")
        page.locator("#start").click()
        expect(page.locator("#prompt")).to_have_text("请眨眼", timeout=10_000)
        shot(page, "2-capture")
        expect(page.locator("#app")).to_have_attribute("data-result", "pass", timeout=DECISION_MS)
        shot(page, "3-passed")
    finally:
        browser.close()
    assert claims_of(vigilo, created)["decision"] == "pass"


def test_a_still_photo_fails_as_a_frozen_picture_and_retry_returns_to_the_business_app(
    playwright: Playwright, vigilo: Vigilo, business: Business, tmp_path: Path
) -> None:
    """One real frame, repeated: the server refuses the copies, the page gives up when the window runs out."""
    photo = blink_clip("3")[0]
    camera = write_y4m(tmp_path / "photo.y4m", [photo, photo])
    created = vigilo.create(["blink"])
    browser = launch(playwright, camera)
    try:
        page = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
        page.goto(page_url(vigilo, created, return_url=business.return_url))
        page.locator("#start").click()
        expect(page.locator("#hint")).to_have_text("画面没有变化，请本人面对镜头", timeout=10_000)
        expect(page.locator("#app")).to_have_attribute("data-result", "fail_static", timeout=DECISION_MS)
        expect(page.locator("#result-title")).to_have_text("验证未通过")
        expect(page.locator("#result-text")).to_contain_text("不要使用照片或录像")
        shot(page, "4-failed-photo")
        page.locator("#retry").click()
        page.wait_for_url(f"{business.return_url}?*", timeout=10_000)
    finally:
        browser.close()
    assert business.returns[-1] == {"session_id": [created["session_id"]], "event": ["retry"]}
    claims = claims_of(vigilo, created)
    assert claims["decision"] == "fail" and claims["reasons"] == ["cancelled"] and claims["frames"] == 1


def test_turns_in_the_wrong_order_fail_with_the_mismatch_message_in_english(
    playwright: Playwright, vigilo: Vigilo, tmp_path: Path
) -> None:
    """Asked "right, then left", she turns to her own left first. The session is mirrored, so the page sends
    mirrored frames and the server flips them back: a page that got mirroring wrong would read her turn as the
    right turn asked for and complete step 1."""
    camera = write_y4m(tmp_path / "turn.y4m", head_turn_clip())
    created = vigilo.create(["turn_right", "turn_left"], mirrored=True, locale="en")
    browser = launch(playwright, camera)
    try:
        page = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
        page.goto(page_url(vigilo, created))
        expect(page.locator("#start")).to_have_text("Start", timeout=10_000)  # the session's locale
        page.locator("#start").click()
        expect(page.locator("#app")).to_have_attribute("data-result", "fail_mismatch", timeout=DECISION_MS)
        expect(page.locator("#result-title")).to_have_text("Not verified")
        expect(page.locator("#result-text")).to_contain_text("other than the one asked for")
        expect(page.locator("#progress-bar")).to_have_attribute("style", "width: 0%;")
        shot(page, "5-failed-wrong-order-en")
    finally:
        browser.close()
    assert claims_of(vigilo, created)["reasons"] == ["wrong_direction"]


def test_a_blink_on_a_turn_session_times_out(playwright: Playwright, vigilo: Vigilo, tmp_path: Path) -> None:
    # Each case films a different subject: the server remembers frame bytes across sessions (replay
    # defence), and Chromium can encode the same y4m frame to the same JPEG in two cases. The 4.6 s clip
    # must also not loop inside calibration plus the step window (up to about 10.5 s): on a loaded machine
    # the looped frames came back as replays and the page ended with "static" instead of the timeout.
    # So: three passes with fresh noise, at 15 fps (the page samples at 10) to keep the file small.
    camera = write_y4m(tmp_path / "blink.y4m", replayed_with_fresh_noise(blink_clip("9")[::2], 3), fps=15)
    created = vigilo.create(["turn_left"])
    browser = launch(playwright, camera)
    try:
        page = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
        page.goto(page_url(vigilo, created))
        page.locator("#start").click()
        expect(page.locator("#prompt")).to_have_text("请向左转头", timeout=10_000)
        expect(page.locator("#app")).to_have_attribute("data-result", "fail_timeout", timeout=DECISION_MS)
        expect(page.locator("#result-text")).to_have_text("未在规定时间内完成「向左转头」")
    finally:
        browser.close()
    assert claims_of(vigilo, created)["reasons"] == ["step_timeout:turn_left"]


def test_a_denied_camera_shows_the_help_text(playwright: Playwright, vigilo: Vigilo) -> None:
    created = vigilo.create(["blink"])
    browser = launch(playwright, None, allow_camera=False)
    try:
        context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, permissions=[])
        page = context.new_page()
        page.goto(page_url(vigilo, created))
        page.locator("#start").click()
        expect(page.locator("#app")).to_have_attribute("data-error", "denied", timeout=10_000)
        expect(page.locator("#error-title")).to_have_text("无法使用摄像头")
        expect(page.locator("#error-text")).to_contain_text("请允许本页面访问摄像头")
        expect(page.locator("#help li")).to_have_count(3)
        expect(page.locator("#help")).to_contain_text("HTTPS")
        shot(page, "6-camera-denied")
        page.locator("#lang").click()
        expect(page.locator("#error-retry")).to_have_text("Retry")
        expect(page.locator("#error-text")).to_contain_text("allow this page to use the camera")
    finally:
        browser.close()
