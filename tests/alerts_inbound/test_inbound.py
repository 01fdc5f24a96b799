"""POST /api/v1/alerts, persisted silences (API and CLI) and `vigilo notify test`, against a real
SQLite outbox and the loopback DingTalk-like robot."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from tests.alerts_delivery.robot_server import RobotServer
from tests.conftest import LOCAL
from vigilo.alerts.policy import Alert
from vigilo.alerts.service import AlertService
from vigilo.alerts.silences import parse_duration
from vigilo.api.app import create_app
from vigilo.cli.main import app as cli
from vigilo.config import load_settings

KEY = "inbound-key-0123456789"
TOKEN = "notify-secret-token-777"


@pytest.fixture
def robot() -> RobotServer:
    server = RobotServer().start()
    yield server  # type: ignore[misc]
    server.stop()


@pytest.fixture
def config_file(tmp_path: Path, robot: RobotServer) -> Path:
    path = tmp_path / "vigilo.yaml"
    config = {
        "storage": {"data_dir": str(tmp_path / "var")},
        "alerts": {
            "channels": {"ops": {"type": "dingtalk", "access_token": TOKEN, "base_url": robot.url}},
            "policy": {"group_wait": 0},
            "api_keys": [KEY, "second-key-abcdef"],
            "max_snapshot_mb": 0.01,
        },
    }
    path.write_text(yaml.safe_dump(config))
    return path


def jpeg(size: int = 32) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def test_raise_alert_needs_a_key_and_is_idempotent(config_file: Path) -> None:
    client = TestClient(create_app(load_settings(config_file)), client=LOCAL)
    body = {"title": "门禁检测", "body": "外部系统", "labels": {"camera": "gate"}, "idempotency_key": "ext-1"}

    for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer "}, {"Authorization": f"Basic {KEY}"}):
        refused = client.post("/api/v1/alerts", json=body, headers=headers)
        assert refused.status_code == 401, headers
        assert refused.json()["code"] == "unauthorized"
    assert client.get("/api/v1/alerts").json()["items"] == []  # nothing was queued

    first = client.post("/api/v1/alerts", json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert first.status_code == 202, first.text
    [row_id] = first.json()["ids"]
    again = client.post("/api/v1/alerts", json=body, headers={"X-API-Key": "second-key-abcdef"})
    assert again.json()["ids"] == [row_id]
    [row] = client.get("/api/v1/alerts").json()["items"]
    assert row["id"] == row_id and row["state"] == "pending" and row["title"] == "门禁检测"


def test_raise_alert_rejects_bad_bodies_and_images(config_file: Path) -> None:
    client = TestClient(create_app(load_settings(config_file)), client=LOCAL)
    auth = {"X-API-Key": KEY}
    ok = client.post(
        "/api/v1/alerts",
        json={"title": "with image", "snapshot": base64.b64encode(jpeg()).decode(), "phones": 3},
        headers=auth,
    )
    assert ok.status_code == 202, ok.text
    big = base64.b64encode(b"\xff\xd8\xff" + b"\0" * 20_000).decode()  # over max_snapshot_mb (10 kB)
    too_big = client.post("/api/v1/alerts", json={"title": "x", "snapshot": big}, headers=auth)
    assert too_big.status_code == 413 and too_big.json()["code"] == "body_too_large"
    bad = client.post("/api/v1/alerts", json={"title": "x", "snapshot": "not base64!"}, headers=auth)
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_request"
    not_image = client.post(
        "/api/v1/alerts", json={"title": "x", "snapshot": base64.b64encode(b"hello").decode()}, headers=auth
    )
    assert not_image.status_code == 422 and not_image.json()["code"] == "image_unreadable"
    for wrong in ({"title": ""}, {"title": "x", "extra": 1}, {"title": "x" * 300}, {"title": "x", "score": 2}):
        answer = client.post("/api/v1/alerts", json=wrong, headers=auth)
        assert answer.status_code == 422, wrong
    huge = client.post(
        "/api/v1/alerts",
        content=b'{"title": "' + b"x" * (11 * 1024 * 1024) + b'"}',
        headers={**auth, "Content-Type": "application/json"},
    )
    assert huge.status_code == 413


def test_silences_api_persist_across_restart(config_file: Path) -> None:
    settings = load_settings(config_file)
    client = TestClient(create_app(settings), client=LOCAL)
    auth = {"Authorization": f"Bearer {KEY}"}
    assert (
        client.post("/api/v1/alerts/silences", json={"match": {"camera": "room-3"}, "duration": "2h"}).status_code
        == 401
    )
    added = client.post(
        "/api/v1/alerts/silences",
        json={"match": {"camera": "room-3"}, "duration": "2h", "comment": "maintenance"},
        headers=auth,
    )
    assert added.status_code == 201, added.text
    silence = added.json()
    assert silence["active"] and 7190 < silence["ends_at"] - silence["starts_at"] <= 7200
    bad = client.post("/api/v1/alerts/silences", json={"match": {"camera": "x"}, "duration": "soon"}, headers=auth)
    assert bad.status_code == 422

    raised = client.post("/api/v1/alerts", json={"title": "t", "labels": {"camera": "room-3"}}, headers=auth)
    [row_id] = raised.json()["ids"]
    other = client.post("/api/v1/alerts", json={"title": "t", "labels": {"camera": "room-4"}}, headers=auth)
    states = {item["id"]: item["state"] for item in client.get("/api/v1/alerts").json()["items"]}
    assert states[row_id] == "suppressed" and states[other.json()["ids"][0]] == "pending"

    # A new process (restart) sees the stored silence.
    fresh = AlertService.from_settings(load_settings(config_file), {"ops": object()})  # type: ignore[dict-item]
    assert fresh.policy.silenced_by({"camera": "room-3"}) is not None
    fresh.close()

    listed = client.get("/api/v1/alerts/silences", headers=auth).json()["items"]
    assert [s["id"] for s in listed] == [silence["id"]]
    assert client.delete("/api/v1/alerts/silences/9999", headers=auth).status_code == 404
    gone = client.delete(f"/api/v1/alerts/silences/{silence['id']}", headers=auth)
    assert gone.status_code == 200 and not gone.json()["active"]
    after = client.post("/api/v1/alerts", json={"title": "t2", "labels": {"camera": "room-3"}}, headers=auth)
    [after_id] = after.json()["ids"]
    states = {item["id"]: item["state"] for item in client.get("/api/v1/alerts").json()["items"]}
    assert states[after_id] == "pending"
    assert client.get("/api/v1/alerts/silences", headers=auth).json()["items"] == []
    assert len(client.get("/api/v1/alerts/silences?expired=true", headers=auth).json()["items"]) == 1


def test_silence_cli_reaches_a_running_service(config_file: Path) -> None:
    runner = CliRunner()
    running = AlertService.from_settings(load_settings(config_file), {})
    added = runner.invoke(
        cli,
        [
            "alerts",
            "silence",
            "add",
            "--match",
            "camera=room-3",
            "--for",
            "1h30m",
            "--comment",
            "exam",
            "-c",
            str(config_file),
        ],
    )
    assert added.exit_code == 0, added.output
    silence_id = int(added.output.split()[1])
    listed = runner.invoke(cli, ["alerts", "silence", "list", "--json", "-c", str(config_file)])
    [item] = [json.loads(line) for line in listed.output.splitlines()]
    assert (
        item["match"] == {"camera": "room-3"}
        and item["comment"] == "exam"
        and item["ends_at"] - item["starts_at"] == 5400
    )

    # The running service picks it up on its periodic refresh (added in another process).
    running.silences._loaded_at = None  # as if refresh_s had passed
    assert running.submit(Alert(title="a", body="", labels={"camera": "room-3"})) == []  # no channels, but:
    assert running.policy.silenced_by({"camera": "room-3"}) is not None

    for bad in (
        ["--match", "camera", "--for", "1h"],
        ["--match", "camera=x", "--for", "0m"],
        ["--match", "a=b", "--for", "2x"],
    ):
        refused = runner.invoke(cli, ["alerts", "silence", "add", *bad, "-c", str(config_file)])
        assert refused.exit_code == 2, bad
    expired = runner.invoke(cli, ["alerts", "silence", "expire", str(silence_id), "-c", str(config_file)])
    assert expired.exit_code == 0, expired.output
    assert runner.invoke(cli, ["alerts", "silence", "list", "-c", str(config_file)]).output.strip() == "no silences"
    missing = runner.invoke(cli, ["alerts", "silence", "expire", "999", "-c", str(config_file)])
    assert missing.exit_code == 2 and "no silence with id 999" in missing.output
    running.silences._loaded_at = None
    running.silences.refresh(running.policy)
    assert running.policy.silenced_by({"camera": "room-3"}) is None
    running.close()


def test_notify_test_prints_the_platform_answer_redacted(config_file: Path, robot: RobotServer, tmp_path: Path) -> None:
    runner = CliRunner()
    image = tmp_path / "snap.jpg"
    image.write_bytes(jpeg())
    sent = runner.invoke(cli, ["notify", "test", "ops", "--image", str(image), "--json", "-c", str(config_file)])
    assert sent.exit_code == 0, sent.output
    answer = json.loads(sent.output.strip().splitlines()[-1])  # log lines go to the same stream here
    assert answer["outcome"] == "sent" and answer["code"] == 0 and "snapshot" in answer["reason"]
    assert "Vigilo" in robot.received[-1].text

    robot.default = (310000, f"sign not match, access_token={TOKEN}")
    refused = runner.invoke(cli, ["notify", "test", "ops", "-c", str(config_file)])
    assert refused.exit_code == 1
    assert "outcome=permanent" in refused.output and "code=310000" in refused.output
    assert TOKEN not in refused.output
    unknown = runner.invoke(cli, ["notify", "test", "nope", "-c", str(config_file)])
    assert unknown.exit_code == 2 and "no channel named 'nope'" in unknown.output


def test_parse_duration() -> None:
    assert parse_duration("2h") == 7200 and parse_duration("1h30m") == 5400 and parse_duration("45s") == 45
    for bad in ("", "2", "h", "-1h", "0m", "2 hours"):
        with pytest.raises(ValueError):
            parse_duration(bad)
