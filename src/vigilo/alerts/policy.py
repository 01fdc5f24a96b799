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
from datetime import UTC, datetime, timedelta, tzinfo
from datetime import time as dtime
from zoneinfo import ZoneInfo

from vigilo.alerts.message import AlertMessage, BodyFormat, Severity
from vigilo.config.alert_policy import (
    WEEKDAY_NAMES,
    AlertPolicyConfig,
    QuietHoursConfig,
    SilenceConfig,
    TimeWindow,
    parse_hhmm,
)
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
    occurred_at: float | None = None  # epoch seconds; the time of submission when empty

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
            phones=self.phones,
            score=self.score,
            occurred_at=self.occurred_at,
        )


@dataclass(frozen=True)
class PolicyDecision:
    channels: list[str]
    severity: Severity
    labels: dict[str, str]
    group_key: str
    dropped: str | None = None  # not an alert at all (disabled, below threshold): nothing is stored
    drop_kind: str | None = None  # "disabled" or "below_threshold", for metrics
    suppressed: str | None = None  # stored as suppressed, for the ledger (silenced, quiet hours "drop")
    held_until: float | None = None  # quiet hours: not sent before this (epoch seconds)
    hold_group: str | None = None  # quiet hours "digest": one group, so one message, per channel


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


@dataclass(frozen=True)
class WeeklyWindow:
    """`start`-`end` (minutes after midnight) on `days` (0 = Monday); end <= start runs past midnight."""

    days: frozenset[int]
    start: int
    end: int

    @classmethod
    def from_config(cls, config: TimeWindow) -> WeeklyWindow:
        days = frozenset(WEEKDAY_NAMES.index(d) for d in config.days)
        return cls(days, parse_hhmm(config.start), parse_hhmm(config.end))

    def end_if_inside(self, local: datetime) -> datetime | None:
        """The end of the occurrence that contains `local`, or None when `local` is outside."""
        minute = local.hour * 60 + local.minute + local.second / 60
        day = local.weekday()
        midnight = datetime.combine(local.date(), dtime(0), tzinfo=local.tzinfo)
        if self.start < self.end:
            inside = day in self.days and self.start <= minute < self.end
            return midnight + timedelta(minutes=self.end) if inside else None
        if day in self.days and minute >= self.start:
            return midnight + timedelta(days=1, minutes=self.end)
        if (day - 1) % 7 in self.days and minute < self.end:
            return midnight + timedelta(minutes=self.end)
        return None


def quiet_until(windows: list[WeeklyWindow], now: float, tz: tzinfo | None) -> float | None:
    """When the quiet period around `now` ends (following adjacent windows), or None when not quiet."""
    moment = datetime.fromtimestamp(now, UTC).astimezone(tz)
    found = False
    for _ in range(16):
        ends = [end for w in windows if (end := w.end_if_inside(moment)) is not None]
        if not ends:
            break
        moment, found = max(ends), True
    return moment.timestamp() if found else None


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
        self.runtime_silences: list[Silence] = []  # added in this process; survive reloads of the others
        self.tz: tzinfo | None = ZoneInfo(config.timezone) if config.timezone else None
        self.schedules = {
            name: [WeeklyWindow.from_config(w) for w in windows] for name, windows in config.schedules.items()
        }
        quiet = config.quiet_hours
        self.quiet_windows = [WeeklyWindow.from_config(w) for w in quiet.windows]
        self.quiet_windows += [w for name in quiet.schedules for w in self.schedules[name]]

    def add_silence(self, silence: Silence) -> None:
        """Runtime silence, in memory only (persisted ones go through `SilenceStore`)."""
        self.runtime_silences.append(silence)
        self.silences.append(silence)

    def severity(self, alert: Alert) -> Severity:
        if alert.severity is not None:
            return alert.severity
        return "urgent" if alert.phones >= self.config.urgent_min_phones else "default"

    def route(self, labels: dict[str, str]) -> list[str]:
        chosen: list[str] = []
        for route in self.config.routes:
            if route.active_during and not any(self.in_schedule(name) for name in route.active_during):
                continue
            if all(labels.get(k) == v for k, v in route.match.items()):
                chosen += [c for c in route.channels if c not in chosen]
                if not route.continue_matching:
                    return chosen
        if chosen:
            return chosen
        defaults = self.config.default_channels
        return list(self.channel_names if defaults is None else defaults)

    def in_schedule(self, name: str, now: float | None = None) -> bool:
        at = self._clock() if now is None else now
        return quiet_until(self.schedules[name], at, self.tz) is not None

    def quiet(self, severity: Severity, labels: dict[str, str]) -> tuple[str, float] | None:
        """(action, end of the quiet period) when quiet hours apply to this alert now."""
        config: QuietHoursConfig = self.config.quiet_hours
        action = config.urgent if severity == "urgent" else config.default
        if action == "send" or not self.quiet_windows:
            return None
        if not all(labels.get(k) == v for k, v in config.match.items()):
            return None
        until = quiet_until(self.quiet_windows, self._clock(), self.tz)
        return None if until is None else (action, until)

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
        quiet = self.quiet(severity, labels)
        if quiet is None:
            return PolicyDecision(channels, severity, labels, group)
        action, until = quiet
        if action == "drop":
            ends = datetime.fromtimestamp(until, UTC).astimezone(self.tz).isoformat(timespec="minutes")
            return PolicyDecision(channels, severity, labels, group, suppressed=f"quiet hours until {ends}")
        hold_group = f"quiet-digest:{int(until)}" if action == "digest" else None
        return PolicyDecision(channels, severity, labels, group, held_until=until, hold_group=hold_group)
