"""Quiet hours and weekly schedules, with an injected clock, through the real service and outbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.alerts_delivery.robot_server import RobotServer
from tests.alerts_templates.conftest import Clock, local
from vigilo.alerts.channels.dingtalk import DingTalkChannel
from vigilo.alerts.outbox import Outbox
from vigilo.alerts.policy import Alert
from vigilo.alerts.ratelimit import MemoryRateLimiter
from vigilo.alerts.service import AlertService
from vigilo.config.alert_policy import DeliveryConfig
from vigilo.config.model import NotificationConfig

pytestmark = pytest.mark.anyio

NIGHT = {"windows": [{"start": "22:00", "end": "07:00"}]}


def make(
    tmp_path: Path, robot: RobotServer, clock: Clock, channels: tuple[str, ...] = ("ops",), **policy: Any
) -> AlertService:
    config = DeliveryConfig.model_validate(
        {
            "policy": {
                "group_wait": 0,
                "group_interval": 0,
                "group_by": ["camera"],
                "timezone": "Asia/Shanghai",
                **policy,
            },
            "outbox": {"poll_interval": 0.02, "lease_seconds": 5, "send_timeout": 3},
            "retry": {"max_attempts": 2, "base_delay": 0.05, "max_delay": 1},
        }
    )
    built = {n: DingTalkChannel(n, access_token=f"tok-{n}", base_url=robot.url, timeout=3) for n in channels}
    outbox = Outbox(f"sqlite:///{tmp_path / 'outbox.db'}", tmp_path / "snapshots", clock=clock)
    return AlertService(built, config, NotificationConfig(), outbox, MemoryRateLimiter(), clock=clock)


def phone(camera: str, phones: int = 1) -> Alert:
    return Alert(title="t", body="", labels={"kind": "phone", "camera": camera}, phones=phones, score=0.9)


async def deliver(service: AlertService) -> None:
    await service.run_once()


async def test_default_alerts_wait_for_the_morning_urgent_ones_go_now(tmp_path: Path, robot: RobotServer) -> None:
    clock = Clock(local("2026-11-23 23:30:00"))
    service = make(tmp_path, robot, clock, quiet_hours=NIGHT)
    [held] = service.submit(phone("room-1"))
    service.submit(phone("room-2", phones=3))
    row = service.outbox.get(held)
    assert row is not None and row.next_attempt_at == local("2026-11-24 07:00:00") and row.state == "pending"
    await deliver(service)
    assert len(robot.received) == 1 and "紧急" in robot.received[0].text and "room-2" in robot.received[0].text
    clock.now = local("2026-11-24 06:59:59")
    await deliver(service)
    assert len(robot.received) == 1  # still quiet
    clock.now = local("2026-11-24 07:00:00")
    await deliver(service)
    assert len(robot.received) == 2 and "room-1" in robot.received[1].text
    # Daytime: no hold at all.
    clock.now = local("2026-11-24 09:00:00")
    [day] = service.submit(phone("room-3"))
    day_row = service.outbox.get(day)
    assert day_row is not None and day_row.next_attempt_at == clock.now
    await service.aclose()


async def test_digest_mode_sends_one_message_at_the_end(tmp_path: Path, robot: RobotServer) -> None:
    clock = Clock(local("2026-11-23 23:00:00"))
    service = make(tmp_path, robot, clock, quiet_hours={**NIGHT, "default": "digest"})
    service.submit(phone("room-1"))
    clock.now = local("2026-11-24 01:00:00")
    service.submit(phone("room-2"))
    clock.now = local("2026-11-24 07:00:05")
    await deliver(service)
    assert len(robot.received) == 1
    first_line = robot.received[0].text.splitlines()[0]
    assert "告警汇总" in first_line and "2" in first_line
    assert "room-1" in robot.received[0].text and "room-2" in robot.received[0].text
    await service.aclose()


async def test_drop_and_urgent_hold_are_configurable(tmp_path: Path, robot: RobotServer) -> None:
    clock = Clock(local("2026-11-23 23:00:00"))
    service = make(tmp_path, robot, clock, quiet_hours={**NIGHT, "default": "drop", "urgent": "hold"})
    [dropped] = service.submit(phone("room-1"))
    [urgent] = service.submit(phone("room-2", phones=5))
    dropped_row, urgent_row = service.outbox.get(dropped), service.outbox.get(urgent)
    assert (
        dropped_row is not None
        and dropped_row.state == "suppressed"
        and "quiet hours" in (dropped_row.last_reason or "")
    )
    assert urgent_row is not None and urgent_row.next_attempt_at == local("2026-11-24 07:00:00")
    await deliver(service)
    assert robot.received == []
    await service.aclose()


async def test_weekend_windows_join_the_night_and_match_labels(tmp_path: Path, robot: RobotServer) -> None:
    clock = Clock(local("2026-11-27 23:00:00"))  # a Friday
    quiet = {
        "windows": [{"days": ["fri"], "start": "22:00", "end": "07:00"}],
        "schedules": ["weekend"],
        "match": {"zone": "exam"},
    }
    weekend = [{"days": ["sat", "sun"], "start": "00:00", "end": "24:00"}]
    service = make(tmp_path, robot, clock, quiet_hours=quiet, schedules={"weekend": weekend})
    held_alert = phone("room-1")
    held_alert.labels["zone"] = "exam"
    [held] = service.submit(held_alert)
    [other] = service.submit(phone("room-2"))  # no zone=exam: not quiet
    held_row, other_row = service.outbox.get(held), service.outbox.get(other)
    assert held_row is not None and held_row.next_attempt_at == local("2026-11-30 00:00:00")  # Monday
    assert other_row is not None and other_row.next_attempt_at == clock.now
    clock.now = local("2026-11-26 23:00:00")  # Thursday night: the Friday window does not apply
    [thursday] = service.submit(Alert(title="t", body="b", labels={"camera": "x", "zone": "exam"}))
    thursday_row = service.outbox.get(thursday)
    assert thursday_row is not None and thursday_row.next_attempt_at == clock.now
    await service.aclose()


async def test_route_active_during_a_weekly_schedule(tmp_path: Path, robot: RobotServer) -> None:
    clock = Clock(local("2026-11-23 09:00:00"))  # Monday
    exams = [{"days": ["mon", "tue"], "start": "08:00", "end": "12:00"}]
    service = make(
        tmp_path,
        robot,
        clock,
        channels=("ops", "invigilators"),
        schedules={"exams": exams},
        routes=[{"match": {}, "channels": ["invigilators"], "active_during": ["exams"]}],
        default_channels=["ops"],
    )
    assert service.policy.evaluate(phone("r")).channels == ["invigilators"]
    clock.now = local("2026-11-23 12:00:00")
    assert service.policy.evaluate(phone("r")).channels == ["ops"]
    clock.now = local("2026-11-25 09:00:00")  # Wednesday
    assert service.policy.evaluate(phone("r")).channels == ["ops"]
    await service.aclose()


def test_unknown_schedule_and_bad_times_are_config_errors() -> None:
    with pytest.raises(ValueError, match="unknown schedule 'exams'"):
        DeliveryConfig.model_validate({"policy": {"quiet_hours": {"schedules": ["exams"]}}})
    with pytest.raises(ValueError, match="not a time of day"):
        DeliveryConfig.model_validate({"policy": {"quiet_hours": {"windows": [{"start": "25:00", "end": "07:00"}]}}})
    with pytest.raises(ValueError, match="unknown time zone"):
        DeliveryConfig.model_validate({"policy": {"timezone": "Mars/Base"}})
