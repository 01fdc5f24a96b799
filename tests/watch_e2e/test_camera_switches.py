"""Enable/disable through the API survives a restart (stored in the event database), until the YAML's
`enabled` is edited. Each step is a fresh app (real uvicorn) over the same config and SQLite database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import numpy as np
import yaml

from tests.watch_e2e.conftest import served, wait_for
from vigilo.api.app import create_app
from vigilo.config import load_settings
from vigilo.phone.events import EventStore
from vigilo.vision.imageio import encode_jpeg

CAMERA = "考场一"  # a CJK name, in URLs too
KEY = {"X-API-Key": "switch-key"}


def _write_config(tmp_path: Path, enabled: bool) -> Path:
    frames = tmp_path / "frames"
    frames.mkdir(exist_ok=True)
    (frames / "0.jpg").write_bytes(encode_jpeg(np.full((120, 160, 3), 90, dtype=np.uint8)))
    config = {
        "server": {"api_keys": [KEY["X-API-Key"]]},
        "storage": {"data_dir": str(tmp_path / "var")},
        "detector": {"threads": 1},
        "cameras": {"streams": {CAMERA: {"source": str(frames), "fps": 2, "enabled": enabled}}},
    }
    path = tmp_path / "vigilo.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def _camera(url: str) -> dict[str, Any]:
    reply = httpx.get(f"{url}/api/v1/cameras/{CAMERA}", headers=KEY, timeout=10)
    assert reply.status_code == 200, reply.text
    result: dict[str, Any] = reply.json()
    return result


def _switch(url: str, action: str) -> dict[str, Any]:
    reply = httpx.post(f"{url}/api/v1/cameras/{CAMERA}/{action}", headers=KEY, timeout=30)
    assert reply.status_code == 200, reply.text
    result: dict[str, Any] = reply.json()
    return result


def _run(config: Path) -> Any:
    return served(create_app(load_settings(config, env_file=None)))


def _stored(tmp_path: Path) -> dict[str, Any]:
    store = EventStore(f"sqlite:///{tmp_path / 'var' / 'vigilo.db'}", tmp_path / "var")
    try:
        return {name: switch.enabled for name, switch in store.camera_switches().items()}
    finally:
        store.close()


def test_disable_survives_a_restart_until_the_yaml_changes(tmp_path: Path) -> None:
    config = _write_config(tmp_path, enabled=True)
    with _run(config) as url:
        wait_for(lambda: _camera(url)["state"] != "starting", 60, "the camera to start")
        assert _camera(url)["enabled"] is True
        assert _switch(url, "disable")["state"] == "disabled"

    with _run(config) as url:  # restart: the API's choice holds over the YAML's `enabled: true`
        camera = _camera(url)
        assert camera["enabled"] is False and camera["state"] == "disabled"
        assert _switch(url, "enable")["enabled"] is True

    with _run(config) as url:
        wait_for(lambda: _camera(url)["state"] != "starting", 60, "the camera to start again")
        assert _camera(url)["enabled"] is True
        _switch(url, "disable")
    assert _stored(tmp_path) == {CAMERA: False}

    # someone edits the YAML afterwards (true -> false): the YAML is the newer decision, the stored switch goes
    config = _write_config(tmp_path, enabled=False)
    with _run(config) as url:
        assert _camera(url)["enabled"] is False
    assert _stored(tmp_path) == {}
    config = _write_config(tmp_path, enabled=True)
    with _run(config) as url:
        assert _camera(url)["enabled"] is True  # no stale switch left to override it
