"""The H5 page's server side without a browser: static files and headers, the challenge call, return URLs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from vigilo.api.app import create_app
from vigilo.api.routers.liveness_page import allowed_return_url
from vigilo.config import Settings

KEY = "page-api-key-0123456789"
ALLOW = ["https://app.example.com/liveness/", "https://other.example.com"]


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    settings = Settings.model_validate(
        {"storage": {"data_dir": str(tmp_path)}, "liveness": {"api_keys": [KEY], "return_urls": ALLOW}}
    )
    return TestClient(create_app(settings))  # no lifespan: no model is needed


def create(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/liveness/sessions", json=body, headers={"X-API-Key": KEY})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_the_page_is_served_with_its_assets_and_strict_headers(client: TestClient) -> None:
    redirect = client.get("/liveness", follow_redirects=False)
    assert redirect.status_code == 307 and redirect.headers["location"] == "/liveness/"
    page = client.get("/liveness/")
    assert page.status_code == 200 and 'src="liveness.js"' in page.text
    assert "http" not in page.text.replace("http-equiv", "")  # nothing from the internet
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'self' https://app.example.com https://other.example.com" in csp
    assert page.headers["referrer-policy"] == "no-referrer"
    for asset in ("liveness.js", "liveness.css"):
        response = client.get(f"/liveness/{asset}")
        assert response.status_code == 200 and "https://" not in response.text.replace("https:// ", "")


def test_the_challenge_needs_the_nonce_and_carries_what_the_page_needs(client: TestClient) -> None:
    created = create(client, actions=["turn_left", "blink"], mirrored=True, locale="en")
    url = f"/api/v1/liveness/sessions/{created['session_id']}/challenge"
    assert client.get(url).status_code == 403
    assert client.get(url, headers={"X-Session-Nonce": "wrong"}).json()["code"] == "liveness_bad_nonce"
    answer = client.get(
        url,
        params={"return_url": "https://app.example.com/liveness/done?order=1"},
        headers={"X-Session-Nonce": created["nonce"]},
    ).json()
    assert answer["mirrored"] is True and answer["locale"] == "en"
    assert [s["action"] for s in answer["steps"]] == ["turn_left", "blink"]
    assert [s["window_ms"] for s in answer["steps"]] == [s["window_ms"] for s in created["steps"]]
    assert answer["steps"][1]["prompt"] == {"zh-CN": "请眨眼", "en": "Blink your eyes"}
    assert answer["upload"]["fps"] == 10 and answer["calibration_ms"] > 0
    assert answer["state"]["state"] == "created" and answer["state"]["done"] is False
    assert answer["return_url"] == "https://app.example.com/liveness/done?order=1"
    assert answer["message_origins"] == ["https://app.example.com", "https://other.example.com"]
    refused = client.get(
        url, params={"return_url": "https://evil.example.com/"}, headers={"X-Session-Nonce": created["nonce"]}
    ).json()
    assert refused["return_url"] is None
    missing = client.get("/api/v1/liveness/sessions/nope/challenge", headers={"X-Session-Nonce": "x"})
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://app.example.com/liveness/", True),
        ("https://app.example.com/liveness/back?x=1#y", True),
        ("https://other.example.com/anything", True),
        ("https://app.example.com/liveness", False),
        ("https://app.example.com/livenessX/", False),
        ("https://app.example.com/other/", False),
        ("http://app.example.com/liveness/", False),
        ("https://app.example.com:8443/liveness/", False),
        ("https://app.example.com.evil.com/liveness/", False),
        ("https://app.example.com@evil.com/liveness/", False),
        ("https://user:pw@app.example.com/liveness/", False),
        ("https://app.example.com/liveness/../admin", False),
        ("https://app.example.com/liveness/%2e%2e/admin", False),
        ("https://app.example.com\\@evil.com/liveness/", False),
        ("javascript:alert(1)//app.example.com/liveness/", False),
        ("//app.example.com/liveness/", False),
        ("", False),
        (None, False),
    ],
)
def test_return_urls_are_checked_against_the_allow_list(url: str | None, allowed: bool) -> None:
    result = allowed_return_url(url, ALLOW)
    assert result == (url if allowed else None)


def test_return_urls_must_be_absolute_in_the_config() -> None:
    with pytest.raises(ValueError, match="return_urls"):
        Settings.model_validate({"liveness": {"return_urls": ["/relative/"]}})
