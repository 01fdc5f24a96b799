"""DingTalk robot channel against the fake robot endpoint."""

from __future__ import annotations

import pytest

from tests.alerts.conftest import closed_port_url, jpeg
from tests.fakes.dingtalk import SECRET, TOKEN, FakeDingTalk, Robot
from vigilo.alerts.channels.base import ChannelConfigError
from vigilo.alerts.channels.dingtalk import DingTalkChannel, dingtalk_sign
from vigilo.alerts.message import AlertMessage
from vigilo.alerts.outcome import Outcome

pytestmark = pytest.mark.anyio


def channel(fake: FakeDingTalk, **kwargs: object) -> DingTalkChannel:
    options: dict[str, object] = {
        "access_token": TOKEN,
        "secret": SECRET,
        "base_url": fake.url,
        "timeout": 3.0,
        "clock": fake.clock,
    }
    options.update(kwargs)
    return DingTalkChannel("ding", **options)  # type: ignore[arg-type]


def alert(**kwargs: object) -> AlertMessage:
    values: dict[str, object] = {"title": "告警 发现手机", "body": "3 号摄像头 2 部手机", "idempotency_key": "ev-1"}
    values.update(kwargs)
    return AlertMessage(**values)  # type: ignore[arg-type]


def test_signature_matches_the_documented_vector() -> None:
    assert dingtalk_sign("SECexample0000000000000000000000", 1700000000000) == (
        "i8pgWM8/GsaLRBUdenpP9hFv8FQztqVjVUNnTLyJgGI="
    )


async def test_signed_markdown_with_mentions_and_image_link(dingtalk: FakeDingTalk) -> None:
    message = alert(mentions=["13800000000", "user123"], image_url="https://vigilo.example/s/1.jpg")
    async with channel(dingtalk) as ch:
        result = await ch.send(message)
    assert result.outcome is Outcome.SENT, result.reason
    (body,) = dingtalk.delivered
    assert body["msgtype"] == "markdown"
    text = body["markdown"]["text"]
    assert "![snapshot](https://vigilo.example/s/1.jpg)" in text and "@13800000000" in text
    assert body["at"] == {"atMobiles": ["13800000000"], "atUserIds": ["user123"], "isAtAll": False}
    assert body["msgUuid"] == "ev-1"
    query = dingtalk.requests[0]["query"]
    assert len(query["timestamp"]) == 13  # milliseconds
    assert "%2B" in dingtalk.requests[0]["raw_query"] or "+" not in query["sign"]


async def test_sign_with_a_plus_is_percent_encoded(dingtalk: FakeDingTalk) -> None:
    # Find a timestamp whose signature contains '+', which only survives when encoded as %2B.
    base = int(dingtalk.clock() * 1000)
    offset = next(i for i in range(2000) if "+" in dingtalk_sign(SECRET, base + i))
    times = iter([(base + offset) / 1000])
    async with channel(dingtalk, clock=lambda: next(times)) as ch:
        result = await ch.send(alert())
    assert result.ok, result.reason
    assert "%2B" in dingtalk.requests[0]["raw_query"]


async def test_wrong_secret_is_rejected_310000(dingtalk: FakeDingTalk, alert_logs: pytest.LogCaptureFixture) -> None:
    wrong = "SECwrong00000000000000000000000000000000000000000000000000000000"
    async with channel(dingtalk, secret=wrong) as ch:
        result = await ch.send(alert())
    assert (result.outcome, result.platform_code) == (Outcome.PERMANENT, 310000)
    assert "sign not match" in result.reason
    for secret in (wrong, TOKEN):
        assert secret not in result.reason and secret not in alert_logs.text
    assert dingtalk.delivered == []


async def test_missing_signature_is_rejected(dingtalk: FakeDingTalk) -> None:
    async with channel(dingtalk, secret=None) as ch:
        result = await ch.send(alert())
    assert (result.outcome, result.platform_code) == (Outcome.PERMANENT, 310000)


async def test_clock_more_than_an_hour_off_is_invalid_timestamp(dingtalk: FakeDingTalk) -> None:
    async with channel(dingtalk, clock=lambda: dingtalk.clock() - 3700) as ch:
        result = await ch.send(alert())
    assert result.outcome is Outcome.PERMANENT and "invalid timestamp" in result.reason


async def test_keyword_robot(dingtalk: FakeDingTalk) -> None:
    dingtalk.robots[TOKEN] = Robot(keywords=["Vigilo"])
    async with channel(dingtalk, secret=None) as ch:
        refused = await ch.send(alert())
    async with channel(dingtalk, secret=None, keyword="Vigilo") as ch:
        accepted = await ch.send(alert(idempotency_key="ev-2"))
    assert (refused.outcome, refused.platform_code) == (Outcome.PERMANENT, 310000)
    assert "keywords not in content" in refused.reason
    assert accepted.ok, accepted.reason
    assert "Vigilo" in dingtalk.delivered[0]["markdown"]["text"]


async def test_ip_allowlist_rejection(dingtalk: FakeDingTalk) -> None:
    dingtalk.robots[TOKEN].allowed_ips = {"10.0.0.1"}
    async with channel(dingtalk) as ch:
        result = await ch.send(alert())
    assert result.outcome is Outcome.PERMANENT and "127.0.0.1" in result.reason


async def test_unknown_token_is_permanent_300005(dingtalk: FakeDingTalk) -> None:
    async with channel(dingtalk, access_token="no-such-robot-token-000000") as ch:
        result = await ch.send(alert())
    assert (result.outcome, result.platform_code) == (Outcome.PERMANENT, 300005)


async def test_throttle_410100_blocks_for_ten_minutes(dingtalk: FakeDingTalk) -> None:
    async with channel(dingtalk) as ch:
        results = [await ch.send(alert(idempotency_key=f"k{i}")) for i in range(21)]
        assert all(r.ok for r in results[:20])
        assert (results[20].outcome, results[20].platform_code) == (Outcome.RATE_LIMITED, 410100)
        assert results[20].retry_after == 600.0
        dingtalk.clock.advance(120)  # the minute window is over, the punishment is not
        still = await ch.send(alert(idempotency_key="later"))
        assert still.outcome is Outcome.RATE_LIMITED
        dingtalk.clock.advance(600)
        assert (await ch.send(alert(idempotency_key="much-later"))).ok


async def test_throttle_130101_uses_the_wait_the_platform_gives(dingtalk: FakeDingTalk) -> None:
    dingtalk.throttle_code = 130101
    dingtalk.block_seconds = 900
    dingtalk.rate_limit = 1
    async with channel(dingtalk) as ch:
        assert (await ch.send(alert(idempotency_key="a"))).ok
        result = await ch.send(alert(idempotency_key="b"))
    assert (result.outcome, result.platform_code) == (Outcome.RATE_LIMITED, 130101)
    assert result.retry_after is not None and result.retry_after >= 899


async def test_retry_with_the_same_msg_uuid_is_not_posted_twice(dingtalk: FakeDingTalk) -> None:
    async with channel(dingtalk) as ch:
        assert (await ch.send(alert())).ok
        assert (await ch.send(alert())).ok
    assert len(dingtalk.delivered) == 1 and len(dingtalk.duplicates) == 1


async def test_text_format_and_at_all(dingtalk: FakeDingTalk) -> None:
    async with channel(dingtalk, format="text") as ch:
        assert (await ch.send(alert(at_all=True, mentions=["13800000000"]))).ok
    (body,) = dingtalk.delivered
    assert body["msgtype"] == "text" and body["at"]["isAtAll"] is True
    assert body["text"]["content"].endswith("@13800000000")


async def test_snapshot_without_url_is_noted(dingtalk: FakeDingTalk) -> None:
    async with channel(dingtalk) as ch:
        result = await ch.send(alert(snapshot=jpeg()))
    assert result.ok and "image links only" in result.reason


def test_whole_webhook_url_is_accepted() -> None:
    ch = DingTalkChannel("seed", access_token=f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}")
    assert ch.base_url == "https://oapi.dingtalk.com"
    assert TOKEN not in ch.destination_key and TOKEN not in repr(ch)
    with pytest.raises(ChannelConfigError):
        DingTalkChannel("bad", access_token="https://oapi.dingtalk.com/robot/send")


@pytest.mark.parametrize(
    ("status", "body", "outcome", "code"),
    [
        (200, {"errcode": -1, "errmsg": "系统繁忙"}, Outcome.RETRY, -1),
        (200, {"errcode": 400102, "errmsg": "机器人已停用"}, Outcome.PERMANENT, 400102),
        (200, {"errcode": 430102, "errmsg": "inappropriate text"}, Outcome.PERMANENT, 430102),
        (200, {"errcode": 90030, "errmsg": "webhook over limit"}, Outcome.RATE_LIMITED, 90030),
        (500, {"errcode": 0, "errmsg": "ok"}, Outcome.RETRY, None),
        (502, "<html>502</html>", Outcome.RETRY, None),
        (200, "ok", Outcome.RETRY, None),
    ],
)
async def test_outcome_classes(dingtalk: FakeDingTalk, status: int, body: object, outcome: Outcome, code: int) -> None:
    dingtalk.inject(status=status, body=body)
    async with channel(dingtalk) as ch:
        result = await ch.send(alert())
    assert result.outcome is outcome, result.reason
    assert result.platform_code == code


async def test_fake_refuses_get(dingtalk: FakeDingTalk) -> None:
    async with channel(dingtalk) as ch:
        response = await ch.client.get(f"{dingtalk.url}/robot/send", params={"access_token": TOKEN})
    assert response.json()["errcode"] == 43002


async def test_connection_refused_is_retry(alert_logs: pytest.LogCaptureFixture) -> None:
    async with DingTalkChannel("ding", access_token=TOKEN, secret=SECRET, base_url=closed_port_url()) as ch:
        result = await ch.send(alert())
    assert result.outcome is Outcome.RETRY
    assert TOKEN not in alert_logs.text and SECRET not in alert_logs.text


async def test_fake_rejects_an_unencoded_sign(dingtalk: FakeDingTalk) -> None:
    # A client that forgets to percent-encode sends a raw '+', which the server decodes to a space.
    base = int(dingtalk.clock() * 1000)
    timestamp = next(base + i for i in range(2000) if "+" in dingtalk_sign(SECRET, base + i))
    sign = dingtalk_sign(SECRET, timestamp)
    raw = f"{dingtalk.url}/robot/send?access_token={TOKEN}&timestamp={timestamp}&sign={sign}"
    async with channel(dingtalk) as ch:
        response = await ch.client.post(raw, json={"msgtype": "text", "text": {"content": "x"}})
    assert response.json() == {"errcode": 310000, "errmsg": response.json()["errmsg"]}
    assert "sign not match" in response.json()["errmsg"]
