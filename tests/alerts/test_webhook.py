"""Generic webhook channel against the fake receiver that checks the HMAC signature."""

from __future__ import annotations

import base64

import pytest

from tests.alerts.conftest import closed_port_url, jpeg
from tests.fakes.webhook import SECRET, FakeWebhookReceiver
from vigilo.alerts.channels.base import ChannelConfigError
from vigilo.alerts.channels.webhook import WebhookChannel, webhook_signature
from vigilo.alerts.message import AlertMessage
from vigilo.alerts.outcome import Outcome

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
    assert entry["annotations"]["summary"] == "发现手机"
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
