"""The message every channel renders and sends."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["default", "urgent"]
BodyFormat = Literal["markdown", "text"]

# A mainland mobile number, optionally with +86 / 86: these are mentioned by phone number,
# everything else in `mentions` is a platform user id (WeCom userid, DingTalk userId, Feishu open_id).
_MOBILE = re.compile(r"^(?:\+?86)?1\d{10}$")


@dataclass
class AlertMessage:
    """One alert, platform-neutral.

    `body` is Markdown-lite (headings, bold, links, lists) unless `body_format` is "text";
    channels that cannot show Markdown send it as it is. `idempotency_key` identifies one alert:
    the same key on a retry lets platforms that support it (DingTalk `msgUuid`, WeCom duplicate
    check) drop a repeat.
    """

    title: str
    body: str
    severity: Severity = "default"
    labels: dict[str, str] = field(default_factory=dict)
    snapshot: bytes | None = None
    image_url: str | None = None
    mentions: list[str] = field(default_factory=list)
    at_all: bool = False
    idempotency_key: str = ""
    body_format: BodyFormat = "markdown"
    # What templates show (docs/alerts.md, "Templates"); all optional.
    phones: int | None = None
    score: float | None = None
    occurred_at: float | None = None  # epoch seconds; the time of sending when empty
    items: list[AlertMessage] = field(default_factory=list)  # the alerts of a digest
    facts: dict[str, Any] = field(default_factory=dict)  # JSON-able extras, e.g. {"report": {...}}

    @property
    def mention_mobiles(self) -> list[str]:
        """Entries of `mentions` that are mobile numbers (digits only, no +86)."""
        out = []
        for item in self.mentions:
            compact = item.replace(" ", "").replace("-", "")
            if _MOBILE.match(compact):
                out.append(compact[-11:])
        return out

    @property
    def mention_user_ids(self) -> list[str]:
        """Entries of `mentions` that are user ids (not mobile numbers)."""
        return [m for m in self.mentions if not _MOBILE.match(m.replace(" ", "").replace("-", ""))]

    def plain_text(self) -> str:
        """Title and body as one plain-text block."""
        return f"{self.title}\n{self.body}" if self.body else self.title
