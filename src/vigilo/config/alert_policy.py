"""Configuration of alert policy (routes, grouping, silences) and of durable delivery.

Durations are in seconds (floats), so tests can run with millisecond intervals.
"""

from __future__ import annotations

import re
from datetime import datetime
from datetime import time as dtime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAY_NAMES: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")


def parse_hhmm(value: str) -> int:
    """Minutes since midnight for "HH:MM" ("24:00" is the end of the day)."""
    match = _HHMM.match(value.strip())
    if not match or (int(match.group(1)) == 24 and match.group(2) != "00"):
        raise ValueError(f"{value!r} is not a time of day like 07:30 (24:00 is the end of the day)")
    return int(match.group(1)) * 60 + int(match.group(2))


def check_zone(value: str | None) -> str | None:
    if value is not None:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Asia/Shanghai)") from None
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class RouteConfig(_Section):
    """Alerts whose labels equal every `match` entry go to `channels`."""

    match: dict[str, str] = Field(default_factory=dict, description="Label equality, e.g. {camera: gate-1}.")
    channels: list[str] = Field(min_length=1, description="Channel names from alerts.channels.")
    continue_matching: bool = Field(False, description="Keep trying later routes after this one matched.")
    active_during: list[str] = Field(
        default_factory=list,
        description="Names of `schedules`: the route applies only inside them (always when empty).",
    )


class SilenceConfig(_Section):
    """Alerts matching every label in `match` are recorded as suppressed until `ends_at`."""

    match: dict[str, str] = Field(min_length=1)
    ends_at: datetime = Field(description="ISO 8601; a time without zone is the server's local time.")
    starts_at: datetime | None = None
    comment: str = ""


class TimeWindow(_Section):
    """A weekly window: `start`-`end` local time on each of `days` (an `end` not after `start` runs
    past midnight into the next day)."""

    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAY_NAMES), description="Days the window starts on.")
    start: str = Field(description="HH:MM, local time.")
    end: str = Field(description="HH:MM; 24:00 is midnight at the end of the day.")

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        parse_hhmm(value)
        return value.strip()


class QuietHoursConfig(_Section):
    """Inside these windows default-severity alerts wait (or are digested, or dropped); urgent ones go out."""

    windows: list[TimeWindow] = Field(default_factory=list)
    schedules: list[str] = Field(default_factory=list, description="Names of `schedules` that count as quiet too.")
    default: Literal["hold", "digest", "drop", "send"] = Field(
        "hold",
        description="hold: send each at the end; digest: one message per channel at the end; drop: record only.",
    )
    urgent: Literal["send", "hold", "digest", "drop"] = "send"
    match: dict[str, str] = Field(default_factory=dict, description="Only alerts with these labels (all when empty).")


class AlertPolicyConfig(_Section):
    """Alertmanager-like policy; `notification.enabled/threshold` stay the master switches."""

    group_by: list[str] = Field(default_factory=lambda: ["camera", "zone"])
    group_wait: float = Field(30.0, ge=0, description="Wait before the first message of a new group.")
    group_interval: float = Field(300.0, ge=0, description="Least time between two messages of a group.")
    repeat_interval: float = Field(4 * 3600.0, ge=0, description="Same episode is not re-notified sooner than this.")
    urgent_min_phones: int = Field(3, ge=1, description="Alerts with this many phones or more are urgent.")
    routes: list[RouteConfig] = Field(default_factory=list)
    default_channels: list[str] | None = Field(
        None, description="Channels for alerts no route matched; every configured channel when empty."
    )
    silences: list[SilenceConfig] = Field(default_factory=list)
    timezone: str | None = Field(
        None, description="IANA zone for quiet hours, schedules, reports and times in messages; the machine's zone."
    )
    schedules: dict[str, list[TimeWindow]] = Field(
        default_factory=dict, description="Named weekly schedules, for routes' active_during and quiet_hours."
    )
    quiet_hours: QuietHoursConfig = Field(default_factory=QuietHoursConfig)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return check_zone(value)

    @model_validator(mode="after")
    def _known_schedules(self) -> AlertPolicyConfig:
        names = [n for r in self.routes for n in r.active_during] + self.quiet_hours.schedules
        unknown = sorted(set(names) - set(self.schedules))
        if unknown:
            raise ValueError(f"unknown schedule {unknown[0]!r} (define it under policy.schedules)")
        return self


class RateWindow(_Section):
    """At most `limit` messages per `per_seconds`, sliding window."""

    limit: int = Field(ge=1)
    per_seconds: float = Field(gt=0)


def _default_rate_limits() -> dict[str, list[RateWindow]]:
    minute = 60.0
    return {
        "wecom_bot": [RateWindow(limit=20, per_seconds=minute)],
        "dingtalk": [RateWindow(limit=20, per_seconds=minute)],
        "feishu": [RateWindow(limit=5, per_seconds=1.0), RateWindow(limit=100, per_seconds=minute)],
        "lark": [RateWindow(limit=5, per_seconds=1.0), RateWindow(limit=100, per_seconds=minute)],
        # WeCom app: per member; the channel's destination key names the recipients.
        "wecom": [RateWindow(limit=30, per_seconds=minute), RateWindow(limit=1000, per_seconds=3600.0)],
    }


def _default_block_seconds() -> dict[str, float]:
    return {"dingtalk": 600.0, "wecom_bot": 60.0, "wecom": 60.0, "feishu": 60.0, "lark": 60.0}


class RateLimitConfig(_Section):
    """Per-destination limits by channel kind; shared through Redis when a URL is set."""

    redis_url: str | None = Field(
        None, description="redis://host:port/db; falls back to sessions.redis_url, then in-process."
    )
    key_prefix: str = "vigilo:alerts:rl:"
    limits: dict[str, list[RateWindow]] = Field(default_factory=_default_rate_limits)
    default_limits: list[RateWindow] = Field(
        default_factory=lambda: [RateWindow(limit=60, per_seconds=60.0)],
        description="For channel kinds not listed in `limits`.",
    )
    block_seconds: dict[str, float] = Field(
        default_factory=_default_block_seconds,
        description="Pause after the platform says 'rate limited' without a retry-after.",
    )
    default_block_seconds: float = Field(60.0, gt=0)

    def windows_for(self, kind: str) -> list[RateWindow]:
        return self.limits.get(kind, self.default_limits)

    def block_for(self, kind: str) -> float:
        return self.block_seconds.get(kind, self.default_block_seconds)


class RetryConfig(_Section):
    """Exponential backoff with full jitter: delay = random(0.5..1) x min(max, base x factor^n)."""

    max_attempts: int = Field(6, ge=1)
    base_delay: float = Field(5.0, gt=0)
    factor: float = Field(3.0, ge=1)
    max_delay: float = Field(1800.0, gt=0)
    jitter: float = Field(0.5, ge=0, le=1, description="Fraction of the delay that is randomised.")


OUTBOX_REDIS_MISSING = (
    "alerts.outbox.backend is redis but no Redis URL is set: set alerts.outbox.redis_url or sessions.redis_url "
    "(VIGILO_SESSIONS__REDIS_URL=redis://host:6379/0)"
)


class OutboxConfig(_Section):
    """The durable queue between the policy and the channels."""

    backend: Literal["sql", "redis"] = Field(
        "sql", description="sql: SQLite (WAL) or PostgreSQL by database_url; redis: Redis (alerts-delivery.md)."
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; storage.database_url when empty. With backend redis: the silences."
    )
    redis_url: str | None = Field(
        None, description="For backend redis: redis://host:port/db; sessions.redis_url when empty."
    )
    key_prefix: str = Field("vigilo:alerts:outbox:", description="For backend redis: prefix of every key.")
    snapshot_dir: Path | None = Field(None, description="Snapshots of queued alerts; <data_dir>/alert-snapshots.")
    lease_seconds: float = Field(120.0, gt=0, description="A claimed row is reclaimable after this.")
    poll_interval: float = Field(1.0, gt=0)
    batch_size: int = Field(200, ge=1, description="Most rows claimed per worker pass.")
    send_timeout: float = Field(30.0, gt=0, description="One send may take this long before it is a retry.")
    concurrency: int = Field(
        4, ge=1, le=64, description="Messages in flight at once per channel (order between them is not kept)."
    )
    digest_max_items: int = Field(20, ge=1, description="Alerts listed one by one in a digest message.")

    @model_validator(mode="after")
    def _lease_outlives_send(self) -> OutboxConfig:
        if self.lease_seconds <= self.send_timeout:
            raise ValueError("lease_seconds must be longer than send_timeout")
        return self


class ReportConfig(_Section):
    """A periodic report of alert counts and delivery, sent at a local time."""

    period: Literal["day", "week"] = "day"
    at: str = Field("08:00", description="HH:MM local time (policy.timezone).")
    weekday: Weekday = Field("mon", description="For weekly reports.")
    channels: list[str] | None = Field(None, description="Channel names; every channel when empty.")

    @field_validator("at")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if parse_hhmm(value) >= 24 * 60:
            raise ValueError("use 00:00 rather than 24:00")
        return value.strip()

    def time_of_day(self) -> dtime:
        minutes = parse_hhmm(self.at)
        return dtime(minutes // 60, minutes % 60)


class DeliveryConfig(_Section):
    """Everything the delivery layer reads, bundled for `AlertService`."""

    policy: AlertPolicyConfig = Field(default_factory=AlertPolicyConfig)
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig)
    reports: list[ReportConfig] = Field(default_factory=list)
