"""Feishu / Lark bot channel against the fake bot endpoint."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from tests.alerts.conftest import closed_port_url
from tests.fakes.feishu import SECRET, TOKEN, Bot, FakeFeishu
from vigilo.alerts.channels.feishu import LARK_BASE_URL, FeishuChannel, LarkChannel, feishu_sign
from vigilo.alerts.message import AlertMessage
from vigilo.alerts.outcome import Outcome

pytestmark = pytest.mark.anyio


def channel(fake: FakeFeishu, **kwargs: object) -> FeishuChannel:
    options: dict[str, object] = {
        "hook": TOKEN,
        "secret": SECRET,
        "base_url": fake.url,
        "timeout": 3.0,
        "clock": fake.clock,
    }
    options.update(kwargs)
    return FeishuChannel("fs", **options)  # type: ignore[arg-type]


def alert(**kwargs: object) -> AlertMessage:
    values: dict[str, object] = {"title": "发现手机", "body": "3 号摄像头\nA 区 2 部手机", "idempotency_key": "ev-1"}
    values.update(kwargs)
    return AlertMessage(**values)  # type: ignore[arg-type]


def test_signature_matches_the_documented_vector() -> None:
    assert feishu_sign("example-feishu-secret", 1700000000) == "YeHIwcqNgOCRdRIE9cBfhSWXuleWsBA7Qoq8Y3ZKOWU="


async def test_signed_interactive_card(feishu: FakeFeishu) -> None:
    async with channel(feishu) as ch:
        result = await ch.send(alert(severity="urgent", at_all=True, image_url="https://vigilo.example/1.jpg"))
    assert result.outcome is Outcome.SENT, result.reason
    (body,) = feishu.delivered
    assert body["msg_type"] == "interactive"
    assert body["card"]["header"]["template"] == "red"
    content = body["card"]["elements"][0]["text"]["content"]
    assert "A 区" in content and "<at id=all></at>" in content and "https://vigilo.example/1.jpg" in content
    assert isinstance(body["timestamp"], str) and len(body["timestamp"]) == 10  # seconds


@pytest.mark.parametrize("fmt", ["text", "post"])
async def test_text_and_post_formats(feishu: FakeFeishu, fmt: str) -> None:
    async with channel(feishu, format=fmt) as ch:
        assert (await ch.send(alert(mentions=["ou_abc"]))).ok
    (body,) = feishu.delivered
    assert body["msg_type"] == fmt
    if fmt == "post":
        post = body["content"]["post"]["zh_cn"]
        assert post["title"] == "发现手机" and {"tag": "at", "user_id": "ou_abc"} in post["content"][-1]
    else:
        assert '<at user_id="ou_abc"></at>' in body["content"]["text"]


async def test_wrong_secret_is_19021(feishu: FakeFeishu, alert_logs: pytest.LogCaptureFixture) -> None:
    wrong = "wrongFeishuSecret999999"
    async with channel(feishu, secret=wrong) as ch:
        result = await ch.send(alert())
    assert (result.outcome, result.platform_code) == (Outcome.PERMANENT, 19021)
    for secret in (wrong, TOKEN):
        assert secret not in result.reason and secret not in alert_logs.text
    assert feishu.delivered == []


async def test_dingtalk_style_signature_is_rejected(feishu: FakeFeishu) -> None:
    # The common bug (key=secret, message=string_to_sign) must not pass the fake.
    timestamp = str(int(feishu.clock()))
    wrong = base64.b64encode(
        hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(), hashlib.sha256).digest()
    ).decode()
    async with channel(feishu) as ch:
        response = await ch.client.post(
            f"{feishu.url}/open-apis/bot/v2/hook/{TOKEN}",
            json={"timestamp": timestamp, "sign": wrong, "msg_type": "text", "content": {"text": "x"}},
        )
    assert response.json()["code"] == 19021


async def test_stale_timestamp_is_19021(feishu: FakeFeishu) -> None:
    async with channel(feishu, clock=lambda: feishu.clock() + 3700) as ch:
        result = await ch.send(alert())
    assert result.platform_code == 19021


async def test_unknown_hook_is_19001(feishu: FakeFeishu) -> None:
    async with channel(feishu, hook="no-such-hook") as ch:
        result = await ch.send(alert())
    assert (result.outcome, result.platform_code) == (Outcome.PERMANENT, 19001)


async def test_keyword_bot(feishu: FakeFeishu) -> None:
    feishu.bots[TOKEN] = Bot(keywords=["Vigilo"])
    async with channel(feishu, secret=None) as ch:
        refused = await ch.send(alert())
    async with channel(feishu, secret=None, keyword="Vigilo") as ch:
        accepted = await ch.send(alert())
    assert (refused.outcome, refused.platform_code) == (Outcome.PERMANENT, 19024)
    assert accepted.ok, accepted.reason


async def test_ip_not_allowed_is_19022(feishu: FakeFeishu) -> None:
    feishu.bots[TOKEN].allowed_ips = {"10.1.1.1"}
    async with channel(feishu) as ch:
        result = await ch.send(alert())
    assert (result.outcome, result.platform_code) == (Outcome.PERMANENT, 19022)


async def test_five_per_second_then_11232(feishu: FakeFeishu) -> None:
    async with channel(feishu) as ch:
        results = [await ch.send(alert()) for _ in range(6)]
    assert all(r.ok for r in results[:5])
    assert (results[5].outcome, results[5].platform_code) == (Outcome.RATE_LIMITED, 11232)
    assert results[5].retry_after == 60.0


async def test_hundred_per_minute_then_11232_even_as_http_429(feishu: FakeFeishu) -> None:
    feishu.rate_limit_status = 429
    async with channel(feishu) as ch:
        for i in range(100):
            feishu.clock.advance(0.25)  # stay under 5/s
            assert (await ch.send(alert())).ok, i
        feishu.clock.advance(0.25)
        result = await ch.send(alert())
    assert (result.outcome, result.platform_code, result.http_status) == (Outcome.RATE_LIMITED, 11232, 429)


async def test_legacy_statuscode_success(feishu: FakeFeishu) -> None:
    feishu.legacy_success = True
    async with channel(feishu) as ch:
        assert (await ch.send(alert())).ok


async def test_oversize_body_is_cut_to_fit_and_the_fake_refuses_it_raw_with_9499(feishu: FakeFeishu) -> None:
    # Templates: the channel cuts the card text (UTF-8 safe, with an ellipsis) to stay under 20 KB.
    async with channel(feishu) as ch:
        result = await ch.send(alert(body="x" * 25_000))
        assert result.outcome is Outcome.SENT, result.reason
        content = feishu.delivered[0]["card"]["elements"][0]["text"]["content"]
        assert content.endswith("…") and len(json.dumps(feishu.delivered[0]).encode()) <= 20 * 1024
        raw = await ch.client.post(
            f"{feishu.url}/open-apis/bot/v2/hook/{TOKEN}",
            json={"msg_type": "text", "content": {"text": "x" * 25_000}},
        )
    assert raw.json()["code"] == 9499


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (200, {"code": 99991, "msg": "unknown"}, Outcome.RETRY),
        (500, "Internal Server Error", Outcome.RETRY),
        (200, "not json", Outcome.RETRY),
        (400, {"code": 9499, "msg": "Bad Request"}, Outcome.PERMANENT),
        (429, {"code": 9499, "msg": "Bad Request"}, Outcome.RATE_LIMITED),
    ],
)
async def test_outcome_classes(feishu: FakeFeishu, status: int, body: object, outcome: Outcome) -> None:
    feishu.inject(status=status, body=body)
    async with channel(feishu) as ch:
        result = await ch.send(alert())
    assert result.outcome is outcome, result.reason


def test_lark_uses_the_larksuite_host_and_whole_urls_work() -> None:
    assert LarkChannel("l", hook=TOKEN).base_url == LARK_BASE_URL
    ch = FeishuChannel("f", hook=f"https://open.feishu.cn/open-apis/bot/v2/hook/{TOKEN}")
    assert ch.base_url == "https://open.feishu.cn" and TOKEN not in ch.destination_key
    assert ch.destination_key.startswith("feishu:") and LarkChannel("l", hook=TOKEN).destination_key.startswith("lark:")


async def test_connection_refused_is_retry(alert_logs: pytest.LogCaptureFixture) -> None:
    async with FeishuChannel("fs", hook=TOKEN, secret=SECRET, base_url=closed_port_url()) as ch:
        result = await ch.send(alert())
    assert result.outcome is Outcome.RETRY
    assert TOKEN not in alert_logs.text
