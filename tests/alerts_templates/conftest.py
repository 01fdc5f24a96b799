"""Loopback fakes (shared with tests/alerts and tests/alerts_delivery) and a clock the tests move."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.alerts.conftest import (  # noqa: F401 - fixtures
    _dingtalk_server,
    _feishu_server,
    _webhook_server,
    _wecom_app_server,
    _wecom_bot_server,
    anyio_backend,
    dingtalk,
    feishu,
    receiver,
    wecom_app,
    wecom_bot,
)
from tests.alerts_delivery.conftest import robot  # noqa: F401 - fixture

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(text: str) -> float:
    """Epoch seconds of a wall-clock time in Shanghai, e.g. "2026-11-23 09:12:03"."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI).timestamp()


class Clock:
    """An injectable clock: `clock()` is the time; tests set or advance it."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock(local("2026-11-23 09:12:03"))
