"""The optional Apprise channel against a real loopback HTTP receiver (Apprise's json:// scheme)."""

from __future__ import annotations

import pytest

from tests.fakes.webhook import FakeWebhookReceiver
from vigilo.alerts.channels.apprise_channel import AppriseChannel
from vigilo.alerts.message import AlertMessage
from vigilo.alerts.outcome import Outcome

pytestmark = pytest.mark.anyio
apprise = pytest.importorskip("apprise", reason="apprise is not installed (make test installs it)")


def json_url(receiver: FakeWebhookReceiver) -> str:
    return receiver.url.replace("http://", "json://") + "/apprise/hook"


def urgent_phone() -> AlertMessage:
    return AlertMessage(
        title="x",
        body="",
        severity="urgent",
        labels={"kind": "phone", "camera": "gate", "camera_name": "考场 3", "zone": "A 区"},
        phones=3,
        score=0.91,
        occurred_at=0.0,
        idempotency_key="ev-1",
    )


async def test_apprise_delivers_rendered_text_to_the_receiver(receiver: FakeWebhookReceiver) -> None:
    receiver.secret = None  # Apprise does not sign
    channel = AppriseChannel("other", url=json_url(receiver))
    result = await channel.send(urgent_phone())
    assert result.outcome is Outcome.SENT, result.reason
    (got,) = receiver.received
    assert got.path == "/apprise/hook"
    assert got.body["title"] == "【紧急·手机检测告警】考场 3（A 区）发现 3 部手机"
    assert "置信度 0.91" in got.body["message"] and got.body["type"] == "failure"


async def test_apprise_failure_is_retry(receiver: FakeWebhookReceiver) -> None:
    receiver.secret = None
    receiver.inject(status=500, body={"error": "down"})
    result = await AppriseChannel("other", url=json_url(receiver)).send(urgent_phone())
    assert result.outcome is Outcome.RETRY
