"""WeCom group robot channel against the fake robot endpoint."""

from __future__ import annotations

import base64
import hashlib

import pytest

from tests.alerts.conftest import closed_port_url, jpeg
from tests.fakes.wecom import BOT_KEY, FakeWeComBot
from vigilo.alerts.channels.wecom_bot import IMAGE_LIMIT, WeComBotChannel, shrink_jpeg
from vigilo.alerts.message import AlertMessage
from vigilo.alerts.outcome import Outcome

pytestmark = pytest.mark.anyio


def channel(fake: FakeWeComBot, key: str = BOT_KEY, **kwargs: object) -> WeComBotChannel:
    return WeComBotChannel("group", key=key, base_url=fake.url, timeout=3.0, **kwargs)  # type: ignore[arg-type]


def alert(**kwargs: object) -> AlertMessage:
    values: dict[str, object] = {"title": "发现手机", "body": "**A 区** 2 部手机", "idempotency_key": "ev-1"}
    values.update(kwargs)
    return AlertMessage(**values)  # type: ignore[arg-type]


async def test_markdown_message_is_delivered(wecom_bot: FakeWeComBot) -> None:
    async with channel(wecom_bot) as ch:
        result = await ch.send(alert(severity="urgent"))
    assert result.outcome is Outcome.SENT and result.platform_code == 0
    (body,) = wecom_bot.delivered
    assert body["msgtype"] == "markdown"
    assert "发现手机" in body["markdown"]["content"] and 'color="warning"' in body["markdown"]["content"]


async def test_mentions_go_as_text_with_user_and_mobile_lists(wecom_bot: FakeWeComBot) -> None:
    message = alert(mentions=["zhangsan", "13800000000", "+86 139-0000-0000"], at_all=True)
    async with channel(wecom_bot) as ch:
        assert (await ch.send(message)).ok
    (body,) = wecom_bot.delivered
    assert body["msgtype"] == "text"
    assert body["text"]["mentioned_list"] == ["zhangsan", "@all"]
    assert body["text"]["mentioned_mobile_list"] == ["13800000000", "13900000000"]


async def test_snapshot_follows_as_image_with_md5_of_raw_bytes(wecom_bot: FakeWeComBot) -> None:
    picture = jpeg()
    async with channel(wecom_bot) as ch:
        result = await ch.send(alert(snapshot=picture))
    assert result.ok, result.reason
    _text, image = wecom_bot.delivered
    assert image["msgtype"] == "image"
    raw = base64.b64decode(image["image"]["base64"])
    assert raw == picture and image["image"]["md5"] == hashlib.md5(picture).hexdigest()


async def test_large_snapshot_is_reencoded_below_2_mb(wecom_bot: FakeWeComBot) -> None:
    picture = jpeg(1400, 1000, noise=True, quality=100)
    assert len(picture) > IMAGE_LIMIT  # otherwise the test proves nothing
    async with channel(wecom_bot) as ch:
        result = await ch.send(alert(snapshot=picture))
    assert result.ok, result.reason
    raw = base64.b64decode(wecom_bot.delivered[1]["image"]["base64"])
    assert len(raw) < IMAGE_LIMIT and raw.startswith(b"\xff\xd8\xff")


async def test_fake_rejects_oversize_and_bad_md5(wecom_bot: FakeWeComBot) -> None:
    # The fake's own checks, so that the channel tests above can be trusted.
    picture = jpeg(1400, 1000, noise=True, quality=100)
    async with channel(wecom_bot) as ch:
        raw_body = {"msgtype": "image", "image": {"base64": base64.b64encode(picture).decode(), "md5": "0" * 32}}
        response = await ch.client.post(f"{wecom_bot.url}/cgi-bin/webhook/send", params={"key": BOT_KEY}, json=raw_body)
        assert response.json()["errcode"] == 40009
        small = jpeg()
        raw_body = {"msgtype": "image", "image": {"base64": base64.b64encode(small).decode(), "md5": "0" * 32}}
        response = await ch.client.post(f"{wecom_bot.url}/cgi-bin/webhook/send", params={"key": BOT_KEY}, json=raw_body)
        assert response.json()["errcode"] == wecom_bot.md5_mismatch_code


def test_unreadable_snapshot_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        shrink_jpeg(b"\x00" * (IMAGE_LIMIT + 10))


async def test_unreadable_snapshot_is_permanent_and_sends_nothing(wecom_bot: FakeWeComBot) -> None:
    async with channel(wecom_bot) as ch:
        result = await ch.send(alert(snapshot=b"not an image at all"))
    assert result.outcome is Outcome.PERMANENT
    assert wecom_bot.delivered == []


async def test_wrong_key_is_permanent_93000(wecom_bot: FakeWeComBot, alert_logs: pytest.LogCaptureFixture) -> None:
    wrong = "11111111-2222-3333-4444-555555555555"
    async with channel(wecom_bot, key=wrong) as ch:
        result = await ch.send(alert())
    assert (result.outcome, result.platform_code) == (Outcome.PERMANENT, 93000)
    assert wrong not in result.reason and wrong not in alert_logs.text
    assert "93000" in alert_logs.text


async def test_twenty_per_minute_then_45009(wecom_bot: FakeWeComBot) -> None:
    async with channel(wecom_bot) as ch:
        results = [await ch.send(alert(idempotency_key=str(i))) for i in range(21)]
        assert all(r.ok for r in results[:20])
        assert results[20].outcome is Outcome.RATE_LIMITED
        assert results[20].platform_code == 45009 and results[20].retry_after == 60.0
        wecom_bot.clock.advance(61)
        assert (await ch.send(alert(idempotency_key="later"))).ok
    assert len(wecom_bot.delivered) == 21


async def test_image_failure_after_text_is_reported_not_retried(wecom_bot: FakeWeComBot) -> None:
    wecom_bot.rate_limit = 1  # the text uses the only slot; the image is refused
    async with channel(wecom_bot) as ch:
        result = await ch.send(alert(snapshot=jpeg()))
    assert result.ok
    assert "snapshot image not delivered" in result.reason and "45009" in result.reason


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (200, {"errcode": -1, "errmsg": "system busy"}, Outcome.RETRY),
        (200, {"errcode": 45002, "errmsg": "content too long"}, Outcome.PERMANENT),
        (200, {"errcode": 40008, "errmsg": "invalid msgtype"}, Outcome.PERMANENT),
        (503, "Service Unavailable", Outcome.RETRY),
        (200, "", Outcome.RETRY),
    ],
)
async def test_outcome_classes(wecom_bot: FakeWeComBot, status: int, body: object, outcome: Outcome) -> None:
    wecom_bot.inject(status=status, body=body)
    async with channel(wecom_bot) as ch:
        result = await ch.send(alert())
    assert result.outcome is outcome, result.reason


async def test_long_markdown_is_cut_to_4096_bytes(wecom_bot: FakeWeComBot) -> None:
    async with channel(wecom_bot) as ch:
        assert (await ch.send(alert(body="手机" * 3000))).ok
    assert len(wecom_bot.delivered[0]["markdown"]["content"].encode()) <= 4096


async def test_connection_refused_is_retry(alert_logs: pytest.LogCaptureFixture) -> None:
    async with WeComBotChannel("group", key=BOT_KEY, base_url=closed_port_url()) as ch:
        result = await ch.send(alert())
    assert result.outcome is Outcome.RETRY
    assert BOT_KEY not in result.reason and BOT_KEY not in alert_logs.text
    assert BOT_KEY not in ch.destination_key
