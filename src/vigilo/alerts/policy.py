"""Which alerts go where: threshold, severity, routes, silences and grouping keys.

Modelled on Alertmanager: labels (camera, zone, severity, kind, ...) are matched by routes to
channel lists; alerts sharing the `group_by` labels are sent together (timing lives in the
outbox, see `AlertService`); silences record an alert as suppressed instead of sending it.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from vigilo.alerts.message import AlertMessage, BodyFormat, Severity
from vigilo.config.alert_policy import AlertPolicyConfig, SilenceConfig
from vigilo.config.model import NotificationConfig


@dataclass
class Alert:
    """One detection worth telling people about, before policy and delivery."""

    title: str
    body: str
    labels: dict[str, str] = field(default_factory=dict)
    score: float = 1.0  # detection confidence, compared with notification.threshold
    phones: int = 1
    severity: Severity | None = None  # decided from `phones` when empty
    snapshot: bytes | None = None
    image_url: str | None = None
    mentions: list[str] = field(default_factory=list)
    at_all: bool = False
    key: str = ""  # idempotency key; a random one when empty
    episode: str | None = None  # same episode = same incident, re-notified after repeat_interval
    body_format: BodyFormat = "markdown"

    def __post_init__(self) -> None:
        if not self.key:
            self.key = uuid.uuid4().hex

    def message(self, severity: Severity, labels: dict[str, str], key: str) -> AlertMessage:
        return AlertMessage(
            title=self.title,
            body=self.body,
            severity=severity,
            labels=labels,
            snapshot=self.snapshot,
            image_url=self.image_url,
            mentions=list(self.mentions),
            at_all=self.at_all,
            idempotency_key=key,
            body_format=self.body_format,
        )


@dataclass(frozen=True)
class PolicyDecision:
    channels: list[str]
    severity: Severity
    labels: dict[str, str]
    group_key: str
    dropped: str | None = None  # not an alert at all (disabled, below threshold): nothing is stored
    drop_kind: str | None = None  # "disabled" or "below_threshold", for metrics
    suppressed: str | None = None  # stored as suppressed, for the ledger (silenced)


def _aware(value: datetime) -> datetime:
    """A time without zone is the server's local time (what people type in a config file)."""
    return value if value.tzinfo else value.astimezone()


@dataclass
class Silence:
    match: dict[str, str]
    ends_at: datetime
    starts_at: datetime | None = None
    comment: str = ""

    @classmethod
    def from_config(cls, config: SilenceConfig) -> Silence:
        starts = _aware(config.starts_at) if config.starts_at else None
        return cls(dict(config.match), _aware(config.ends_at), starts, config.comment)

    def active(self, now: datetime) -> bool:
        return (self.starts_at is None or self.starts_at <= now) and now < self.ends_at

    def matches(self, labels: dict[str, str]) -> bool:
        return all(labels.get(name) == value for name, value in self.match.items())

    def describe(self) -> str:
        matchers = ", ".join(f"{k}={v}" for k, v in sorted(self.match.items()))
        note = f" ({self.comment})" if self.comment else ""
        return f"silenced by [{matchers}]{note} until {self.ends_at.isoformat(timespec='seconds')}"


class AlertPolicy:
    def __init__(
        self,
        config: AlertPolicyConfig,
        notification: NotificationConfig,
        channel_names: Iterable[str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.notification = notification
        self.channel_names = list(channel_names)
        self._clock = clock
        self.silences = [Silence.from_config(s) for s in config.silences]

    def add_silence(self, silence: Silence) -> None:
        """Runtime silence (kept in memory only; configured ones survive restarts)."""
        self.silences.append(silence)

    def severity(self, alert: Alert) -> Severity:
        if alert.severity is not None:
            return alert.severity
        return "urgent" if alert.phones >= self.config.urgent_min_phones else "default"

    def route(self, labels: dict[str, str]) -> list[str]:
        chosen: list[str] = []
        for route in self.config.routes:
            if all(labels.get(k) == v for k, v in route.match.items()):
                chosen += [c for c in route.channels if c not in chosen]
                if not route.continue_matching:
                    return chosen
        if chosen:
            return chosen
        defaults = self.config.default_channels
        return list(self.channel_names if defaults is None else defaults)

    def group_key(self, labels: dict[str, str]) -> str:
        parts = [f"{name}={labels.get(name, '')}" for name in self.config.group_by]
        text = ",".join(parts)
        return text if len(text) <= 200 else hashlib.sha256(text.encode()).hexdigest()

    def silenced_by(self, labels: dict[str, str]) -> Silence | None:
        now = datetime.fromtimestamp(self._clock(), UTC)
        self.silences = [s for s in self.silences if now < s.ends_at]  # expired ones go away
        return next((s for s in self.silences if s.active(now) and s.matches(labels)), None)

    def evaluate(self, alert: Alert) -> PolicyDecision:
        severity = self.severity(alert)
        labels = {**alert.labels, "severity": severity}
        group = self.group_key(labels)
        channels = self.route(labels)
        if not self.notification.enabled:
            off = "notifications are disabled"
            return PolicyDecision([], severity, labels, group, dropped=off, drop_kind="disabled")
        if alert.score < self.notification.threshold:
            reason = f"score {alert.score:.2f} is below the threshold {self.notification.threshold:.2f}"
            return PolicyDecision([], severity, labels, group, dropped=reason, drop_kind="below_threshold")
        silence = self.silenced_by(labels)
        if silence is not None:
            return PolicyDecision(channels, severity, labels, group, suppressed=silence.describe())
        return PolicyDecision(channels, severity, labels, group)
