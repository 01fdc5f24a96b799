"""Message templates: Jinja2 files per message kind, channel style and severity, zh-CN and English.

A template renders the message text (what the platform shows) and may set `title` (the subject,
card header or preview) with `{% set title %}...{% endset %}`. Lookup, first found wins, in the
user folder (`alerts.templates_dir`) before the shipped `vigilo/alerts/templates/`:

    <locale>/<kind>/<style>.<severity>.j2      e.g. zh-CN/alert/dingtalk_markdown.urgent.j2
    <locale>/<kind>/<style>.j2
    ... the same for the style's fallbacks (wecom_bot_markdown -> wecom_markdown -> text)
    ... and for kind "alert" when <kind> (phone, report, ...) has no file

Undefined variables are errors (StrictUndefined): `validate_templates` renders every template
with sample values, so a typo fails at configuration time, not in a 3 a.m. alert.
"""

from __future__ import annotations

import contextlib
import functools
import re
import traceback
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateSyntaxError,
)

from vigilo.alerts.message import AlertMessage, Severity
from vigilo.i18n import DEFAULT_LOCALE, Locale

SHIPPED_DIR = Path(__file__).parent / "templates"
LOCALES: tuple[Locale, ...] = ("zh-CN", "en")

# A style is what a channel sends: `<channel kind>_<format>`. Each falls back to more general ones.
STYLE_FALLBACKS: dict[str, tuple[str, ...]] = {
    "wecom_bot_markdown": ("wecom_markdown",),
    "lark_interactive": ("feishu_interactive",),
    "lark_post": ("feishu_post",),
    "lark_text": ("feishu_text",),
}
STYLES = (
    "text",
    "wecom_text",
    "wecom_markdown",
    "wecom_textcard",
    "wecom_bot_text",
    "wecom_bot_markdown",
    "dingtalk_text",
    "dingtalk_markdown",
    "feishu_text",
    "feishu_post",
    "feishu_interactive",
    "lark_interactive",
    "email",
    "webhook",
    "apprise",
)


class TemplateConfigError(ValueError):
    """A template cannot be loaded or rendered; the text names the file and the problem."""


@dataclass(frozen=True)
class Rendered:
    title: str
    text: str
    extras: dict[str, str] = field(default_factory=dict)  # other `{% set %}` values (button, color)


def style_chain(style: str) -> list[str]:
    chain = [style, *STYLE_FALLBACKS.get(style, ())]
    return chain if "text" in chain else [*chain, "text"]


def template_names(locale: str, kind: str, style: str, severity: str) -> list[str]:
    """Every file name tried for one message, most specific first."""
    kinds = [kind] if kind == "alert" else [kind, "alert"]
    names = []
    for folder in kinds:
        for name in style_chain(style):
            names += [f"{locale}/{folder}/{name}.{severity}.j2", f"{locale}/{folder}/{name}.j2"]
    return names


def make_environment(user_dir: Path | None = None) -> Environment:
    loaders = [FileSystemLoader(str(user_dir))] if user_dir is not None else []
    loaders.append(FileSystemLoader(str(SHIPPED_DIR)))
    env = Environment(
        loader=ChoiceLoader(loaders),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        keep_trailing_newline=False,
    )
    env.filters["num"] = _num
    return env


def _num(value: Any, digits: int = 2) -> str:
    """A score as `0.87`; an empty string for None."""
    return "" if value is None else f"{float(value):.{digits}f}"


_IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_STRONG = re.compile(r"(\*\*|__)(.+?)\1")
_FONT = re.compile(r"</?font[^>]*>")
_LINE_MARK = re.compile(r"^(?:#{1,6} |> ?)", re.MULTILINE)


def markdown_to_text(text: str) -> str:
    """Markdown-lite (bold, headings, quotes, links, images, WeCom `<font>`) as plain text, for
    the platforms and fields that show text as it is (text messages, Feishu posts, e-mail, webhook)."""
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1 \2", text)
    text = _STRONG.sub(r"\2", text)
    text = _FONT.sub("", text)
    text = _LINE_MARK.sub("", text)
    return re.sub(r"\n{2,}", "\n", text)


def local_time(stamp: float | None, tz: tzinfo | None) -> datetime:
    when = datetime.fromtimestamp(stamp, UTC) if stamp is not None else datetime.now(UTC)
    return when.astimezone(tz)


def alert_view(message: AlertMessage, tz: tzinfo | None) -> dict[str, Any]:
    """What templates see as `alert` (and as each of `items` in a digest)."""
    labels = dict(message.labels)
    when = local_time(message.occurred_at, tz)
    kind = labels.get("kind", "alert")
    return {
        # The templates write the seed's sentence for a phone alert submitted without a body;
        # an alert with its own body keeps its words (the templates add the platform's markup).
        "seed_wording": kind == "phone" and message.phones is not None and not message.body.strip(),
        "title": message.title,
        "body": message.body,
        "body_text": markdown_to_text(message.body) if message.body_format == "markdown" else message.body,
        "severity": message.severity,
        "urgent": message.severity == "urgent",
        "kind": kind,
        "labels": labels,
        "camera": labels.get("camera_name") or labels.get("camera", ""),
        "camera_id": labels.get("camera", ""),
        "zone": labels.get("zone_name") or labels.get("zone", ""),
        "phones": message.phones,
        "score": message.score,
        "at": when,
        "time": when.strftime("%Y-%m-%d %H:%M:%S"),
        "clock": when.strftime("%H:%M:%S"),
        "image_url": message.image_url,
        "has_snapshot": message.snapshot is not None,
        "mentions": list(message.mentions),
        "facts": dict(message.facts),
    }


def template_context(
    message: AlertMessage, *, style: str, channel: str, locale: str, tz: tzinfo | None
) -> dict[str, Any]:
    view = alert_view(message, tz)
    items = [alert_view(item, tz) for item in message.items]
    count = int(message.labels.get("digest", len(items) or 1))
    return {
        "alert": view,
        "items": items,
        "count": count,
        "more": max(0, count - len(items)) if items else 0,
        "urgent": view["urgent"],
        "severity": message.severity,
        "report": message.facts.get("report"),
        "channel": channel,
        "style": style,
        "locale": locale,
    }


def message_kind(message: AlertMessage) -> str:
    kind = message.labels.get("kind", "alert")
    return kind if kind and "/" not in kind and "." not in kind else "alert"


class MessageTemplates:
    """Renders `AlertMessage`s for one locale, time zone and (optional) user folder."""

    def __init__(self, locale: Locale = DEFAULT_LOCALE, user_dir: Path | None = None, tz: tzinfo | None = None):
        self.locale = locale
        self.user_dir = user_dir
        self.tz = tz
        self.env = make_environment(user_dir)

    def compile_all(self) -> None:
        """Compiles every template now (a broken one is skipped: its first send reports it)."""
        for name in self.env.list_templates(filter_func=lambda name: name.endswith(".j2")):
            with contextlib.suppress(TemplateError):
                self.env.get_template(name)

    @functools.lru_cache(maxsize=256)  # noqa: B019 - a few objects per process, never freed anyway
    def _template(self, kind: str, style: str, severity: str) -> Template:
        return self.env.select_template(template_names(self.locale, kind, style, severity))

    def render(self, message: AlertMessage, style: str, *, channel: str = "") -> Rendered:
        """Renders `message` for a channel style. Raises TemplateConfigError naming the file."""
        template = self._template(message_kind(message), style, message.severity)
        context = template_context(message, style=style, channel=channel, locale=self.locale, tz=self.tz)
        return render_template(template, context, fallback_title=message.title)


def render_template(template: Template, context: Mapping[str, Any], fallback_title: str = "") -> Rendered:
    try:
        try:
            module = template.make_module(dict(context))
        except Exception:
            template.environment.handle_exception()  # re-raises with template file names and lines
        text = str(module).strip("\n")
        exported = {k: str(v).strip() for k, v in module.__dict__.items() if not k.startswith("_")}
    except TemplateError as exc:
        raise TemplateConfigError(describe_error(template.filename or template.name or "?", exc)) from None
    title = exported.pop("title", "") or fallback_title
    return Rendered(title=title, text=text, extras={k: v for k, v in exported.items() if isinstance(v, str)})


def describe_error(filename: str, exc: TemplateError) -> str:
    """`template FILE, line N: problem`; for errors while rendering, the innermost template frame."""
    name, line = getattr(exc, "filename", None) or filename, getattr(exc, "lineno", None)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith(".j2")]
    if line is None and frames:
        name, line = frames[-1].filename, frames[-1].lineno
    where = name + (f", line {line}" if line else "")
    return f"template {where}: {exc.message or type(exc).__name__}"


@functools.lru_cache(maxsize=8)
def default_templates(locale: Locale = DEFAULT_LOCALE) -> MessageTemplates:
    """The shipped templates, for channels built without configuration (tests, scripts)."""
    return MessageTemplates(locale)


def zone_or_local(name: str | None) -> tzinfo | None:
    return ZoneInfo(name) if name else None


def templates_from_settings(settings: Any) -> MessageTemplates:
    """`alerts.locale` (else server.default_locale), `alerts.templates_dir`, `alerts.policy.timezone`."""
    alerts = settings.alerts
    locale = alerts.locale or settings.server.default_locale
    return MessageTemplates(locale, alerts.templates_dir, zone_or_local(alerts.policy.timezone))


# -- validation -----------------------------------------------------------------------------------


def sample_messages() -> list[AlertMessage]:
    """Messages covering every variable the shipped templates read: single, digest, report, both severities."""
    labels = {"kind": "phone", "camera": "room-3", "camera_name": "考场 3", "zone": "A 区"}
    out: list[AlertMessage] = []
    severities: tuple[Severity, ...] = ("default", "urgent")
    for severity in severities:
        phone = AlertMessage(
            title="发现手机",
            body="",  # the templates write the words
            severity=severity,
            labels={**labels, "severity": severity},
            phones=2,
            score=0.87,
            occurred_at=0.0,
            image_url="https://vigilo.example/s/1.jpg",
            idempotency_key="sample",
        )
        plain = AlertMessage(title="Test", body="body", severity=severity, idempotency_key="s2")
        digest = AlertMessage(
            title="digest",
            body="- a\n- b",
            severity=severity,
            labels={"digest": "3"},
            items=[phone, plain],
            idempotency_key="s3",
        )
        own_words = AlertMessage(
            title="手机告警结束", body="持续 42 秒", severity=severity, labels=labels, phones=1, idempotency_key="s4"
        )
        out += [phone, plain, digest, own_words]
    return out


def sample_report() -> AlertMessage:
    from vigilo.alerts.report import ReportData

    data = ReportData.sample()
    return AlertMessage(
        title="report", body="", labels={"kind": "report"}, facts={"report": data.to_dict()}, idempotency_key="r"
    )


def _files(root: Path) -> Iterator[Path]:
    yield from sorted(p for p in root.rglob("*.j2") if p.is_file())


def _render_user_files(env: Environment, user_dir: Path) -> None:
    """Every `<locale>/<kind>/<style>.j2` of the user folder, rendered with sample messages of its kind."""
    for path in _files(user_dir):
        parts = path.relative_to(user_dir).parts
        if len(parts) != 3 or parts[2].startswith("_"):
            continue  # macro files are checked through the templates that import them
        locale, kind, _ = parts
        template = env.get_template("/".join(parts))
        samples = [sample_report()] if kind == "report" else sample_messages()
        for message in samples:
            context = template_context(message, style=parts[2].split(".")[0], channel="sample", locale=locale, tz=None)
            render_template(template, context)


def validate_templates(user_dir: Path | None, locales: Sequence[Locale] = LOCALES) -> None:
    """Compiles every template and renders each style with sample messages; raises TemplateConfigError."""
    env = make_environment(user_dir)
    if user_dir is not None:
        if not user_dir.is_dir():
            raise TemplateConfigError(f"templates_dir {user_dir} is not a folder")
        for path in _files(user_dir):
            name = path.relative_to(user_dir).as_posix()
            try:
                env.get_template(name)
            except TemplateSyntaxError as exc:
                raise TemplateConfigError(f"template {path}, line {exc.lineno}: {exc.message}") from None
            except UnicodeDecodeError:
                raise TemplateConfigError(f"template {path}: not UTF-8 text") from None
        _render_user_files(env, user_dir)
    for locale in locales:
        templates = MessageTemplates(locale, user_dir)
        for style in STYLES:
            for message in [*sample_messages(), sample_report()]:
                try:
                    templates.render(message, style, channel="sample")
                except TemplateConfigError:
                    raise
                except TemplateError as exc:  # e.g. TemplatesNotFound
                    raise TemplateConfigError(describe_error("?", exc)) from None
