"""The dashboard over HTTP against the real app: login, sessions, CSRF, camera switches, alert retries."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.alerts_delivery.robot_server import RobotServer
from tests.dashboard.conftest import (
    API_KEY,
    CAMERA,
    OTHER,
    PASSWORD,
    csrf_of,
    dead_letter,
    login,
    now,
    seed_events,
    settings_for,
)
from vigilo.api.app import create_app
from vigilo.config import Settings
from vigilo.dashboard.sessions import COOKIE
from vigilo.phone.events import EventStore

pytestmark = pytest.mark.timeout(60)


def client_for(settings: Settings, host: str = "203.0.113.7") -> TestClient:
    """The app without its lifespan: cameras are configured but not started (switches still apply)."""
    return TestClient(create_app(settings), client=(host, 50000), follow_redirects=False)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_for(tmp_path)


def test_logged_out_pages_redirect_to_login(settings: Settings) -> None:
    client = client_for(settings)
    for path in ("/dashboard/", "/dashboard/cameras", "/dashboard/events?camera=gate", "/dashboard/alerts"):
        reply = client.get(path)
        assert reply.status_code == 303, path
        assert reply.headers["location"].startswith("/dashboard/login?next=")
    assert client.get("/dashboard/events/1/snapshot.jpg").status_code == 303
    # the public parts: the login form and its stylesheet
    assert client.get("/dashboard/login").status_code == 200
    assert client.get("/dashboard/static/dashboard.css").headers["content-type"].startswith("text/css")
    assert client.get("/dashboard/static/..%2Fconfig.py").status_code == 404


def test_login_with_password_or_key_then_logout(settings: Settings) -> None:
    client = client_for(settings)
    reply = login(client, PASSWORD, "/dashboard/cameras")
    assert reply.status_code == 303 and reply.headers["location"] == "/dashboard/cameras"
    cookie = reply.headers["set-cookie"]
    assert f"{COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Secure" not in cookie  # plain http here; https requests get Secure
    page = client.get("/dashboard/cameras")
    assert page.status_code == 200 and "当前用户：admin" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]

    refused = client.post("/dashboard/logout")  # no CSRF token: refused, still logged in
    assert refused.status_code == 403 and client.get("/dashboard/").status_code == 200
    out = client.post("/dashboard/logout", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 303 and out.headers["location"] == "/dashboard/login"
    assert client.get("/dashboard/").status_code == 303

    assert login(client, API_KEY).status_code == 303
    assert "当前用户：api-key" in client.get("/dashboard/").text


def test_wrong_password_shows_the_form_again_in_both_languages(settings: Settings) -> None:
    client = client_for(settings)
    bad = login(client, "not the password")
    assert bad.status_code == 401
    assert "密码或密钥不正确" in bad.text and 'name="secret"' in bad.text and "Traceback" not in bad.text
    assert 'href="/dashboard/login?lang=en"' in bad.text  # the language switch leads back to the form
    client.get("/dashboard/login?lang=en")  # the language switch is a cookie
    bad_en = login(client, "still not it")
    assert bad_en.status_code == 401 and "Wrong password or key" in bad_en.text
    assert client.get("/dashboard/").status_code == 303  # no session from a failed login


def test_login_without_the_form_token_is_refused(settings: Settings) -> None:
    client = client_for(settings)
    reply = client.post("/dashboard/login", data={"secret": PASSWORD})
    assert reply.status_code == 403 and f"{COOKIE}=" not in reply.headers.get("set-cookie", "")


def test_failed_logins_are_rate_limited_per_ip(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, login_max_failures=3, login_window_seconds=600)
    client = client_for(settings)
    for _ in range(3):
        assert login(client, "guess").status_code == 401
    limited = login(client, PASSWORD)  # even the right password waits for the window
    assert limited.status_code == 429 and "登录失败次数过多" in limited.text
    other = client_for(settings, host="198.51.100.9")
    other.app = client.app  # same app, same limiter; another address
    assert login(other, PASSWORD).status_code == 303


def test_forged_or_tampered_session_is_not_accepted(settings: Settings) -> None:
    client = client_for(settings)
    login(client, PASSWORD)
    value = client.cookies[COOKIE]
    body, signature = value.split(".")
    tampered = ("A" if body[0] != "A" else "B") + body[1:]  # any change to the signed text, always one
    client.cookies.set(COOKIE, tampered + "." + signature, path="/dashboard")
    assert client.get("/dashboard/").status_code == 303


def test_camera_switch_needs_csrf_and_changes_the_camera(settings: Settings) -> None:
    client = client_for(settings)
    login(client, PASSWORD)
    manager = client.app.state.services.camera_manager  # type: ignore[attr-defined]
    page = client.get("/dashboard/cameras")
    assert f'data-camera="{OTHER}"' in page.text and not manager.state(OTHER).enabled

    for data in ({}, {"csrf": "forged-token-value"}):
        refused = client.post(f"/dashboard/cameras/{OTHER}/enable", data=data)
        assert refused.status_code == 403 and "CSRF" in refused.text
    assert not manager.state(OTHER).enabled

    token = csrf_of(page.text)
    done = client.post(f"/dashboard/cameras/{OTHER}/enable", data={"csrf": token})
    assert done.status_code == 303 and manager.state(OTHER).enabled
    assert f"摄像头 {OTHER} 已启用" in client.get(done.headers["location"]).text
    assert client.post(f"/dashboard/cameras/{CAMERA}/disable", data={"csrf": token}).status_code == 303
    assert manager.state(CAMERA).state == "disabled"
    switches = manager.store.camera_switches()  # stored, as the API's switch: survives a restart
    assert switches[OTHER].enabled and not switches[CAMERA].enabled
    assert client.post("/dashboard/cameras/nope/enable", data={"csrf": token}).status_code == 404


def test_retry_of_a_dead_letter(tmp_path: Path, robot: RobotServer) -> None:
    robot.default = (310000, "sign not match")
    settings = settings_for(tmp_path, robot.url)
    row_id = dead_letter(settings)
    client = client_for(settings)
    login(client, PASSWORD)
    page = client.get("/dashboard/alerts")
    assert f'action="/dashboard/alerts/{row_id}/retry"' in page.text and "310000" in page.text
    assert client.post(f"/dashboard/alerts/{row_id}/retry").status_code == 403

    done = client.post(f"/dashboard/alerts/{row_id}/retry", data={"csrf": csrf_of(page.text)})
    assert done.status_code == 303
    service = client.app.state.services.alert_service  # type: ignore[attr-defined]
    assert service.outbox.get(row_id).state == "pending"
    again = client.post(f"/dashboard/alerts/{row_id}/retry", data={"csrf": csrf_of(page.text)})
    assert again.status_code == 409 and "只有死信可以重试" in again.text


def test_silence_create_and_expire(tmp_path: Path, robot: RobotServer) -> None:
    client = client_for(settings_for(tmp_path, robot.url))
    login(client, PASSWORD)
    token = csrf_of(client.get("/dashboard/alerts").text)
    bad = client.post("/dashboard/silences", data={"csrf": token, "matchers": "camera", "duration": "2h"})
    assert bad.status_code == 422 and "无法添加静默" in bad.text
    added = client.post(
        "/dashboard/silences", data={"csrf": token, "matchers": "camera=gate", "duration": "2h", "comment": "drill"}
    )
    assert added.status_code == 303
    service = client.app.state.services.alert_service  # type: ignore[attr-defined]
    [silence] = service.silences.list()
    assert silence.match == {"camera": "gate"} and silence.created_by == "dashboard:admin"
    assert 7100 < silence.ends_at - now() <= 7200
    assert "camera=gate" in client.get("/dashboard/alerts").text
    assert client.post(f"/dashboard/silences/{silence.id}/expire", data={"csrf": token}).status_code == 303
    assert service.silences.list() == []


def test_events_filters_detail_snapshot_and_charts(settings: Settings) -> None:
    jpeg = b"\xff\xd8\xff\xe0" + b"0" * 100 + b"\xff\xd9"
    start = now() - 3 * 3600
    gate_id, lobby_id = seed_events(settings, jpeg, [(CAMERA, start), (OTHER, start + 60)])
    client = client_for(settings)
    login(client, API_KEY)
    listed = client.get("/dashboard/events", params={"camera": CAMERA})
    assert f"/dashboard/events/{gate_id}" in listed.text and f"/dashboard/events/{lobby_id}" not in listed.text
    assert f"/dashboard/events/{lobby_id}" in client.get("/dashboard/events").text
    assert "/dashboard/events/" not in client.get("/dashboard/events", params={"status": "new"}).text.split("<main>")[1]
    assert client.get("/dashboard/events", params={"since": "not a date"}).text.count("时间格式不正确") == 1

    detail = client.get(f"/dashboard/events/{gate_id}")
    assert detail.status_code == 200 and "时间线" in detail.text and "已结束" in detail.text
    snapshot = client.get(f"/dashboard/events/{gate_id}/snapshot.jpg")
    assert snapshot.status_code == 200 and snapshot.content == jpeg
    assert client.get("/dashboard/events/999").status_code == 404
    assert client.get(f"/dashboard/events/{gate_id}/clip.mp4").status_code == 404 and "<video" not in detail.text
    store = EventStore(settings.storage.resolved_database_url(), settings.storage.data_dir)
    clip = store.clip_path(gate_id, CAMERA, dt.datetime.now(dt.UTC))
    clip.parent.mkdir(parents=True)
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    store.attach_clip(gate_id, clip)
    store.close()
    assert '<video class="snapshot" src="/dashboard/events/' in client.get(f"/dashboard/events/{gate_id}").text
    assert client.get(f"/dashboard/events/{gate_id}/clip.mp4").content == clip.read_bytes()

    charts = client.get("/dashboard/charts")
    assert charts.status_code == 200 and charts.text.count("<svg") == 4  # two charts per camera
    assert charts.text.count("合计 1") == 4


def test_open_mode_is_loopback_only(tmp_path: Path) -> None:
    settings = Settings(storage={"data_dir": str(tmp_path / "var")})
    local = client_for(settings, host="127.0.0.1")
    page = local.get("/dashboard/")
    assert page.status_code == 200 and "当前用户：local" in page.text
    assert f"{COOKIE}=" in page.headers["set-cookie"]  # a session, so that forms carry a CSRF token
    assert 'action="/dashboard/logout"' not in page.text  # nothing to log out of
    assert local.post("/dashboard/logout").status_code == 403
    remote = client_for(settings)
    remote.app = local.app
    denied = remote.get("/dashboard/")
    assert denied.status_code == 401 and "仅限本机访问" in denied.text
