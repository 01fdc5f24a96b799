"""docs/alerts-examples.md is current, and what it shows is what the channels really deliver."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.fakes.dingtalk import FakeDingTalk
from tests.fakes.feishu import FakeFeishu
from tests.fakes.webhook import FakeWebhookReceiver
from tests.fakes.wecom import FakeWeComApp, FakeWeComBot
from vigilo.alerts.channels.base import Channel

pytestmark = pytest.mark.anyio
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "render_alert_examples.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("render_alert_examples", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_alert_examples_doc_is_up_to_date() -> None:
    module = load_script()
    assert module.TARGET.read_text(encoding="utf-8") == module.render(), (
        "docs/alerts-examples.md is stale: run .venv/bin/python scripts/render_alert_examples.py"
    )


def test_examples_cover_every_platform_in_both_severities() -> None:
    module = load_script()
    assert [e.kind for e in module.EXAMPLES] == ["wecom_app", "wecom_bot", "dingtalk", "feishu", "webhook", "email"]
    severities = [m.severity for _, m in module.example_messages()]
    assert severities[:2] == ["default", "urgent"] and len(severities) == 4
    text = module.TARGET.read_text(encoding="utf-8")
    assert "【紧急】发现手机：room-3 / desk-area" in text and "摄像头离线：room-3" in text
    assert "**" not in text.split("## 通用 Webhook")[1]  # webhook and e-mail are plain text


async def test_the_channels_deliver_what_the_doc_shows(
    wecom_app: FakeWeComApp,
    wecom_bot: FakeWeComBot,
    dingtalk: FakeDingTalk,
    feishu: FakeFeishu,
    receiver: FakeWebhookReceiver,
) -> None:
    from tests.alerts.test_dingtalk import channel as ding_channel
    from tests.alerts.test_feishu import channel as feishu_channel
    from tests.alerts.test_webhook import channel as hook_channel
    from tests.alerts.test_wecom_app import channel as app_channel
    from tests.alerts.test_wecom_bot import channel as bot_channel

    module = load_script()
    examples = {e.kind: e.build() for e in module.EXAMPLES}
    # The same message part of each request, as the fake received it and as the doc shows it.
    cases: list[tuple[str, Channel, list[Any], Any]] = [
        ("wecom_app", app_channel(wecom_app), wecom_app.delivered, lambda b: b["text"]),
        ("wecom_bot", bot_channel(wecom_bot), wecom_bot.delivered, lambda b: b),
        ("dingtalk", ding_channel(dingtalk), dingtalk.delivered, lambda b: (b["markdown"], b["msgUuid"])),
        ("feishu", feishu_channel(feishu), feishu.delivered, lambda b: b["card"]),
        ("webhook", hook_channel(receiver), receiver.received, lambda b: {**b, "receiver": ""}),
    ]
    for kind, real, arrived, part in cases:
        real.templates = module._templates()
        examples[kind].templates = module._templates()
        async with real:
            for _, message in module.example_messages():
                assert (await real.send(message)).ok, kind
        bodies = [getattr(item, "body", item) for item in arrived]
        expected = [module.request_body(examples[kind], m) for _, m in module.example_messages()]
        assert [part(b) for b in bodies] == [part(b) for b in expected], kind
