"""The management API key (`server.api_keys`, `vigilo.api.auth`): keys from the YAML or the environment, and
the default with no key configured (loopback clients only, a startup warning). Real uvicorn on loopback."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
import yaml
from starlette.testclient import TestClient

from tests.watch_e2e.conftest import served
from vigilo.api.app import create_app
from vigilo.api.auth import is_loopback
from vigilo.config import load_settings


def _app(tmp_path: Path, **server: object) -> object:
    config = {"server": server, "storage": {"data_dir": str(tmp_path / "var")}}
    path = tmp_path / "vigilo.yaml"
    tmp_path.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return create_app(load_settings(path, env_file=None))


def test_keys_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGILO_SERVER__API_KEYS", '["env-key-1", "env-key-2"]')
    with served(_app(tmp_path)) as url:
        assert httpx.get(url + "/api/v1/events").status_code == 401  # loopback, but keys are configured
        for key in ("env-key-1", "env-key-2"):
            reply = httpx.get(url + "/api/v1/events", headers={"X-API-Key": key})
            assert reply.status_code == 200 and reply.json()["items"] == []
        assert httpx.get(url + "/api/v1/cameras", headers={"Authorization": "Bearer env-key-2"}).json() == {"items": []}
        wrong = httpx.get(url + "/api/v1/cameras", headers={"X-API-Key": "env-key-3"})
        assert wrong.status_code == 401 and wrong.json()["code"] == "unauthorized"


def test_no_keys_serves_loopback_clients_only(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="vigilo.api.auth"):
        app = _app(tmp_path)
    assert any("server.api_keys is empty" in r.getMessage() for r in caplog.records)
    with served(app) as url:
        assert httpx.get(url + "/api/v1/events").status_code == 200
        assert httpx.get(url + "/api/v1/cameras").status_code == 200
        assert httpx.get(url + "/api/v1/events/1/snapshot.jpg").json()["code"] == "event_not_found"
        # a reverse proxy on this host: uvicorn takes the client from X-Forwarded-For, and it is not local
        proxied = httpx.get(url + "/api/v1/events", headers={"X-Forwarded-For": "203.0.113.7"})
        assert proxied.status_code == 401 and proxied.json()["code"] == "management_local_only"
        english = httpx.get(
            url + "/api/v1/cameras", headers={"X-Forwarded-For": "203.0.113.7", "Accept-Language": "en"}
        )
        assert english.json()["message"].startswith("No management API keys are configured")
        assert httpx.get(url + "/healthz").status_code == 200  # not part of the management API


def test_no_keys_refuses_remote_clients(tmp_path: Path) -> None:
    client = TestClient(_app(tmp_path), client=("198.51.100.20", 40000))  # type: ignore[arg-type]
    for path in ("/api/v1/events", "/api/v1/cameras", "/api/v1/events/1", "/api/v1/events/stream"):
        reply = client.get(path)
        assert reply.status_code == 401 and reply.json()["code"] == "management_local_only", path
        assert reply.json()["message"] == "未配置管理 API 密钥（server.api_keys），仅允许本机访问"


def test_startup_warning_names_a_public_bind(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="vigilo.api.auth"):
        _app(tmp_path, host="0.0.0.0")
        _app(tmp_path / "keyed", host="0.0.0.0", api_keys=["k"])
    messages = [r.getMessage() for r in caplog.records if r.name == "vigilo.api.auth"]
    assert len(messages) == 1 and "listening on 0.0.0.0" in messages[0]


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.2", False),
        ("::ffff:10.0.0.2", False),
        ("testclient", False),
        ("", False),
        (None, False),
    ],
)
def test_is_loopback(host: str | None, local: bool) -> None:
    assert is_loopback(host) is local
