"""Fixtures: a loopback robot server, a real redis-server, and services on a real SQLite outbox."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.alerts_delivery.robot_server import RobotServer
from vigilo.alerts.channels.dingtalk import DingTalkChannel
from vigilo.alerts.outbox import Outbox
from vigilo.alerts.outbox_redis import RedisOutbox
from vigilo.alerts.ratelimit import MemoryRateLimiter, RateLimiter
from vigilo.alerts.service import AlertService
from vigilo.alerts.silences import SilenceStore
from vigilo.config.alert_policy import DeliveryConfig
from vigilo.config.model import NotificationConfig
from vigilo.db import make_engine

TOKEN = "robot-token-0001"


@pytest.fixture
def robot() -> Iterator[RobotServer]:
    server = RobotServer().start()
    yield server
    server.stop()


class Backend:
    """Where a test's outbox lives: SQLite in tmp_path, or the session's redis-server under a
    prefix of its own (so tests never see each other's rows)."""

    def __init__(self, name: str, redis_url: str | None = None) -> None:
        self.name = name
        self.redis_url = redis_url
        self.prefix = f"test:{uuid.uuid4().hex[:12]}:"

    def outbox(self, folder: Path, clock: Callable[[], float] = time.time) -> Outbox | RedisOutbox:
        if self.name == "redis":
            assert self.redis_url is not None
            return RedisOutbox(self.redis_url, folder / "snapshots", self.prefix, clock)
        return Outbox(f"sqlite:///{folder / 'outbox.db'}", folder / "snapshots", clock)

    def worker_args(self) -> list[str]:
        """The trailing arguments that put worker_proc.py's outbox here."""
        return [self.redis_url or "", self.prefix] if self.name == "redis" else []

    def silences(self, folder: Path) -> SilenceStore | None:
        """None for SQL (the service keeps silences next to the outbox); a SQLite file for Redis."""
        return SilenceStore(make_engine(f"sqlite:///{folder / 'silences.db'}")) if self.name == "redis" else None


SQL = Backend("sql")


@pytest.fixture(params=["sql", "redis"])
def outbox_backend(request: pytest.FixtureRequest) -> Backend:
    """Each outbox-level test once on SQLite and once on a real redis-server."""
    if request.param == "redis":
        return Backend("redis", request.getfixturevalue("redis_url"))
    return Backend("sql")


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
    backend: Backend = SQL,
) -> AlertService:
    built = {
        name: DingTalkChannel(name, access_token=f"{TOKEN}-{name}", base_url=robot.url, timeout=3) for name in channels
    }
    return AlertService(
        built,
        config or delivery_config(),
        notification or NotificationConfig(),
        backend.outbox(tmp_path),
        limiter or MemoryRateLimiter(),
        silences=backend.silences(tmp_path),
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
