"""Fixtures: a loopback robot server, a real redis-server, and services on a real SQLite outbox."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.alerts_delivery.robot_server import RobotServer
from vigilo.alerts.channels.dingtalk import DingTalkChannel
from vigilo.alerts.outbox import Outbox
from vigilo.alerts.ratelimit import MemoryRateLimiter, RateLimiter
from vigilo.alerts.service import AlertService
from vigilo.config.alert_policy import DeliveryConfig
from vigilo.config.model import NotificationConfig

TOKEN = "robot-token-0001"


@pytest.fixture
def robot() -> Iterator[RobotServer]:
    server = RobotServer().start()
    yield server
    server.stop()


def delivery_config(**sections: dict[str, Any]) -> DeliveryConfig:
    """Test defaults: no grouping wait, fast retries, short leases; overridden per section."""
    base: dict[str, dict[str, Any]] = {
        "policy": {"group_wait": 0, "group_interval": 0, "group_by": ["camera"]},
        "outbox": {"poll_interval": 0.02, "lease_seconds": 5, "send_timeout": 3},
        "retry": {"max_attempts": 3, "base_delay": 0.05, "factor": 2, "max_delay": 1, "jitter": 0.5},
        "rate_limit": {},
    }
    for name, values in sections.items():
        base[name] = {**base[name], **values}
    return DeliveryConfig.model_validate(base)


def make_service(
    tmp_path: Path,
    robot: RobotServer,
    config: DeliveryConfig | None = None,
    *,
    limiter: RateLimiter | None = None,
    channels: tuple[str, ...] = ("ops",),
    notification: NotificationConfig | None = None,
) -> AlertService:
    built = {
        name: DingTalkChannel(name, access_token=f"{TOKEN}-{name}", base_url=robot.url, timeout=3) for name in channels
    }
    outbox = Outbox(f"sqlite:///{tmp_path / 'outbox.db'}", tmp_path / "snapshots")
    return AlertService(
        built,
        config or delivery_config(),
        notification or NotificationConfig(),
        outbox,
        limiter or MemoryRateLimiter(),
    )


async def wait_for(check: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition not met within {timeout} s")
