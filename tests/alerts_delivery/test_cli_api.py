"""`vigilo alerts ...` and /api/v1/alerts against a real SQLite outbox and the loopback robot."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.alerts_delivery.robot_server import RobotServer
from tests.conftest import LOCAL
from vigilo.alerts.policy import Alert
from vigilo.alerts.service import AlertService
from vigilo.api.app import create_app
from vigilo.cli.main import app as cli
from vigilo.config import Settings, load_settings


@pytest.fixture
def config_file(tmp_path: Path, robot: RobotServer) -> Path:
    path = tmp_path / "vigilo.yaml"
    config = {
        "storage": {"data_dir": str(tmp_path / "var")},
        "alerts": {
            "channels": {"ops": {"type": "dingtalk", "access_token": "cli-token", "base_url": robot.url}},
            "policy": {"group_wait": 0},
        },
    }
    path.write_text(yaml.safe_dump(config))
    return path


def dead_letter(settings: Settings) -> int:
    """One alert the robot refuses (errcode 310000), so it ends as a dead letter."""
    service = AlertService.from_settings(settings)
    [row_id] = service.submit(Alert(title="phone at gate", body="1 phone", labels={"camera": "gate"}))

    async def deliver() -> None:
        await service.run_once()
        await service.aclose()
        await service.channels["ops"].aclose()

    asyncio.run(deliver())
    return row_id


def test_cli_list_retry_stats_and_test(config_file: Path, robot: RobotServer) -> None:
    robot.default = (310000, "sign not match")
    row_id = dead_letter(load_settings(config_file))
    runner = CliRunner()
    listed = runner.invoke(cli, ["alerts", "list", "--state", "dead", "--json", "-c", str(config_file)])
    assert listed.exit_code == 0, listed.output
    [row] = [json.loads(line) for line in listed.output.splitlines()]
    assert row["id"] == row_id and row["state"] == "dead" and row["last_code"] == "310000"

    stats = runner.invoke(cli, ["alerts", "stats", "--json", "-c", str(config_file)])
    assert json.loads(stats.output)[0]["dead"] == 1

    missing = runner.invoke(cli, ["alerts", "retry", "999", "-c", str(config_file)])
    assert missing.exit_code == 2 and "no alert delivery with id 999" in missing.output

    retried = runner.invoke(cli, ["alerts", "retry", str(row_id), "-c", str(config_file)])
    assert retried.exit_code == 0, retried.output
    again = runner.invoke(cli, ["alerts", "retry", str(row_id), "-c", str(config_file)])
    assert again.exit_code == 2 and "only dead letters can be retried" in again.output

    refused = runner.invoke(cli, ["alerts", "test", "ops", "-c", str(config_file)])
    assert refused.exit_code == 1 and "310000" in refused.output
    robot.default = (0, "ok")
    sent = runner.invoke(cli, ["alerts", "test", "ops", "-c", str(config_file)])
    assert sent.exit_code == 0, sent.output
    assert "Vigilo" in robot.received[-1].text
    unknown = runner.invoke(cli, ["alerts", "test", "nope", "-c", str(config_file)])
    assert unknown.exit_code == 2 and "no channel named 'nope'" in unknown.output


def test_api_list_retry_stats(config_file: Path, robot: RobotServer) -> None:
    robot.default = (310000, "sign not match")
    settings = load_settings(config_file)
    row_id = dead_letter(settings)
    client = TestClient(create_app(settings), client=LOCAL)

    remote = TestClient(client.app, client=("198.51.100.7", 40000))  # the ledger is management API
    assert remote.get("/api/v1/alerts").json()["code"] == "management_local_only"
    assert remote.post(f"/api/v1/alerts/{row_id}/retry").status_code == 401
    listed = client.get("/api/v1/alerts", params={"state": "dead"})
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["items"]] == [row_id]
    assert client.get("/api/v1/alerts", params={"state": "bogus"}).status_code == 422

    stats = client.get("/api/v1/alerts/stats").json()
    assert stats["channels"][0]["channel"] == "ops" and stats["channels"][0]["dead"] == 1

    missing = client.post("/api/v1/alerts/999/retry")
    assert missing.status_code == 404 and missing.json()["code"] == "alert_not_found"
    assert missing.json()["message"] == "告警投递记录 999 不存在"

    retried = client.post(f"/api/v1/alerts/{row_id}/retry")
    assert retried.status_code == 200 and retried.json()["state"] == "pending"
    again = client.post(f"/api/v1/alerts/{row_id}/retry", headers={"Accept-Language": "en"})
    assert again.status_code == 409 and again.json()["code"] == "alert_not_retryable"
    assert again.json()["message"] == f"Alert delivery {row_id} is pending; only dead letters can be retried"
