"""The delivery layer against the shared DingTalk fake (tests/fakes), which enforces the real limit:
20 messages a minute per robot, then a 10-minute block with errcode 410100."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.alerts_delivery.conftest import delivery_config
from tests.fakes.dingtalk import SECRET, TOKEN, FakeDingTalk
from vigilo.alerts.channels.dingtalk import DingTalkChannel
from vigilo.alerts.outbox import PENDING, SENT, Outbox
from vigilo.alerts.policy import Alert
from vigilo.alerts.ratelimit import MemoryRateLimiter
from vigilo.alerts.service import AlertService
from vigilo.config.alert_policy import DeliveryConfig
from vigilo.config.model import NotificationConfig

pytestmark = pytest.mark.anyio


@pytest.fixture
def fake() -> Iterator[FakeDingTalk]:
    server = FakeDingTalk().start()
    yield server
    server.stop()


def service_for(tmp_path: Path, fake: FakeDingTalk, config: DeliveryConfig) -> AlertService:
    channel = DingTalkChannel("ops", access_token=TOKEN, secret=SECRET, base_url=fake.url)
    outbox = Outbox(f"sqlite:///{tmp_path / 'outbox.db'}", tmp_path / "snapshots")
    return AlertService({"ops": channel}, config, NotificationConfig(), outbox, MemoryRateLimiter())


def submit(service: AlertService, prefix: str, count: int) -> list[int]:
    return [
        service.submit(Alert(title=f"{prefix}-{i}", body="phone", labels={"camera": f"{prefix}-{i}"}))[0]
        for i in range(count)
    ]


def states(service: AlertService, ids: list[int]) -> set[str]:
    return {row.state if row else "missing" for row in map(service.outbox.get, ids)}


async def test_a_burst_never_trips_the_platform_limit(tmp_path: Path, fake: FakeDingTalk) -> None:
    service = service_for(tmp_path, fake, delivery_config())  # built-in limit: 20 a minute
    burst = submit(service, "burst", 30)
    await service.run_once()
    later = submit(service, "later", 5)
    for _ in range(3):
        await service.run_once()
    assert len(fake.delivered) == 20 and len(fake.requests) == 20  # 19 alerts + a digest of 11
    assert fake.robots[TOKEN].blocked_until == 0  # never throttled
    assert states(service, burst) == {SENT} and states(service, later) == {PENDING}
    await service.aclose()


async def test_without_our_limit_the_robot_is_blocked_and_we_pause(tmp_path: Path, fake: FakeDingTalk) -> None:
    config = delivery_config(rate_limit={"limits": {"dingtalk": [{"limit": 100, "per_seconds": 60}]}})
    service = service_for(tmp_path, fake, config)
    ids = submit(service, "flood", 25)
    await service.run_once()
    assert len(fake.delivered) == 20
    # The 21st was refused with 410100, and so were the sends already in flight beside it (at most
    # `concurrency` - 1 of them); the rest were held back without a request.
    refused = len(fake.requests) - 20
    assert 1 <= refused <= config.outbox.concurrency
    rows = [service.outbox.get(i) for i in ids]
    held = [r for r in rows if r is not None and r.state == PENDING]
    assert len(held) == 5 and all(r.next_attempt_at > time.time() + 590 for r in held)
    assert sum(1 for r in held if r.last_outcome == "rate_limited") == refused
    await service.run_once()
    assert len(fake.requests) == 20 + refused  # paused for the 10-minute block
    await service.aclose()
