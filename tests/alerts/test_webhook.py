"""Generic webhook channel against the fake receiver that checks the HMAC signature."""

from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.alerts.conftest import closed_port_url, jpeg
from tests.fakes.webhook import SECRET, FakeWebhookReceiver
from vigilo.alerts.channels.base import ChannelConfigError
from vigilo.alerts.channels.webhook import WebhookChannel, webhook_signature
from vigilo.alerts.message import AlertMessage
from vigilo.alerts.outcome import Outcome
from vigilo.alerts.rendering import MessageTemplates

pytestmark = pytest.mark.anyio

EXPECTED_HEX = "c6ef4734033cee2367414a0939385eca0397754aa7a59716da7463a9298b5146"


def channel(fake: FakeWebhookReceiver, **kwargs: object) -> WebhookChannel:
    options: dict[str, object] = {
        "url": f"{fake.url}/hooks/vigilo?team=sec",
        "secret": SECRET,
        "timeout": 3.0,
        "clock": fake.clock,
    }
    options.update(kwargs)
    return WebhookChannel("hook", **options)  # type: ignore[arg-type]


def alert(**kwargs: object) -> AlertMessage:
    values: dict[str, object] = {
        "title": "发现手机",
        "body": "A 区 2 部手机",
        "labels": {"camera": "cam-3", "zone": "A"},
        "idempotency_key": "ev-1",
    }
    values.update(kwargs)
    return AlertMessage(**values)  # type: ignore[arg-type]


def test_signature_recipe() -> None:
    # Computed independently: printf '1700000000.{}' | openssl dgst -sha256 -hmac k
    assert webhook_signature("k", "1700000000", b"{}") == "sha256=" + EXPECTED_HEX


async def test_signed_alertmanager_shaped_body(receiver: FakeWebhookReceiver) -> None:
    async with channel(receiver) as ch:
        result = await ch.send(alert(severity="urgent", image_url="https://vigilo.example/1.jpg"))
    assert result.outcome is Outcome.SENT and result.http_status == 204
    (item,) = receiver.received
    assert item.path == "/hooks/vigilo"
    body = item.body
    assert body["version"] == "4" and body["status"] == "firing"
    (entry,) = body["alerts"]
    assert entry["labels"] == {"alertname": "vigilo", "camera": "cam-3", "zone": "A", "severity": "urgent"}
    assert entry["annotations"] == {
        "summary": "【紧急】发现手机",
        "description": "A 区 2 部手机",
        "image_url": body["imageUrl"],
    }
    assert entry["endsAt"] == "0001-01-01T00:00:00Z" and entry["fingerprint"] == "ev-1"
    assert body["imageUrl"] == "https://vigilo.example/1.jpg"
    assert item.headers["idempotency-key"] == "ev-1"
    assert "snapshot" not in body


async def test_snapshot_can_be_included(receiver: FakeWebhookReceiver) -> None:
    picture = jpeg()
    async with channel(receiver, include_snapshot=True) as ch:
        assert (await ch.send(alert(snapshot=picture))).ok
    assert base64.b64decode(receiver.received[0].body["snapshot"]["base64"]) == picture


async def test_wrong_secret_is_refused(receiver: FakeWebhookReceiver, alert_logs: pytest.LogCaptureFixture) -> None:
    wrong = "not-the-webhook-secret"
    async with channel(receiver, secret=wrong) as ch:
        result = await ch.send(alert())
    assert (result.outcome, result.http_status) == (Outcome.PERMANENT, 401)
    assert len(receiver.rejected) == 1 and receiver.received == []
    assert wrong not in alert_logs.text and wrong not in result.reason


async def test_stale_timestamp_is_refused(receiver: FakeWebhookReceiver) -> None:
    async with channel(receiver, clock=lambda: receiver.clock() - 600) as ch:
        result = await ch.send(alert())
    assert result.http_status == 401 and result.outcome is Outcome.PERMANENT


async def test_custom_headers_are_sent(receiver: FakeWebhookReceiver) -> None:
    receiver.secret = None
    async with channel(receiver, secret=None, headers={"Authorization": "Bearer abc-123-token"}) as ch:
        assert (await ch.send(alert())).ok
    assert receiver.received[0].headers["authorization"] == "Bearer abc-123-token"
    assert "x-vigilo-signature" not in receiver.received[0].headers


@pytest.mark.parametrize(
    ("status", "headers", "outcome", "retry_after"),
    [
        (500, {}, Outcome.RETRY, None),
        (503, {}, Outcome.RETRY, None),
        (408, {}, Outcome.RETRY, None),
        (429, {"Retry-After": "17"}, Outcome.RATE_LIMITED, 17.0),
        (429, {}, Outcome.RATE_LIMITED, 60.0),
        (400, {}, Outcome.PERMANENT, None),
        (410, {}, Outcome.PERMANENT, None),
        (200, {}, Outcome.SENT, None),
    ],
)
async def test_status_classes(
    receiver: FakeWebhookReceiver, status: int, headers: dict[str, str], outcome: Outcome, retry_after: float | None
) -> None:
    receiver.inject(status=status, body="whatever", headers=headers)
    async with channel(receiver) as ch:
        result = await ch.send(alert())
    assert (result.outcome, result.retry_after, result.http_status) == (outcome, retry_after, status)


async def test_connection_refused_is_retry(alert_logs: pytest.LogCaptureFixture) -> None:
    async with WebhookChannel("hook", url=f"{closed_port_url()}/x?token=abcd-secret-1", secret=SECRET) as ch:
        result = await ch.send(alert())
    assert result.outcome is Outcome.RETRY
    assert "abcd-secret-1" not in alert_logs.text and "abcd-secret-1" not in ch.destination_key


def test_bad_url_is_a_config_error() -> None:
    with pytest.raises(ChannelConfigError):
        WebhookChannel("hook", url="ftp://example.com/x")


SHANGHAI = ZoneInfo("Asia/Shanghai")
SEED = "【手机检测告警】考场 3（A 区）发现 2 部手机，置信度 0.87，时间 2026-11-23 09:12:03"


def phone(severity: str = "default", **kwargs: object) -> AlertMessage:
    values: dict[str, object] = {
        "title": "phone",
        "body": "",
        "severity": severity,
        "labels": {"kind": "phone", "camera": "room-3", "camera_name": "考场 3", "zone": "A 区"},
        "phones": 3 if severity == "urgent" else 2,
        "score": 0.87,
        "occurred_at": datetime(2026, 11, 23, 9, 12, 3, tzinfo=SHANGHAI).timestamp(),
        "idempotency_key": f"ev-{severity}",
    }
    values.update(kwargs)
    return AlertMessage(**values)  # type: ignore[arg-type]


async def test_summary_and_description_come_from_the_zh_cn_template(receiver: FakeWebhookReceiver) -> None:
    async with channel(receiver) as ch:
        ch.templates = MessageTemplates("zh-CN", tz=SHANGHAI)
        assert (await ch.send(phone())).ok
        assert (await ch.send(phone("urgent"))).ok
    default, urgent = (item.body for item in receiver.received)
    assert default["title"] == "【手机检测告警】考场 3（A 区）发现 2 部手机"
    assert default["message"] == SEED + "\n请监考老师及时核查。"
    assert default["commonAnnotations"] == {"summary": default["title"], "description": default["message"]}
    (entry,) = default["alerts"]
    assert entry["annotations"]["summary"] == default["title"] and entry["startsAt"] == "2026-11-23T01:12:03Z"
    assert urgent["title"] == "【紧急·手机检测告警】考场 3（A 区）发现 3 部手机"
    assert urgent["message"].endswith("多部手机同时出现，请立即到场核查。") and urgent["severity"] == "urgent"


async def test_english_templates(receiver: FakeWebhookReceiver) -> None:
    async with channel(receiver) as ch:
        ch.templates = MessageTemplates("en", tz=SHANGHAI)
        assert (await ch.send(phone("urgent"))).ok
    body = receiver.received[0].body
    assert body["title"] == "[URGENT Phone alert] 3 phones at 考场 3 (zone A 区)"
    assert body["message"].startswith("[URGENT Phone alert] 3 phones seen at 考场 3 (zone A 区), confidence 0.87")


async def test_user_folder_overrides_per_severity(receiver: FakeWebhookReceiver, tmp_path: Path) -> None:
    own = tmp_path / "zh-CN" / "alert" / "webhook.urgent.j2"
    own.parent.mkdir(parents=True)
    own.write_text(
        "{% set title %}紧急 {{ alert.camera }}{% endset %}{{ alert.phones }} 部手机，马上去", encoding="utf-8"
    )
    async with channel(receiver) as ch:
        ch.templates = MessageTemplates("zh-CN", tmp_path, SHANGHAI)
        assert (await ch.send(phone("urgent"))).ok
        assert (await ch.send(phone())).ok
    urgent, default = (item.body for item in receiver.received)
    assert (urgent["title"], urgent["message"]) == ("紧急 考场 3", "3 部手机，马上去")
    assert urgent["alerts"][0]["annotations"]["summary"] == "紧急 考场 3"
    assert default["message"].startswith(SEED)  # no override for default severity: the shipped one


async def test_a_digest_lists_each_alert(receiver: FakeWebhookReceiver) -> None:
    items = [phone(), phone("urgent", idempotency_key="ev-2")]
    digest = AlertMessage(
        title="x", body="", severity="urgent", labels={"digest": "5"}, items=items, idempotency_key="digest-1"
    )
    async with channel(receiver) as ch:
        ch.templates = MessageTemplates("zh-CN", tz=SHANGHAI)
        assert (await ch.send(digest)).ok
    body = receiver.received[0].body
    assert body["title"] == "【紧急·告警汇总】共 5 条" and body["truncatedAlerts"] == 3
    assert [a["fingerprint"] for a in body["alerts"]] == ["ev-default", "ev-2"]
    assert body["alerts"][1]["annotations"]["summary"].startswith("【紧急·手机检测告警】")
    assert "09:12:03 考场 3（A 区）2 部手机（置信度 0.87）" in body["message"]
    assert body["groupKey"] == "vigilo:digest-1" and body["idempotencyKey"] == "digest-1"
