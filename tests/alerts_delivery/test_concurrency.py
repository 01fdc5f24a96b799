"""Several messages in flight per channel, and claims that stay ours while slow sends go on."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from tests.alerts_delivery.conftest import delivery_config, make_service, wait_for
from tests.alerts_delivery.robot_server import RobotServer
from vigilo.alerts.outbox import SENT
from vigilo.alerts.policy import Alert
from vigilo.alerts.service import AlertService

pytestmark = pytest.mark.anyio


def alert(camera: str, title: str) -> Alert:
    return Alert(title=title, body="1 phone", labels={"camera": camera})


def states(service: AlertService, ids: list[int]) -> list[str]:
    return [row.state if (row := service.outbox.get(i)) else "missing" for i in ids]


async def test_a_channel_has_up_to_concurrency_sends_in_flight(tmp_path: Path, robot: RobotServer) -> None:
    robot.delay = 0.3
    service = make_service(tmp_path, robot, delivery_config(outbox={"concurrency": 4}))
    ids = [service.submit(alert(f"cam-{i}", f"slow-{i}"))[0] for i in range(10)]
    await service.run_once()
    assert states(service, ids) == [SENT] * 10
    assert robot.most_in_flight == 4  # not one at a time, and never more than configured
    await service.aclose()


async def test_slow_sends_keep_their_claim_so_no_other_worker_takes_the_rows(
    tmp_path: Path, robot: RobotServer
) -> None:
    """Six sends of 0.4 s, one at a time, take 2.4 s, far past the 0.9 s lease: the claim's lease is
    renewed while they run, so a second worker polling the same outbox finds nothing to take."""
    robot.delay = 0.4
    config = delivery_config(outbox={"concurrency": 1, "lease_seconds": 0.9, "send_timeout": 0.8})
    first = make_service(tmp_path, robot, config)
    second = make_service(tmp_path, robot, config)
    ids = [first.submit(alert(f"cam-{i}", f"lease-{i}"))[0] for i in range(6)]
    delivering = asyncio.create_task(first.run_once())
    await wait_for(lambda: len(robot.received) > 0)  # the first worker holds the claim now
    taken_by_second = 0
    while not delivering.done():
        taken_by_second += await second.run_once()
        await asyncio.sleep(0.05)
    assert await delivering == 6
    await wait_for(lambda: states(first, ids) == [SENT] * 6)
    assert taken_by_second == 0
    assert Counter(r.key for r in robot.received) == {r.idempotency_key: 1 for r in first.rows()}
    await first.aclose()
    await second.aclose()
