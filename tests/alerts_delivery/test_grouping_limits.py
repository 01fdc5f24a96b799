"""Rate limits with digests, grouping windows, silences and the policy's switches."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.alerts_delivery.conftest import delivery_config, make_service, wait_for
from tests.alerts_delivery.robot_server import RobotServer
from vigilo.alerts.outbox import PENDING, SENT, SUPPRESSED
from vigilo.alerts.policy import Alert
from vigilo.alerts.service import AlertService
from vigilo.config.model import NotificationConfig

pytestmark = pytest.mark.anyio


def alert(camera: str, title: str, **kwargs: object) -> Alert:
    return Alert(title=title, body=f"{title} @ {camera}", labels={"camera": camera}, **kwargs)  # type: ignore[arg-type]


def states(service: AlertService, ids: list[int]) -> list[str]:
    rows = [service.outbox.get(i) for i in ids]
    return [row.state if row else "missing" for row in rows]


async def test_rate_limit_holds_at_20_per_minute(tmp_path: Path, robot: RobotServer) -> None:
    service = make_service(tmp_path, robot)  # the built-in DingTalk limit: 20 per 60 s
    first = [service.submit(alert(f"cam-{i}", f"alert-{i}"))[0] for i in range(25)]
    await service.run_once()
    assert len(robot.received) == 20  # 19 single messages and one digest of the other 6
    assert states(service, first) == [SENT] * 25
    # Sent side by side, the digest need not arrive last: it is the one message naming the last six.
    [digest] = [r.text for r in robot.received if "alert-24" in r.text]
    assert "6" in digest.splitlines()[0] and all(f"alert-{i}" in digest for i in range(19, 25))

    later = [service.submit(alert(f"cam-x{i}", f"later-{i}"))[0] for i in range(5)]
    for _ in range(5):
        await service.run_once()
    assert len(robot.received) == 20  # the minute is used up: nothing more goes out
    rows = [service.outbox.get(i) for i in later]
    assert all(r is not None and r.state == PENDING and r.attempts == 0 for r in rows)
    assert all(r is not None and r.next_attempt_at > time.time() + 50 for r in rows)
    await service.aclose()


async def test_overflow_becomes_one_digest_when_the_window_frees(tmp_path: Path, robot: RobotServer) -> None:
    # One send at a time, so the 20 slots leave the window one by one, as far apart as the sends were
    # (sent four at a time, they free four at a time: three single messages and a digest of seven).
    config = delivery_config(
        outbox={"concurrency": 1}, rate_limit={"limits": {"dingtalk": [{"limit": 20, "per_seconds": 1.0}]}}
    )
    service = make_service(tmp_path, robot, config)
    for i in range(20):
        service.submit(alert(f"cam-{i}", f"first-{i}"))
    started = time.time()  # before the first slot is taken
    await service.run_once()
    assert len(robot.received) == 20
    overflow = [service.submit(alert(f"cam-o{i}", f"overflow-{i}"))[0] for i in range(10)]
    await service.run_once()
    assert len(robot.received) == 20

    async def all_sent() -> bool:
        await service.run_once()
        return states(service, overflow) == [SENT] * 10

    await wait_for(all_sent, timeout=5)
    assert len(robot.received) == 21  # ten alerts, one message
    digest = robot.received[-1]
    assert all(f"overflow-{i}" in digest.text for i in range(10))
    assert digest.at - started >= 0.98  # not before the first slot leaves the 1-second window
    batch_keys = {service.outbox.get(i).batch_key for i in overflow}  # type: ignore[union-attr]
    assert batch_keys == {digest.key}
    await service.aclose()


async def test_group_wait_collapses_a_group_into_one_message(tmp_path: Path, robot: RobotServer) -> None:
    config = delivery_config(policy={"group_wait": 0.4, "group_interval": 0.6})
    service = make_service(tmp_path, robot, config)
    started = time.time()
    gate = [service.submit(alert("gate", f"gate-{i}"))[0] for i in range(5)]
    dock = [service.submit(alert("dock", f"dock-{i}"))[0] for i in range(2)]
    assert await service.run_once() == 0  # still inside group_wait
    await service.start()
    await wait_for(lambda: states(service, gate + dock) == [SENT] * 7, timeout=5)
    assert len(robot.received) == 2
    assert min(r.at for r in robot.received) - started >= 0.35
    texts = sorted(r.text for r in robot.received)
    assert all(f"dock-{i}" in texts[0] for i in range(2)) and all(f"gate-{i}" in texts[1] for i in range(5))

    # A new alert of a group that just spoke waits for group_interval, not group_wait.
    sent_at = max(r.at for r in robot.received)
    [late] = service.submit(alert("gate", "gate-late"))
    await wait_for(lambda: states(service, [late]) == [SENT], timeout=5)
    assert robot.received[-1].at - sent_at >= 0.5
    await service.aclose()


async def test_silence_suppresses_until_it_expires(tmp_path: Path, robot: RobotServer) -> None:
    ends = datetime.now(UTC) + timedelta(seconds=0.5)
    silence = {"match": {"camera": "lab"}, "ends_at": ends.isoformat(), "comment": "maintenance"}
    service = make_service(tmp_path, robot, delivery_config(policy={"silences": [silence]}))
    [muted] = service.submit(alert("lab", "muted"))
    [other] = service.submit(alert("gate", "loud"))
    await service.run_once()
    row = service.outbox.get(muted)
    assert row is not None and row.state == SUPPRESSED and "maintenance" in (row.last_reason or "")
    assert states(service, [other]) == [SENT] and len(robot.received) == 1
    await asyncio.sleep(max(0.0, (ends - datetime.now(UTC)).total_seconds()) + 0.05)
    [after] = service.submit(alert("lab", "after"))
    await service.run_once()
    assert states(service, [after]) == [SENT]
    assert [s.suppressed for s in service.stats()] == [1]
    await service.aclose()


async def test_threshold_switch_severity_routes_and_episodes(tmp_path: Path, robot: RobotServer) -> None:
    routes = [{"match": {"camera": "vault"}, "channels": ["security"]}]
    config = delivery_config(policy={"routes": routes, "repeat_interval": 60})
    service = make_service(
        tmp_path, robot, config, channels=("ops", "security"), notification=NotificationConfig(threshold=0.6)
    )
    assert service.submit(alert("gate", "weak", score=0.5)) == []
    assert service.outbox.rows() == []
    [vault] = service.submit(alert("vault", "three phones", phones=3))
    vault_row = service.outbox.get(vault)
    assert vault_row is not None and vault_row.channel == "security"
    assert len(service.submit(alert("gate", "to everyone"))) == 2  # no route: every channel
    first = service.submit(alert("gate", "episode", episode="ep-1"))
    again = service.submit(alert("gate", "episode again", episode="ep-1"))
    assert states(service, again) == [SUPPRESSED, SUPPRESSED] and states(service, first) == [PENDING] * 2
    assert service.submit(alert("gate", "dup", key="same-key")) == service.submit(alert("gate", "dup", key="same-key"))
    await service.run_once()
    urgent = [r for r in robot.received if "three phones" in r.text]
    assert len(urgent) == 1 and "🔴" in urgent[0].text  # urgent at >= 3 phones
    service.policy.notification = NotificationConfig(enabled=False)
    assert service.submit(alert("gate", "switched off")) == []
    await service.aclose()
