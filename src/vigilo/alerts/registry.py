"""Builds the configured channels: `alerts.channels` plus the seed's WeCom/DingTalk settings."""

from __future__ import annotations

import ssl
from typing import Any

from vigilo.alerts.channels.apprise_channel import AppriseChannel
from vigilo.alerts.channels.base import Channel, ChannelConfigError
from vigilo.alerts.channels.dingtalk import DingTalkChannel
from vigilo.alerts.channels.email import EmailChannel
from vigilo.alerts.channels.feishu import FeishuChannel, LarkChannel
from vigilo.alerts.channels.webhook import WebhookChannel
from vigilo.alerts.channels.wecom_app import WeComAppChannel
from vigilo.alerts.channels.wecom_bot import WeComBotChannel
from vigilo.alerts.rendering import templates_from_settings
from vigilo.config.alerts import (
    AppriseChannelConfig,
    DingTalkChannelConfig,
    EmailChannelConfig,
    FeishuChannelConfig,
    WebhookChannelConfig,
    WeComAppChannelConfig,
    WeComBotChannelConfig,
)
from vigilo.config.model import Settings

SEED_WECOM = "wecom"
SEED_DINGTALK = "dingtalk"


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


def build_channel(name: str, config: Any) -> Channel:
    """The channel for one `alerts.channels` entry. Raises ChannelConfigError when it cannot be built."""
    common = {"base_url": config.base_url, "timeout": config.timeout_s}
    if isinstance(config, WeComAppChannelConfig):
        if config.format == "textcard" and not config.card_url:
            raise ChannelConfigError(f"channel {name!r}: format textcard needs card_url")
        return WeComAppChannel(
            name,
            corp_id=config.corp_id,
            agent_id=config.agent_id,
            secret=config.secret.get_secret_value(),
            touser=config.touser,
            toparty=config.toparty,
            totag=config.totag,
            format=config.format,
            card_url=config.card_url,
            duplicate_check_interval=config.duplicate_check_interval,
            safe=config.safe,
            **common,
        )
    if isinstance(config, WeComBotChannelConfig):
        return WeComBotChannel(name, key=config.key.get_secret_value(), format=config.format, **common)
    if isinstance(config, DingTalkChannelConfig):
        return DingTalkChannel(
            name,
            access_token=config.access_token.get_secret_value(),
            secret=_secret(config.secret),
            keyword=config.keyword,
            format=config.format,
            **common,
        )
    if isinstance(config, FeishuChannelConfig):
        cls = LarkChannel if config.type == "lark" else FeishuChannel
        return cls(
            name,
            hook=config.hook.get_secret_value(),
            secret=_secret(config.secret),
            keyword=config.keyword,
            format=config.format,
            **common,
        )
    if isinstance(config, WebhookChannelConfig):
        return WebhookChannel(
            name,
            url=config.url.get_secret_value(),
            secret=_secret(config.secret),
            headers={k: v.get_secret_value() for k, v in config.headers.items()},
            include_snapshot=config.include_snapshot,
            **common,
        )
    if isinstance(config, EmailChannelConfig):
        return EmailChannel(
            name,
            host=config.host,
            port=config.resolved_port(),
            from_addr=config.from_addr,
            to=config.to,
            security=config.security,
            username=config.username,
            password=_secret(config.password),
            ssl_context=ssl.create_default_context(cafile=config.ca_file) if config.ca_file else None,
            timeout=config.timeout_s,
        )
    if isinstance(config, AppriseChannelConfig):
        return AppriseChannel(name, url=config.url.get_secret_value(), timeout=config.timeout_s)
    raise ChannelConfigError(f"channel {name!r}: unsupported channel type {type(config).__name__}")


def build_channels(settings: Settings) -> dict[str, Channel]:
    """Every enabled channel by name. The seed's `wecom`/`dingtalk` sections add channels named
    "wecom" and "dingtalk" when set, unless `alerts.channels` already has a channel of that name."""
    channels: dict[str, Channel] = {}
    for name, config in settings.alerts.channels.items():
        if config.enabled:
            channels[name] = build_channel(name, config)
    wecom = settings.wecom
    if SEED_WECOM not in settings.alerts.channels and (wecom.corp_id or wecom.secret or wecom.agent_id):
        if not (wecom.corp_id and wecom.secret and wecom.agent_id is not None):
            raise ChannelConfigError("WeCom needs all of WECOM_CORP_ID, WECOM_AGENT_ID and WECOM_SECRET")
        channels[SEED_WECOM] = WeComAppChannel(
            SEED_WECOM, corp_id=wecom.corp_id, agent_id=wecom.agent_id, secret=wecom.secret.get_secret_value()
        )
    ding = settings.dingtalk
    if SEED_DINGTALK not in settings.alerts.channels and ding.webhook is not None:
        channels[SEED_DINGTALK] = DingTalkChannel(
            SEED_DINGTALK, access_token=ding.webhook.get_secret_value(), secret=_secret(ding.secret)
        )
    templates = templates_from_settings(settings)
    for channel in channels.values():
        channel.templates = templates
    return channels
