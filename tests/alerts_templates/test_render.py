"""Default templates: zh-CN and English for every channel style and severity; byte limits; overrides."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.alerts_templates.conftest import SHANGHAI, local
from tests.fakes.dingtalk import FakeDingTalk
from tests.fakes.feishu import FakeFeishu
from tests.fakes.wecom import FakeWeComApp, FakeWeComBot
from vigilo.alerts.channels.base import truncate_utf8
from vigilo.alerts.channels.email import EmailChannel
from vigilo.alerts.channels.wecom_app import WeComAppChannel
from vigilo.alerts.message import AlertMessage
from vigilo.alerts.rendering import STYLES, MessageTemplates, TemplateConfigError, validate_templates
from vigilo.config import ConfigError, load_settings

SEED = "【手机检测告警】考场 3（A 区）发现 2 部手机，置信度 0.87，时间 2026-11-23 09:12:03"
pytestmark = pytest.mark.anyio

CJK = re.compile(r"[\u4e00-\u9fff]")


def phone(severity: str = "default", phones: int = 2, **kwargs: object) -> AlertMessage:
    values: dict[str, object] = {
        "title": "phone",
        "body": "",
        "severity": severity,
        "labels": {"kind": "phone", "camera": "room-3", "camera_name": "考场 3", "zone": "A 区"},
        "phones": phones,
        "score": 0.87,
        "occurred_at": local("2026-11-23 09:12:03"),
        "idempotency_key": "ev-1",
    }
    values.update(kwargs)
    return AlertMessage(**values)  # type: ignore[arg-type]


def zh() -> MessageTemplates:
    return MessageTemplates("zh-CN", tz=SHANGHAI)


def test_zh_cn_text_reads_like_the_seed() -> None:
    rendered = zh().render(phone(), "dingtalk_text")
    assert rendered.text.splitlines()[0] == SEED
    assert rendered.title == "【手机检测告警】考场 3（A 区）发现 2 部手机"


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("severity", ["default", "urgent"])
def test_every_style_renders_in_both_languages(style: str, severity: str) -> None:
    message = phone(severity, phones=3 if severity == "urgent" else 2)
    chinese = zh().render(message, style)
    english = MessageTemplates("en", tz=SHANGHAI).render(message, style)
    for rendered in (chinese, english):
        assert rendered.title and rendered.text
        assert "考场 3" in rendered.title + rendered.text  # the camera's display name, in both languages
    assert "手机检测告警" in chinese.title or "手机检测告警" in chinese.text
    assert ("紧急" in chinese.title) is (severity == "urgent")
    english_words = CJK.sub("", (english.title + english.text).replace("考场", "").replace("区", ""))
    assert "Phone alert" in english.title + english.text
    assert ("URGENT" in english.title) is (severity == "urgent")
    assert not CJK.search(english_words)


def test_digest_lists_each_alert_in_one_line() -> None:
    items = [phone(), phone("urgent", phones=4, occurred_at=local("2026-11-23 09:13:00"))]
    digest = AlertMessage(
        title="x", body="", severity="urgent", labels={"digest": "5"}, items=items, idempotency_key="d"
    )
    rendered = zh().render(digest, "wecom_markdown")
    assert rendered.title == "【紧急·告警汇总】共 5 条"
    assert "09:12:03 考场 3（A 区）2 部手机（置信度 0.87）" in rendered.text
    assert "09:13:00 考场 3（A 区）4 部手机（置信度 0.87） 紧急" in rendered.text
    assert "另有 3 条未列出" in rendered.text


def test_truncation_never_splits_a_character() -> None:
    text = "考场三发现手机" * 400  # 3 bytes a character
    for limit in range(1, 64):
        cut = truncate_utf8(text, limit)
        data = cut.encode("utf-8")
        assert len(data) <= max(limit, 3) and cut.endswith("…")
        assert data.decode("utf-8") == cut and cut[:-1] == text[: len(cut) - 1]


async def test_channels_cut_chinese_text_at_their_byte_limits(
    wecom_bot: FakeWeComBot, wecom_app: FakeWeComApp, dingtalk: FakeDingTalk, feishu: FakeFeishu
) -> None:
    long = "考场三号发现可疑手机，请核查。" * 800  # about 36 KB
    message = AlertMessage(title="长消息", body=long, idempotency_key="ev-long", mentions=["13800000000"])
    from tests.alerts.test_wecom_bot import channel as bot_channel

    async with bot_channel(wecom_bot) as bot:
        bot_plain = AlertMessage(title="长消息", body=long, idempotency_key="ev-long")
        assert (await bot.send(bot_plain)).ok
    content = wecom_bot.delivered[0]["markdown"]["content"]
    assert len(content.encode()) <= 4096 and content.endswith("…")
    from tests.alerts.test_wecom_app import channel as wecom_channel

    async with wecom_channel(wecom_app) as app:
        assert (await app.send(message)).ok
    text = wecom_app.delivered[0].body["text"]["content"]
    assert len(text.encode()) <= 2048 and "…\n\nref: ev-long" in text
    from tests.alerts.test_dingtalk import channel as ding_channel

    async with ding_channel(dingtalk) as ding:
        assert (await ding.send(message)).ok
    ding_text = dingtalk.delivered[0]["markdown"]["text"]
    assert len(ding_text.encode()) <= 20000 and ding_text.endswith("…\n\n@13800000000")  # the mention survives
    from tests.alerts.test_feishu import channel as feishu_channel

    async with feishu_channel(feishu) as fs:
        assert (await fs.send(message)).ok
    assert len(json.dumps(feishu.delivered[0], ensure_ascii=False).encode()) <= 20 * 1024


async def test_seed_wording_arrives_at_the_platforms(dingtalk: FakeDingTalk, feishu: FakeFeishu) -> None:
    from tests.alerts.test_dingtalk import channel as ding_channel
    from tests.alerts.test_feishu import channel as feishu_channel

    async with ding_channel(dingtalk, format="text") as ding:
        ding.templates = zh()
        assert (await ding.send(phone(image_url="https://v.example/s/1.jpg"))).ok
    assert dingtalk.delivered[0]["text"]["content"].startswith(SEED)
    async with feishu_channel(feishu) as fs:
        fs.templates = MessageTemplates("en", tz=SHANGHAI)
        assert (await fs.send(phone("urgent", phones=3, at_all=True))).ok
    card = feishu.delivered[0]["card"]
    assert card["header"]["title"]["content"] == "[URGENT Phone alert] 3 phones at 考场 3 (zone A 区)"
    assert (
        card["header"]["template"] == "red"
        and "**Time: **2026-11-23 09:12:03" in card["elements"][0]["text"]["content"]
    )


def test_email_subject_and_textcard_button_come_from_templates() -> None:
    mail = EmailChannel("m", host="127.0.0.1", port=25, from_addr="a@b.cn", to=["c@d.cn"])
    mail.templates = MessageTemplates("en", tz=SHANGHAI)
    assert str(mail.build(phone("urgent"))["Subject"]) == "[URGENT] Phone alert: 2 phones at 考场 3 (zone A 区)"
    card = WeComAppChannel("w", corp_id="c", agent_id=1, secret="s", format="textcard", card_url="https://x")
    assert card._body(phone())["textcard"]["btntxt"] == "详情"
    card.templates = MessageTemplates("en")
    assert card._body(phone())["textcard"]["btntxt"] == "More"


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_user_folder_wins(tmp_path: Path) -> None:
    write(
        tmp_path,
        "zh-CN/alert/dingtalk_markdown.urgent.j2",
        "{% set title %}快！{{ alert.camera }}{% endset %}紧急：{{ alert.phones }}",
    )
    write(
        tmp_path,
        "zh-CN/_phrases.j2",
        (Path(__file__).parents[2] / "src/vigilo/alerts/templates/zh-CN/_phrases.j2")
        .read_text(encoding="utf-8")
        .replace("手机检测告警", "考场手机告警"),
    )
    templates = MessageTemplates("zh-CN", tmp_path, SHANGHAI)
    urgent = templates.render(phone("urgent"), "dingtalk_markdown")
    assert (urgent.title, urgent.text) == ("快！考场 3", "紧急：2")
    assert templates.render(phone(), "dingtalk_markdown").title.startswith("【考场手机告警】")  # phrases override
    assert templates.render(phone(), "text").text.startswith("【考场手机告警】")
    assert zh().render(phone(), "text").text.startswith("【手机检测告警】")  # shipped ones unchanged
    validate_templates(tmp_path)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{{ alert.camra }}", "has no attribute 'camra'"),
        ("{% if alert.urgent %}oops", "line 1"),
        ("{{ camera }}", "'camera' is undefined"),
        ("\n\n{{ alert.labels.room }}", "line 3"),
    ],
)
def test_a_template_typo_fails_at_config_load(tmp_path: Path, text: str, problem: str) -> None:
    folder = tmp_path / "templates"
    bad = write(folder, "zh-CN/alert/wecom_markdown.j2", text)
    config = tmp_path / "vigilo.yaml"
    config.write_text(yaml.safe_dump({"alerts": {"templates_dir": str(folder)}}))
    with pytest.raises(ConfigError) as caught:
        load_settings(config, env_file=None)
    line = str(caught.value)
    assert "\n" not in line and str(bad) in line and problem in line, line
    with pytest.raises(TemplateConfigError):
        validate_templates(folder)


def test_a_typo_in_the_shared_phrases_names_that_file(tmp_path: Path) -> None:
    shipped = Path(__file__).parents[2] / "src/vigilo/alerts/templates/zh-CN/_phrases.j2"
    phrases = write(
        tmp_path, "zh-CN/_phrases.j2", shipped.read_text(encoding="utf-8").replace("a.zone }}", "a.zoen }}")
    )
    with pytest.raises(TemplateConfigError, match=re.escape(str(phrases)) + ", line 3: .*'zoen'"):
        validate_templates(tmp_path)


def test_config_check_reports_the_typo(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from vigilo.cli.main import app as cli

    folder = tmp_path / "templates"
    bad = write(folder, "en/report/text.j2", "{{ report.totl }}")
    config = tmp_path / "vigilo.yaml"
    config.write_text(yaml.safe_dump({"alerts": {"templates_dir": str(folder)}}))
    result = CliRunner().invoke(cli, ["config", "check", "-c", str(config)])
    assert result.exit_code == 2 and str(bad) in result.output and "totl" in result.output, result.output


def test_shipped_templates_validate() -> None:
    validate_templates(None)


def test_an_alert_with_its_own_body_keeps_its_words() -> None:
    own = phone("urgent", title="手机告警结束：room-101", body="**持续时间**：42 秒")
    rendered = zh().render(own, "dingtalk_markdown")
    assert rendered.title == "【紧急】手机告警结束：room-101"
    assert "**持续时间**：42 秒" in rendered.text and "手机检测告警" not in rendered.text


def test_plain_text_styles_drop_the_markdown_of_an_alert_body() -> None:
    body = "**摄像头**：room-3\n\n**区域**：desk-area\n\n[截图](https://v.example/s/1.jpg)"
    own = phone(title="发现手机：room-3 / desk-area", body=body)
    for style in ("wecom_text", "dingtalk_text", "feishu_post", "webhook", "email"):
        text = zh().render(own, style).text
        assert "摄像头：room-3\n区域：desk-area\n截图 https://v.example/s/1.jpg" in text, (style, text)
        assert "**" not in text
    for style in ("dingtalk_markdown", "wecom_markdown", "feishu_interactive"):
        assert "**摄像头**：room-3" in zh().render(own, style).text  # markdown platforms keep it
    verbatim = phone(title="t", body="a **literal** b", body_format="text")
    assert "a **literal** b" in zh().render(verbatim, "wecom_text").text
