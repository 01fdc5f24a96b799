"""Daily/weekly reports: numbers from ledger rows the test creates; scheduling; the CLI."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tests.alerts_delivery.robot_server import RobotServer
from tests.alerts_templates.conftest import Clock, local
from tests.alerts_templates.test_quiet_hours import make, phone
from vigilo.alerts.policy import Alert, Silence
from vigilo.alerts.service import AlertService
from vigilo.cli.main import app as cli
from vigilo.config import load_settings
from vigilo.config.alert_policy import ReportConfig

pytestmark = pytest.mark.anyio


def zoned(camera: str, zone: str, phones: int = 1) -> Alert:
    alert = phone(camera, phones)
    alert.labels["zone"] = zone
    return alert


async def fill(service: AlertService, clock: Clock) -> None:
    """Two days ago: one alert. Today 09:00-09:30: four alerts and one silenced, on two channels."""
    clock.now = local("2026-11-21 10:00:00")
    service.submit(zoned("room-9", "C"))
    clock.now = local("2026-11-23 09:00:00")
    for alert in (zoned("room-1", "A"), zoned("room-1", "A", phones=3), zoned("room-1", "B"), zoned("room-2", "A")):
        service.submit(alert)
        clock.advance(60)
    service.policy.add_silence(Silence({"camera": "room-3"}, ends_at=datetime.fromtimestamp(clock.now + 3600, UTC)))
    service.submit(zoned("room-3", "A"))
    await service.run_once()


async def test_report_numbers_match_the_ledger(tmp_path: Path, robot: RobotServer) -> None:
    clock = Clock(0)
    service = make(tmp_path, robot, clock, channels=("ops", "sec"))
    await fill(service, clock)
    clock.now = local("2026-11-23 10:00:00")
    day = service.report("day").facts["report"]
    assert (day["total"], day["suppressed"]) == (5, 1)
    assert day["by_severity"] == {"default": 4, "urgent": 1}
    assert day["by_camera"] == [
        {"camera": "room-1", "count": 3},
        {"camera": "room-2", "count": 1},
        {"camera": "room-3", "count": 1},
    ]
    assert {"camera": "room-1", "zone": "A", "count": 2} in day["by_zone"]
    ops = next(c for c in day["channels"] if c["channel"] == "ops")
    assert (ops["sent"], ops["suppressed"], ops["dead"]) == (4, 1, 0)
    week = service.report("week").facts["report"]
    assert week["total"] == 6 and {"camera": "room-9", "count": 1} in week["by_camera"]
    text = service.channels["ops"].templates.render(service.report("day"), "text").text
    assert "告警共 5 条（紧急 1 条，一般 4 条）" in text and "room-1：3" in text
    await service.aclose()


async def test_scheduled_report_goes_out_once_at_its_local_time(tmp_path: Path, robot: RobotServer) -> None:
    clock = Clock(0)
    reports = [{"period": "day", "at": "08:00", "channels": ["ops"]}]
    service = make(tmp_path, robot, clock, channels=("ops", "sec"))
    service.config = service.config.model_copy(update={"reports": service.config.reports + _reports(reports)})
    await fill(service, clock)
    sent_before = len(robot.received)
    clock.now = local("2026-11-24 07:59:59")
    assert service.enqueue_due_reports() == []  # yesterday's 08:00 slot is more than an hour old
    clock.now = local("2026-11-24 08:00:30")
    ids = service.enqueue_due_reports()
    assert len(ids) == 1 and service.enqueue_due_reports() == []
    again = make(tmp_path, robot, clock, channels=("ops", "sec"))  # a restart, or a second process
    again.config = service.config
    assert again.enqueue_due_reports() == ids  # the same row: the key names the slot
    await service.run_once()
    report = robot.received[sent_before:]
    assert len(report) == 1 and "【告警日报】2026-11-23" in report[0].text and "告警共 5 条" in report[0].text
    await service.aclose()
    await again.aclose()


def _reports(items: list[dict[str, object]]) -> list[ReportConfig]:
    return [ReportConfig.model_validate(item) for item in items]


def test_cli_prints_and_sends_the_report(tmp_path: Path, robot: RobotServer) -> None:
    config = tmp_path / "vigilo.yaml"
    channels = {"ops": {"type": "dingtalk", "access_token": "cli-token", "base_url": robot.url}}
    config.write_text(
        yaml.safe_dump(
            {
                "storage": {"data_dir": str(tmp_path / "var")},
                "alerts": {"channels": channels, "policy": {"group_wait": 0}, "locale": "en"},
            }
        )
    )
    service = AlertService.from_settings(load_settings(config, env_file=None))
    for alert in (zoned("gate", "A"), zoned("gate", "A", phones=4), zoned("hall", "B")):
        service.submit(alert)
    asyncio.run(_close(service))
    runner = CliRunner()
    printed = runner.invoke(cli, ["alerts", "report", "--period", "week", "-c", str(config)])
    assert printed.exit_code == 0, printed.output
    assert "[Weekly alert report]" in printed.output and "3 alerts (1 urgent, 2 default)" in printed.output
    assert "gate: 2" in printed.output and "gate / A: 2" in printed.output
    sent = runner.invoke(cli, ["alerts", "report", "--send", "-c", str(config)])
    assert sent.exit_code == 0 and "ops: sent" in sent.output, sent.output
    assert any("[Daily alert report]" in r.text for r in robot.received)
    bad = runner.invoke(cli, ["alerts", "report", "--period", "month", "-c", str(config)])
    assert bad.exit_code == 2


async def _close(service: AlertService) -> None:
    await service.aclose()
