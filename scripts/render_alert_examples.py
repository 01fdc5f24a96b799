"""Writes docs/alerts-examples.md: the default zh-CN alert messages exactly as each platform gets them.

A sample phone episode (default severity, 2 phones; urgent, 3 phones) and a camera going offline
are built by the real adapters (`vigilo.phone.alerting`), decided by the real policy (default
configuration), plus the digest of the three (`build_digest`, what a rate-limited destination
gets), and rendered by the real channels with the shipped templates; what is shown is
the request body each channel would post (the e-mail's subject and text). A test fails when the
file is out of date: run `.venv/bin/python scripts/render_alert_examples.py`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from vigilo.alerts.channels.base import Channel
from vigilo.alerts.channels.dingtalk import DingTalkChannel
from vigilo.alerts.channels.email import EmailChannel
from vigilo.alerts.channels.feishu import FeishuChannel
from vigilo.alerts.channels.webhook import WebhookChannel
from vigilo.alerts.channels.wecom_app import WeComAppChannel
from vigilo.alerts.channels.wecom_bot import WeComBotChannel
from vigilo.alerts.message import AlertMessage
from vigilo.alerts.policy import Alert, AlertPolicy
from vigilo.alerts.rendering import MessageTemplates
from vigilo.alerts.service import build_digest
from vigilo.config.alert_policy import DeliveryConfig
from vigilo.config.model import NotificationConfig
from vigilo.phone.alerting import camera_alert, phone_alert
from vigilo.phone.events import CameraEvent, PhoneEvent

TARGET = Path(__file__).resolve().parent.parent / "docs" / "alerts-examples.md"
TZ = ZoneInfo("Asia/Shanghai")
STARTED = dt.datetime(2026, 11, 23, 1, 12, 3, tzinfo=dt.UTC)  # 09:12:03 in Shanghai
SNAPSHOT_URL = "https://vigilo.example.com/api/v1/events/{id}/snapshot.jpg?exp=1795400000&sig=3f2a9c…"


def _clock() -> float:
    return STARTED.timestamp() + 1.0


def _phone_event(event_id: int, phones: int, severity: str) -> PhoneEvent:
    return PhoneEvent(
        id=event_id,
        change="started",
        camera="room-3",
        zone="desk-area",
        status="new",
        severity=severity,
        track_ids=(1,),
        started_at=STARTED,
        last_seen_at=STARTED,
        ended_at=None,
        peak_score=0.87,
        phone_count=phones,
        snapshot=None,
        key=f"ep-{event_id}",
    )


def sample_alerts() -> list[tuple[str, Alert]]:
    """(heading, alert) for each example, as the stream watcher raises them."""
    default = _phone_event(41, 2, "default")
    urgent = _phone_event(42, 3, "urgent")
    offline = CameraEvent(id=7, camera="room-3", kind="offline", at=STARTED, reason="RTSP 超时", down_seconds=None)
    return [
        ("发现手机（一般，2 部）", phone_alert(default, tz=TZ, image_url=SNAPSHOT_URL.format(id=41))),
        ("发现手机（紧急，3 部）", phone_alert(urgent, tz=TZ, image_url=SNAPSHOT_URL.format(id=42))),
        ("摄像头离线", camera_alert(offline, tz=TZ)),
    ]


def example_messages() -> list[tuple[str, AlertMessage]]:
    """The samples through the default policy (severity, labels), as the outbox stores them."""
    policy = AlertPolicy(DeliveryConfig().policy, NotificationConfig(), {}, _clock)
    out = []
    for heading, alert in sample_alerts():
        decision = policy.evaluate(alert)
        out.append((heading, alert.message(decision.severity, decision.labels, alert.key)))
    digest = build_digest([m for _, m in out], "digest-3f9d0c2a", "zh-CN", DeliveryConfig().outbox.digest_max_items)
    out.append(("告警汇总（目的地限流时，排队的 3 条合并为一条）", digest))
    return out


class Example(NamedTuple):
    """One platform: how its channel is built (defaults) and what of its request is worth reading."""

    kind: str
    heading: str
    note: str
    build: Callable[[], Channel]
    shown: Callable[[dict[str, Any]], tuple[str, str] | None]  # (fence language, text) or None


def request_body(channel: Channel, message: AlertMessage) -> dict[str, Any]:
    """What the channel posts for `message` (no network; secrets and signatures left out)."""
    if isinstance(channel, WebhookChannel):
        return channel.body(message)
    if isinstance(channel, EmailChannel):
        return _mail_view(channel.build(message))
    if isinstance(channel, WeComAppChannel | WeComBotChannel | DingTalkChannel | FeishuChannel):
        return channel._body(message)
    raise TypeError(f"no example for {type(channel).__name__}")


def _mail_view(mail: EmailMessage) -> dict[str, Any]:
    body = mail.get_body(("plain",))
    text = body.get_content() if isinstance(body, EmailMessage) else ""
    return {"Subject": str(mail["Subject"]), "From": str(mail["From"]), "To": str(mail["To"]), "text": text}


def _templates() -> MessageTemplates:
    return MessageTemplates("zh-CN", tz=TZ)


EXAMPLES = [
    Example(
        "wecom_app",
        "企业微信应用消息（`wecom`，默认 `text`）",
        "POST `cgi-bin/message/send`. The `ref:` line keeps WeCom's duplicate check per alert. "
        "With a snapshot, an `image` message (uploaded media) follows.",
        lambda: WeComAppChannel(
            "ops-wecom", corp_id="ww0123456789", agent_id=1000002, secret="-", touser=["zhangsan"], clock=_clock
        ),
        lambda body: ("text", body["text"]["content"]) if "text" in body else None,
    ),
    Example(
        "wecom_bot",
        "企业微信群机器人（`wecom_bot`，默认 `markdown`）",
        "POST `cgi-bin/webhook/send?key=…`. With a snapshot, an `image` message (base64 + md5) follows; "
        "with mentions the message goes as `text`.",
        lambda: WeComBotChannel("ops-wecom-bot", key="-", clock=_clock),
        lambda body: ("markdown", body["markdown"]["content"]) if "markdown" in body else None,
    ),
    Example(
        "dingtalk",
        "钉钉自定义机器人（`dingtalk`，默认 `markdown`）",
        "POST `robot/send?access_token=…&timestamp=…&sign=…`; `msgUuid` lets DingTalk drop a resend. "
        "The snapshot is a Markdown image of Vigilo's expiring signed URL.",
        lambda: DingTalkChannel("ops-dingtalk", access_token="-", clock=_clock),
        lambda body: ("markdown", body["markdown"]["text"]) if "markdown" in body else None,
    ),
    Example(
        "feishu",
        "飞书自定义机器人（`feishu`，默认 `interactive` 卡片）",
        "POST `open-apis/bot/v2/hook/…`; with a secret the body also carries `timestamp` and `sign`. "
        "The card's text is `lark_md`.",
        lambda: FeishuChannel("ops-feishu", hook="-", clock=_clock),
        lambda body: ("markdown", body["card"]["elements"][0]["text"]["content"]) if "card" in body else None,
    ),
    Example(
        "webhook",
        "通用 Webhook（`webhook`，Alertmanager 格式 JSON）",
        "POST to the configured URL, with `X-Vigilo-Timestamp`, `X-Vigilo-Signature` (HMAC-SHA256) and "
        "`Idempotency-Key` headers. `title`/`message` and the annotations come from the `webhook` template.",
        lambda: WebhookChannel("ops-webhook", url="https://example.com/hook", clock=_clock),
        lambda body: ("text", body["message"]),
    ),
    Example(
        "email",
        "电子邮件（`email`）",
        "SMTP; the text/plain part (UTF-8) and the subject. With a snapshot, `snapshot.jpg` is attached.",
        lambda: EmailChannel(
            "ops-mail", host="smtp.example.com", port=587, from_addr="vigilo@example.com", to=["guard@example.com"]
        ),
        lambda body: ("text", f"Subject: {body['Subject']}\n\n{body['text'].rstrip()}"),
    ),
]

HEADER = """# Alert messages as each platform receives them (zh-CN defaults)

Generated by `scripts/render_alert_examples.py` (a test fails when this file is out of date). A
sample phone episode on camera `room-3`, zone `desk-area` (2 phones, then 3 phones: urgent as the
seed says) and a camera going offline, each built by the stream watcher's adapters, decided by the
default policy and rendered by the real channels with the shipped templates (times in
Asia/Shanghai); last, the digest a saturated destination gets instead of those three messages.
The first block is what people read; the JSON is the exact request body. Secrets, signatures and
access tokens travel in the URL or headers and are not shown. Change the wording with a
templates folder (`alerts.templates_dir`, see [alerts.md](alerts.md#templates)); English with
`alerts.locale: en`.
"""


def _fence(language: str, text: str) -> str:
    ticks = "````" if "```" in text else "```"
    return f"{ticks}{language}\n{text.rstrip()}\n{ticks}\n"


def render() -> str:
    parts = [HEADER]
    messages = example_messages()
    for example in EXAMPLES:
        channel = example.build()
        channel.templates = _templates()
        parts.append(f"\n## {example.heading}\n\n{example.note}\n")
        for heading, message in messages:
            body = request_body(channel, message)
            parts.append(f"\n### {heading}\n\n")
            shown = example.shown(body)
            if shown is not None:
                parts.append(_fence(*shown))
            if example.kind != "email":
                parts.append("\n" + _fence("json", json.dumps(body, ensure_ascii=False, indent=2)))
    return "".join(parts)


if __name__ == "__main__":
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET}")
