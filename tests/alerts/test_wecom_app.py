"""WeCom application channel against the fake WeCom API (real HTTP on loopback)."""

from __future__ import annotations

import pytest

from tests.alerts.conftest import closed_port_url, jpeg
from tests.fakes.server import FakeClock
from tests.fakes.wecom import AGENT_ID, APP_SECRET, CORP_ID, FakeWeComApp
from vigilo.alerts.channels.wecom_app import WeComAppChannel
from vigilo.alerts.message import AlertMessage
from vigilo.alerts.outcome import Outcome

pytestmark = pytest.mark.anyio

SEND = "/cgi-bin/message/send"


def channel(fake: FakeWeComApp, clock: FakeClock | None = None, **kwargs: object) -> WeComAppChannel:
    options: dict[str, object] = {
        "corp_id": CORP_ID,
        "agent_id": AGENT_ID,
        "secret": APP_SECRET,
        "touser": ["zhangsan", "lisi"],
        "base_url": fake.url,
        "timeout": 3.0,
        "clock": clock or fake.clock,
    }
    options.update(kwargs)
    return WeComAppChannel("ops", **options)  # type: ignore[arg-type]


def alert(**kwargs: object) -> AlertMessage:
    values: dict[str, object] = {"title": "发现手机", "body": "3 号摄像头 A 区 2 部手机", "idempotency_key": "ev-1"}
    values.update(kwargs)
    return AlertMessage(**values)  # type: ignore[arg-type]


def sends(fake: FakeWeComApp) -> list[dict[str, object]]:
    return [body for path, body in fake.requests if path == "message/send"]


async def test_text_message_is_delivered_with_token_and_recipients(wecom_app: FakeWeComApp) -> None:
    async with channel(wecom_app) as ch:
        result = await ch.send(alert())
    assert result.outcome is Outcome.SENT, result.reason
    assert result.platform_code == 0
    assert len(wecom_app.delivered) == 1
    body = wecom_app.delivered[0].body
    assert body["agentid"] == AGENT_ID and body["msgtype"] == "text" and body["touser"] == "zhangsan|lisi"
    assert "发现手机" in body["text"]["content"] and "2 部手机" in body["text"]["content"]
    assert body["enable_duplicate_check"] == 1


async def test_markdown_and_textcard_formats_are_accepted(wecom_app: FakeWeComApp) -> None:
    async with channel(wecom_app, format="markdown") as ch:
        assert (await ch.send(alert())).ok
    async with channel(wecom_app, format="textcard", card_url="https://vigilo.example/ev/1") as ch:
        assert (await ch.send(alert(idempotency_key="ev-2", severity="urgent"))).ok
    kinds = [d.body["msgtype"] for d in wecom_app.delivered]
    assert kinds == ["markdown", "textcard"]
    assert wecom_app.delivered[1].body["textcard"]["url"] == "https://vigilo.example/ev/1"


async def test_token_is_cached_between_sends(wecom_app: FakeWeComApp) -> None:
    async with channel(wecom_app) as ch:
        for key in ("a", "b", "c"):
            assert (await ch.send(alert(idempotency_key=key))).ok
    assert wecom_app.gettoken_calls == 1


async def test_token_is_refreshed_before_expires_in_runs_out(wecom_app: FakeWeComApp) -> None:
    clock = wecom_app.clock
    async with channel(wecom_app) as ch:
        assert (await ch.send(alert(idempotency_key="a"))).ok
        clock.advance(7200 - 200)  # inside the 5-minute safety margin, token still valid on the server
        assert (await ch.send(alert(idempotency_key="b"))).ok
    assert wecom_app.gettoken_calls == 2
    assert len(sends(wecom_app)) == 2  # no failed call was needed to notice


async def test_expired_token_is_refreshed_and_the_send_retried_once(wecom_app: FakeWeComApp) -> None:
    client_clock = FakeClock()  # the client believes the token is fresh; the server has moved on
    async with channel(wecom_app, clock=client_clock) as ch:
        assert (await ch.send(alert(idempotency_key="a"))).ok
        wecom_app.clock.advance(7201)
        result = await ch.send(alert(idempotency_key="b"))
    assert result.outcome is Outcome.SENT, result.reason
    assert wecom_app.gettoken_calls == 2
    assert len(sends(wecom_app)) == 3  # a, b rejected with 42001, b again
    assert len(wecom_app.delivered) == 2


async def test_revoked_token_40014_is_refreshed(wecom_app: FakeWeComApp) -> None:
    async with channel(wecom_app) as ch:
        assert (await ch.send(alert(idempotency_key="a"))).ok
        wecom_app.revoke_tokens()
        result = await ch.send(alert(idempotency_key="b"))
    assert result.ok, result.reason
    assert wecom_app.gettoken_calls == 2


async def test_token_error_twice_gives_refresh_token_after_one_retry(wecom_app: FakeWeComApp) -> None:
    wecom_app.inject(SEND, body={"errcode": 42001, "errmsg": "access_token expired"})
    wecom_app.inject(SEND, body={"errcode": 40014, "errmsg": "invalid access_token"})
    async with channel(wecom_app) as ch:
        result = await ch.send(alert())
    assert result.outcome is Outcome.REFRESH_TOKEN
    assert result.platform_code == 40014
    assert len(sends(wecom_app)) == 2
    assert wecom_app.gettoken_calls == 2


async def test_wrong_secret_is_permanent_and_not_leaked(
    wecom_app: FakeWeComApp, alert_logs: pytest.LogCaptureFixture
) -> None:
    wrong = "wrong-secret-9f8e7d6c5b4a"
    async with channel(wecom_app, secret=wrong) as ch:
        result = await ch.send(alert())
    assert result.outcome is Outcome.PERMANENT
    assert result.platform_code == 40001
    assert "secret" in result.reason
    assert wrong not in result.reason and wrong not in alert_logs.text
    assert wecom_app.delivered == []


async def test_token_cache_is_per_application(wecom_app: FakeWeComApp) -> None:
    async with channel(wecom_app) as good, channel(wecom_app, secret="another-app-secret-0000") as other:
        assert (await good.send(alert())).ok
        result = await other.send(alert(idempotency_key="x"))
    assert result.outcome is Outcome.PERMANENT and result.platform_code == 40001


async def test_wrong_corp_id_is_permanent(wecom_app: FakeWeComApp) -> None:
    async with channel(wecom_app, corp_id="ww-nope") as ch:
        result = await ch.send(alert())
    assert (result.outcome, result.platform_code) == (Outcome.PERMANENT, 40013)


async def test_ip_not_in_trusted_list_is_permanent_with_guidance(wecom_app: FakeWeComApp) -> None:
    wecom_app.allowed_ips = {"203.0.113.7"}
    async with channel(wecom_app) as ch:
        result = await ch.send(alert())
    assert (result.outcome, result.platform_code) == (Outcome.PERMANENT, 60020)
    assert "127.0.0.1" in result.reason and "企业可信IP" in result.reason


async def test_frequency_limit_45009_is_rate_limited_for_60_s(wecom_app: FakeWeComApp) -> None:
    wecom_app.api_limit_per_min = 2
    async with channel(wecom_app) as ch:
        results = [await ch.send(alert(idempotency_key=f"k{i}")) for i in range(3)]
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.SENT, Outcome.RATE_LIMITED]
    assert results[2].platform_code == 45009 and results[2].retry_after == 60.0


@pytest.mark.parametrize(
    ("status", "body", "outcome", "code"),
    [
        (200, {"errcode": -1, "errmsg": "system busy"}, Outcome.RETRY, -1),
        (200, {"errcode": 45033, "errmsg": "api concurrent out of limit"}, Outcome.RATE_LIMITED, 45033),
        (200, {"errcode": 48002, "errmsg": "api forbidden"}, Outcome.PERMANENT, 48002),
        (200, {"errcode": 45002, "errmsg": "content size out of limit"}, Outcome.PERMANENT, 45002),
        (200, {"errcode": 99999999, "errmsg": "new code"}, Outcome.RETRY, 99999999),
        (502, "<html>Bad Gateway</html>", Outcome.RETRY, None),
        (200, "<html>captive portal</html>", Outcome.RETRY, None),
        (200, {"errmsg": "no code"}, Outcome.RETRY, None),
        (404, "not found", Outcome.PERMANENT, None),
        (429, "slow down", Outcome.RATE_LIMITED, None),
    ],
)
async def test_outcome_classes(
    wecom_app: FakeWeComApp, status: int, body: object, outcome: Outcome, code: int | None
) -> None:
    wecom_app.inject(SEND, status=status, body=body)
    async with channel(wecom_app) as ch:
        result = await ch.send(alert())
    assert result.outcome is outcome, result.reason
    assert result.platform_code == code
    assert result.http_status == status
    assert wecom_app.delivered == []


async def test_all_recipients_invalid_is_permanent(wecom_app: FakeWeComApp) -> None:
    wecom_app.known_users = {"zhangsan"}
    async with channel(wecom_app, touser=["ghost"]) as ch:
        result = await ch.send(alert())
    assert (result.outcome, result.platform_code) == (Outcome.PERMANENT, 81013)


async def test_partly_invalid_recipients_are_reported(wecom_app: FakeWeComApp) -> None:
    wecom_app.known_users = {"zhangsan"}
    async with channel(wecom_app, touser=["zhangsan", "Ghost"]) as ch:
        result = await ch.send(alert())
    assert result.ok
    assert "ghost" in result.reason
    assert wecom_app.delivered[0].recipients == ["zhangsan"]


async def test_snapshot_is_uploaded_and_sent_as_image(wecom_app: FakeWeComApp) -> None:
    picture = jpeg()
    async with channel(wecom_app) as ch:
        result = await ch.send(alert(snapshot=picture))
    assert result.ok, result.reason
    assert [d.body["msgtype"] for d in wecom_app.delivered] == ["text", "image"]
    media_id = wecom_app.delivered[1].body["image"]["media_id"]
    assert wecom_app.media[media_id][0] == picture


async def test_failed_upload_sends_nothing(wecom_app: FakeWeComApp) -> None:
    wecom_app.inject("/cgi-bin/media/upload", body={"errcode": -1, "errmsg": "busy"})
    async with channel(wecom_app) as ch:
        result = await ch.send(alert(snapshot=jpeg()))
    assert result.outcome is Outcome.RETRY
    assert "snapshot" in result.reason
    assert wecom_app.delivered == []


async def test_retry_with_same_key_is_dropped_by_duplicate_check(wecom_app: FakeWeComApp) -> None:
    picture = jpeg()
    async with channel(wecom_app) as ch:
        assert (await ch.send(alert(snapshot=picture))).ok
        assert (await ch.send(alert(snapshot=picture))).ok  # e.g. a retry after a lost reply
        assert (await ch.send(alert(snapshot=picture, idempotency_key="ev-2"))).ok  # same words, new alert
    assert len(wecom_app.suppressed) == 2  # the repeated text and the repeated image
    assert len(wecom_app.delivered) == 4
    assert sum(1 for p, _ in wecom_app.requests if p == "media/upload") == 2


async def test_long_text_is_cut_to_the_byte_limit(wecom_app: FakeWeComApp) -> None:
    async with channel(wecom_app) as ch:
        result = await ch.send(alert(body="告警" * 2000))
    assert result.ok, result.reason
    content = wecom_app.delivered[0].body["text"]["content"]
    assert len(content.encode()) <= 2048 and content.endswith("ref: ev-1")


async def test_connection_refused_is_retry() -> None:
    ch = WeComAppChannel("ops", corp_id=CORP_ID, agent_id=AGENT_ID, secret=APP_SECRET, base_url=closed_port_url())
    async with ch:
        result = await ch.send(alert())
    assert result.outcome is Outcome.RETRY
    assert APP_SECRET not in result.reason


async def test_secrets_and_tokens_never_reach_reasons_or_logs(
    wecom_app: FakeWeComApp, alert_logs: pytest.LogCaptureFixture
) -> None:
    results = []
    async with channel(wecom_app) as ch:
        results.append(await ch.send(alert()))
        # A platform message that echoes the token back must not carry it into the reason.
        token = next(iter(wecom_app.tokens))
        wecom_app.inject(SEND, body={"errcode": 40035, "errmsg": f"invalid parameter access_token={token}"})
        results.append(await ch.send(alert(idempotency_key="z")))
    assert results[1].outcome is Outcome.PERMANENT
    text = alert_logs.text + " ".join(r.reason for r in results)
    assert APP_SECRET not in text
    assert token not in text
    assert "40035" in text  # the failure itself is logged


@pytest.mark.parametrize(
    ("body", "outcome"),
    [
        ({"errcode": 45009, "errmsg": "api freq out of limit"}, Outcome.RATE_LIMITED),
        ({"errcode": -1, "errmsg": "system busy"}, Outcome.RETRY),
        ({"errcode": 0, "errmsg": "ok"}, Outcome.RETRY),  # no access_token in it
    ],
)
async def test_gettoken_failures(wecom_app: FakeWeComApp, body: dict[str, object], outcome: Outcome) -> None:
    wecom_app.inject("/cgi-bin/gettoken", body=body)
    async with channel(wecom_app) as ch:
        result = await ch.send(alert())
    assert result.outcome is outcome, result.reason
    assert sends(wecom_app) == []


async def test_concurrent_sends_fetch_one_token(wecom_app: FakeWeComApp) -> None:
    import asyncio

    async with channel(wecom_app) as ch:
        results = await asyncio.gather(*(ch.send(alert(idempotency_key=f"c{i}")) for i in range(5)))
    assert all(r.ok for r in results)
    assert wecom_app.gettoken_calls == 1


async def test_member_limit_drops_silently_while_the_api_says_ok(wecom_app: FakeWeComApp) -> None:
    # The platform's own blind spot (30/min per member): the channel cannot see it, so the
    # delivery layer's rate limiter has to keep below it. The fake reproduces the silence.
    wecom_app.member_limit_per_min = 2
    async with channel(wecom_app, touser=["zhangsan"]) as ch:
        results = [await ch.send(alert(idempotency_key=f"m{i}")) for i in range(3)]
    assert all(r.ok for r in results)
    assert len(wecom_app.silently_dropped) == 1


async def test_media_older_than_three_days_is_uploaded_again(wecom_app: FakeWeComApp) -> None:
    async with channel(wecom_app, duplicate_check_interval=0) as ch:
        assert (await ch.send(alert(snapshot=jpeg()))).ok
        wecom_app.clock.advance(3 * 86400 + 10)
        result = await ch.send(alert(snapshot=jpeg()))
    assert result.ok and "snapshot" not in result.reason
    assert sum(1 for p, _ in wecom_app.requests if p == "media/upload") == 2
