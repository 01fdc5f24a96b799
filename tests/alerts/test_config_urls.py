"""Channel URLs, typed channel config blocks, and building channels from settings."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from tests.fakes.dingtalk import SECRET as DING_SECRET
from tests.fakes.dingtalk import TOKEN as DING_TOKEN
from tests.fakes.dingtalk import FakeDingTalk
from vigilo.alerts.channels.base import ChannelConfigError
from vigilo.alerts.channels.dingtalk import DingTalkChannel
from vigilo.alerts.channels.email import EmailChannel
from vigilo.alerts.channels.feishu import LARK_BASE_URL, FeishuChannel, LarkChannel
from vigilo.alerts.channels.webhook import WebhookChannel
from vigilo.alerts.channels.wecom_app import WeComAppChannel
from vigilo.alerts.channels.wecom_bot import WeComBotChannel
from vigilo.alerts.message import AlertMessage
from vigilo.alerts.registry import build_channel, build_channels
from vigilo.alerts.urls import parse_channel_url
from vigilo.config.alerts import (
    AlertsConfig,
    DingTalkChannelConfig,
    EmailChannelConfig,
    FeishuChannelConfig,
    WebhookChannelConfig,
    WeComAppChannelConfig,
    WeComBotChannelConfig,
)
from vigilo.config.loader import ConfigError, load_settings
from vigilo.config.model import Settings


def test_dingtalk_url_keeps_a_literal_plus_in_the_secret() -> None:
    cfg = parse_channel_url("dingtalk://tok123?secret=SEC+a/b%26c&keyword=%E5%91%8A%E8%AD%A6&format=text")
    assert isinstance(cfg, DingTalkChannelConfig)
    assert cfg.access_token.get_secret_value() == "tok123"
    assert isinstance(cfg.secret, SecretStr) and cfg.secret.get_secret_value() == "SEC+a/b&c"
    assert (cfg.keyword, cfg.format) == ("告警", "text")


def test_wecom_url() -> None:
    cfg = parse_channel_url("wecom://ww0123:s3cr%40t@1000002?touser=zhangsan|lisi&format=markdown&base_url=http://x")
    assert isinstance(cfg, WeComAppChannelConfig)
    assert (cfg.corp_id, cfg.agent_id, cfg.secret.get_secret_value()) == ("ww0123", 1000002, "s3cr@t")
    assert cfg.touser == ["zhangsan", "lisi"] and cfg.format == "markdown" and cfg.base_url == "http://x"


def test_bot_feishu_lark_webhook_mail_urls() -> None:
    bot = parse_channel_url("wecombot://AbCd-1234-EFGH")
    assert isinstance(bot, WeComBotChannelConfig) and bot.key.get_secret_value() == "AbCd-1234-EFGH"
    fs = parse_channel_url("feishu://HookToken?secret=xyz&format=post")
    assert isinstance(fs, FeishuChannelConfig) and fs.type == "feishu" and fs.format == "post"
    assert parse_channel_url("lark://HookToken").type == "lark"
    hook = parse_channel_url(
        "webhook+https://hooks.example.cn/in?team=a#secret=k%23ey&include_snapshot=true&header.X-Token=abc%20d"
    )
    assert isinstance(hook, WebhookChannelConfig)
    assert hook.url.get_secret_value() == "https://hooks.example.cn/in?team=a"
    assert hook.secret is not None and hook.secret.get_secret_value() == "k#ey" and hook.include_snapshot
    assert hook.headers["X-Token"].get_secret_value() == "abc d"
    mail = parse_channel_url("mailtos://alert%40corp.cn:pa%3Ass@smtp.corp.cn?to=a@corp.cn,b@corp.cn")
    assert isinstance(mail, EmailChannelConfig)
    assert (mail.username, mail.from_addr, mail.security, mail.resolved_port()) == (
        "alert@corp.cn", "alert@corp.cn", "ssl", 465
    )  # fmt: skip
    assert (
        mail.password is not None
        and mail.password.get_secret_value() == "pa:ss"
        and mail.to == ["a@corp.cn", "b@corp.cn"]
    )


@pytest.mark.parametrize(
    "url",
    [
        "dingtalk://topsecrettoken?secrt=SECtopsecret",
        "wecom://ww1:topsecretvalue@notanumber",
        "wecom://ww1topsecretvalue@1000002",
        "wecombot://topsecretkey?format=html",
        "mailto://u:topsecretpass@smtp.x.cn",
        "telegram://topsecret",
        "webhook+ftp://topsecret.example/x",
    ],
)
def test_bad_urls_are_explained_without_their_secrets(url: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_channel_url(url)
    assert "topsecret" not in str(info.value)


def test_alerts_config_takes_urls_and_blocks_and_secrets_are_known_to_logging() -> None:
    settings = Settings(
        alerts={  # type: ignore[arg-type]
            "channels": {
                "ops": "dingtalk://tok-abcdef?secret=SECabcdef",
                "sec": {"type": "wecom_bot", "key": "bot-key-123456"},
            }
        }
    )
    assert isinstance(settings.alerts.channels["ops"], DingTalkChannelConfig)
    assert isinstance(settings.alerts.channels["sec"], WeComBotChannelConfig)
    assert {"tok-abcdef", "SECabcdef", "bot-key-123456"} <= set(settings.secret_values())
    assert "bot-key-123456" not in repr(settings)


def test_unknown_keys_and_types_are_rejected() -> None:
    with pytest.raises(ValidationError):
        AlertsConfig(channels={"x": {"type": "wecom_bot", "key": "k", "colour": "red"}})  # type: ignore[dict-item]
    with pytest.raises(ValidationError):
        AlertsConfig(channels={"x": {"type": "pager", "key": "k"}})  # type: ignore[dict-item]


def test_bad_url_in_yaml_is_one_line_without_the_secret(tmp_path: Path) -> None:
    config = tmp_path / "vigilo.yaml"
    config.write_text("alerts:\n  channels:\n    ops: 'wecom://ww1:hushhushvalue@abc'\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(config, env_file=None)
    assert "alerts.channels.ops" in str(info.value) and "hushhush" not in str(info.value)


def test_build_channel_for_every_type() -> None:
    blocks = {
        "a": WeComAppChannelConfig(corp_id="ww1", agent_id=1, secret=SecretStr("s")),
        "b": WeComBotChannelConfig(key=SecretStr("k")),
        "c": DingTalkChannelConfig(access_token=SecretStr("t")),
        "d": FeishuChannelConfig(hook=SecretStr("h")),
        "e": FeishuChannelConfig(type="lark", hook=SecretStr("h")),
        "f": WebhookChannelConfig(url=SecretStr("https://x.example/y")),
        "g": EmailChannelConfig(host="smtp.x", from_addr="a@x", to=["b@x"]),
    }
    built = {name: build_channel(name, cfg) for name, cfg in blocks.items()}
    expected = [
        WeComAppChannel,
        WeComBotChannel,
        DingTalkChannel,
        FeishuChannel,
        LarkChannel,
        WebhookChannel,
        EmailChannel,
    ]
    assert [type(ch) for ch in built.values()] == expected
    assert built["e"].base_url == LARK_BASE_URL
    email = built["g"]
    assert isinstance(email, EmailChannel) and email.port == 587
    keys = [ch.destination_key for ch in built.values()]
    assert len(set(keys)) == len(keys)


def test_textcard_without_card_url_is_a_config_error() -> None:
    with pytest.raises(ChannelConfigError):
        build_channel("x", WeComAppChannelConfig(corp_id="ww1", agent_id=1, secret=SecretStr("s"), format="textcard"))


def test_apprise_channel_explains_the_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "apprise", None)  # as if not installed (it is, in the dev extra)
    with pytest.raises(ChannelConfigError, match="pip install apprise"):
        build_channels(Settings(alerts={"channels": {"tg": "apprise+tgram://123/456"}}))  # type: ignore[arg-type]


def test_seed_environment_names_become_channels(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WECOM_CORP_ID", "ww-seed")
    monkeypatch.setenv("WECOM_AGENT_ID", "1000009")
    monkeypatch.setenv("WECOM_SECRET", "seed-secret-value")
    monkeypatch.setenv("DINGTALK_WEBHOOK", "https://oapi.dingtalk.com/robot/send?access_token=seedtoken")
    monkeypatch.setenv("DINGTALK_SECRET", "SECseed")
    monkeypatch.setenv("VIGILO_ALERTS__CHANNELS__GROUP", "wecombot://env-bot-key")
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None, env_file=None)
    channels = build_channels(settings)
    assert set(channels) == {"wecom", "dingtalk", "group"}
    wecom = channels["wecom"]
    assert isinstance(wecom, WeComAppChannel) and (wecom.corp_id, wecom.agent_id) == ("ww-seed", 1000009)
    assert (
        isinstance(channels["dingtalk"], DingTalkChannel)
        and channels["dingtalk"].base_url == "https://oapi.dingtalk.com"
    )
    assert isinstance(channels["group"], WeComBotChannel)
    for ch in channels.values():
        assert "seed-secret-value" not in ch.destination_key and "seedtoken" not in ch.destination_key


def test_configured_channel_of_the_same_name_replaces_the_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(
        dingtalk={"webhook": "https://oapi.dingtalk.com/robot/send?access_token=seed"},  # type: ignore[arg-type]
        alerts={"channels": {"dingtalk": {"type": "dingtalk", "access_token": "mine", "enabled": False}}},  # type: ignore[arg-type]
    )
    assert build_channels(settings) == {}


def test_incomplete_wecom_seed_is_an_error() -> None:
    settings = Settings(wecom={"corp_id": "ww1"})  # type: ignore[arg-type]
    with pytest.raises(ChannelConfigError, match="WECOM_SECRET"):
        build_channels(settings)


@pytest.mark.anyio
async def test_url_to_channel_to_fake_end_to_end() -> None:
    fake = FakeDingTalk().start()
    try:
        settings = Settings(
            alerts={"channels": {"ops": f"dingtalk://{DING_TOKEN}?secret={DING_SECRET}&base_url={fake.url}"}}  # type: ignore[arg-type]
        )
        (channel,) = build_channels(settings).values()
        async with channel:
            result = await channel.send(AlertMessage(title="测试", body="hello"))
    finally:
        fake.stop()
    assert result.ok, result.reason
    assert len(fake.delivered) == 1
