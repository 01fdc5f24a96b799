"""`vigilo serve`'s app starts the delivery worker: an alert submitted to the running app reaches a
DingTalk robot configured only through the seed's DINGTALK_WEBHOOK / DINGTALK_SECRET names."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import LOCAL
from tests.fakes.dingtalk import SECRET, TOKEN, FakeDingTalk
from vigilo.alerts.policy import Alert
from vigilo.api.app import create_app
from vigilo.config import load_settings


@pytest.fixture
def fake() -> Iterator[FakeDingTalk]:
    server = FakeDingTalk().start()
    yield server
    server.stop()


def test_running_app_delivers_alerts(tmp_path: Path, fake: FakeDingTalk, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DINGTALK_WEBHOOK", f"{fake.url}/robot/send?access_token={TOKEN}")
    monkeypatch.setenv("DINGTALK_SECRET", SECRET)
    monkeypatch.setenv("VIGILO_ALERTS__POLICY__GROUP_WAIT", "0")
    monkeypatch.setenv("VIGILO_ALERTS__OUTBOX__POLL_INTERVAL", "0.05")
    settings = load_settings()
    with TestClient(create_app(settings), client=LOCAL) as client:
        services = client.app.state.services  # type: ignore[attr-defined]
        services.alert_service.submit(Alert(title="考场 3 发现手机", body="phone", labels={"camera": "room-3"}))
        deadline = time.monotonic() + 15
        while not fake.delivered and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(fake.delivered) == 1
        assert "考场 3 发现手机" in str(fake.delivered[0])
        stats = client.get("/api/v1/alerts/stats").json()
        assert "dingtalk" in str(stats)
