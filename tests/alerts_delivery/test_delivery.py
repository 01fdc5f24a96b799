"""Outbox delivery through the real DingTalk channel against a loopback robot server, on both
outbox backends (SQLite and Redis)."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from tests.alerts_delivery.conftest import Backend, delivery_config, make_service, wait_for
from tests.alerts_delivery.robot_server import RobotServer
from vigilo.alerts.outbox import DEAD, PENDING, SENT, OutboxError
from vigilo.alerts.policy import Alert
from vigilo.alerts.service import AlertService

pytestmark = pytest.mark.anyio


def alert(camera: str = "gate-1", title: str = "phone seen", **kwargs: object) -> Alert:
    return Alert(title=title, body=f"{title} at {camera}", labels={"camera": camera}, **kwargs)  # type: ignore[arg-type]


async def test_http_200_with_nonzero_errcode_is_never_sent(
    tmp_path: Path, robot: RobotServer, outbox_backend: Backend
) -> None:
    robot.default = (310000, "sign not match")
    service = make_service(tmp_path, robot, backend=outbox_backend)
    [row_id] = service.submit(alert())
    await service.run_once()
    row = service.outbox.get(row_id)
    assert row is not None
    assert row.state == DEAD
    assert row.sent_at is None
    assert row.last_code == "310000"
    assert "permanent" in (row.last_reason or "") and "310000" in (row.last_reason or "")
    [stats] = service.stats()
    assert (stats.sent, stats.dead, stats.failed) == (0, 1, 1)
    await service.aclose()


async def test_busy_errcode_is_retried_not_sent(tmp_path: Path, robot: RobotServer, outbox_backend: Backend) -> None:
    robot.script.extend([(-1, "system busy")])
    service = make_service(tmp_path, robot, backend=outbox_backend)
    [row_id] = service.submit(alert())
    await service.run_once()
    row = service.outbox.get(row_id)
    assert row is not None and row.state == PENDING and row.last_code == "-1" and row.sent_at is None

    async def delivered() -> bool:
        await service.run_once()
        return _state(service, row_id) == SENT

    await wait_for(delivered)
    assert len(robot.received) == 2
    await service.aclose()


async def test_backoff_then_dead_letter_then_retry_command(
    tmp_path: Path, robot: RobotServer, outbox_backend: Backend
) -> None:
    robot.default = (-1, "system busy")
    service = make_service(tmp_path, robot, backend=outbox_backend)
    [row_id] = service.submit(alert())
    await service.start()
    await wait_for(lambda: _state(service, row_id) == DEAD)
    row = service.outbox.get(row_id)
    assert row is not None
    assert row.attempts == 3 and row.failures == 3
    assert (row.last_reason or "").startswith("gave up after 3 attempts")
    arrivals = [r.at for r in robot.received]
    assert len(arrivals) == 3
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    # base 0.05 s, factor 2, jitter 0.5: the 1st wait is 0.025-0.05 s, the 2nd 0.05-0.1 s
    assert gaps[0] >= 0.02 and gaps[1] >= 0.045
    assert all(r.key == row.idempotency_key for r in robot.received)  # same msgUuid on every try

    robot.default = (0, "ok")
    with pytest.raises(OutboxError) as not_found:
        service.retry(row_id + 100)
    assert not_found.value.code == "alert_not_found"
    requeued = service.retry(row_id)
    assert requeued.state == PENDING and requeued.attempts == 0
    await wait_for(lambda: _state(service, row_id) == SENT)
    with pytest.raises(OutboxError) as not_dead:
        service.retry(row_id)
    assert not_dead.value.code == "alert_not_retryable"
    [stats] = service.stats()
    assert (stats.sent, stats.dead, stats.failed, stats.retried) == (1, 0, 3, 1)
    assert stats.latency_p50_ms is not None and stats.latency_p99_ms is not None
    await service.aclose()


def _state(service: AlertService, row_id: int) -> str | None:
    row = service.outbox.get(row_id)
    return None if row is None else str(row.state)


async def test_platform_rate_limit_pauses_the_destination(
    tmp_path: Path, robot: RobotServer, outbox_backend: Backend
) -> None:
    robot.script.append((410100, "send too fast"))  # DingTalk: the robot is blocked for 10 minutes
    service = make_service(tmp_path, robot, backend=outbox_backend)
    [first] = service.submit(alert("gate-1"))
    await service.run_once()
    [second] = service.submit(alert("gate-2"))
    for _ in range(3):
        await service.run_once()
    assert len(robot.received) == 1  # nothing more goes to a throttled robot
    rows = [service.outbox.get(first), service.outbox.get(second)]
    assert all(r is not None and r.state == PENDING for r in rows)
    assert all(r is not None and r.next_attempt_at > time.time() + 590 for r in rows)
    row = rows[0]
    assert row is not None and row.last_outcome == "rate_limited" and "410100" in (row.last_reason or "")
    await service.aclose()


async def test_metrics_count_outcomes(tmp_path: Path, robot: RobotServer, outbox_backend: Backend) -> None:
    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before_sent = sample("vigilo_alert_deliveries_total", channel="ops", outcome="sent")
    before_retry = sample("vigilo_alert_deliveries_total", channel="ops", outcome="retry")
    robot.script.append((-1, "busy"))
    service = make_service(tmp_path, robot, backend=outbox_backend)
    service.submit(alert())
    await service.start()
    await wait_for(lambda: len(robot.received) == 2)
    await wait_for(lambda: sample("vigilo_alert_deliveries_total", channel="ops", outcome="sent") > before_sent)
    assert sample("vigilo_alert_deliveries_total", channel="ops", outcome="retry") == before_retry + 1
    await service.aclose()


async def test_stop_hands_back_rows_cut_off_mid_send(
    tmp_path: Path, robot: RobotServer, outbox_backend: Backend
) -> None:
    robot.hang_first = 10.0
    service = make_service(tmp_path, robot, backend=outbox_backend)
    [row_id] = service.submit(alert())
    await service.start()
    await wait_for(robot.first_arrived.is_set)
    await service.stop(grace=0.1)
    row = service.outbox.get(row_id)
    assert row is not None and row.state == PENDING and row.attempts == 0 and row.claim_token is None
    await service.aclose()


async def test_channel_test_message_respects_the_rate_limit(
    tmp_path: Path, robot: RobotServer, outbox_backend: Backend
) -> None:
    config = delivery_config(rate_limit={"limits": {"dingtalk": [{"limit": 1, "per_seconds": 60}]}})
    service = make_service(tmp_path, robot, config, backend=outbox_backend)
    first = await service.send_test("ops")
    second = await service.send_test("ops")
    assert first.ok and second.outcome.value == "rate_limited" and "rate limit" in second.reason
    assert len(robot.received) == 1
    await service.aclose()


async def test_purge_removes_old_finished_rows_and_their_snapshots(
    tmp_path: Path, robot: RobotServer, outbox_backend: Backend
) -> None:
    service = make_service(tmp_path, robot, backend=outbox_backend)
    [sent] = service.submit(alert("gate", snapshot=b"\xff\xd8jpeg-1"))
    await service.run_once()
    robot.default = (-1, "busy")
    [waiting] = service.submit(alert("dock", snapshot=b"\xff\xd8jpeg-2"))
    await service.run_once()
    assert len(list((tmp_path / "snapshots").glob("*.jpg"))) == 2
    assert service.outbox.purge(time.time() + 1) == 1  # the pending row stays
    assert service.outbox.get(sent) is None and service.outbox.get(waiting) is not None
    assert len(list((tmp_path / "snapshots").glob("*.jpg"))) == 1
    await service.aclose()
