"""Fake platform servers for the channel tests: started once per session, reset for every test."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from PIL import Image

from tests.fakes.dingtalk import FakeDingTalk
from tests.fakes.feishu import FakeFeishu
from tests.fakes.webhook import FakeWebhookReceiver
from tests.fakes.wecom import FakeWeComApp, FakeWeComBot
from vigilo.alerts.channels.wecom_app import clear_token_cache


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def _wecom_app_server() -> Iterator[FakeWeComApp]:
    fake = FakeWeComApp().start()
    yield fake
    fake.stop()


@pytest.fixture
def wecom_app(_wecom_app_server: FakeWeComApp) -> FakeWeComApp:
    _wecom_app_server.reset()
    _wecom_app_server.clock.offset = 0.0
    clear_token_cache()
    return _wecom_app_server


@pytest.fixture(scope="session")
def _wecom_bot_server() -> Iterator[FakeWeComBot]:
    fake = FakeWeComBot().start()
    yield fake
    fake.stop()


@pytest.fixture
def wecom_bot(_wecom_bot_server: FakeWeComBot) -> FakeWeComBot:
    _wecom_bot_server.reset()
    _wecom_bot_server.clock.offset = 0.0
    return _wecom_bot_server


@pytest.fixture(scope="session")
def _dingtalk_server() -> Iterator[FakeDingTalk]:
    fake = FakeDingTalk().start()
    yield fake
    fake.stop()


@pytest.fixture
def dingtalk(_dingtalk_server: FakeDingTalk) -> FakeDingTalk:
    _dingtalk_server.reset()
    _dingtalk_server.clock.offset = 0.0
    return _dingtalk_server


@pytest.fixture(scope="session")
def _feishu_server() -> Iterator[FakeFeishu]:
    fake = FakeFeishu().start()
    yield fake
    fake.stop()


@pytest.fixture
def feishu(_feishu_server: FakeFeishu) -> FakeFeishu:
    _feishu_server.reset()
    _feishu_server.clock.offset = 0.0
    return _feishu_server


@pytest.fixture(scope="session")
def _webhook_server() -> Iterator[FakeWebhookReceiver]:
    fake = FakeWebhookReceiver().start()
    yield fake
    fake.stop()


@pytest.fixture
def receiver(_webhook_server: FakeWebhookReceiver) -> FakeWebhookReceiver:
    _webhook_server.reset()
    _webhook_server.clock.offset = 0.0
    return _webhook_server


@pytest.fixture
def alert_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def jpeg(width: int = 64, height: int = 48, *, noise: bool = False, quality: int = 90) -> bytes:
    """A real JPEG; with `noise` it compresses badly, so large sizes make large files."""
    if noise:
        import os

        image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    else:
        image = Image.new("RGB", (width, height), (200, 30, 30))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def closed_port_url() -> str:
    """An http URL where nothing listens (connection refused)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
