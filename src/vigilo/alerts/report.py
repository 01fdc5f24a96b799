"""Daily and weekly reports from the outbox ledger: alerts per camera, zone and severity, and
delivery per channel. A report is an `AlertMessage` (kind "report") rendered by the report
templates and delivered through the outbox like an alert, once per channel and period."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, time, timedelta, tzinfo
from typing import Any, Literal, Protocol

from vigilo.alerts.ledger import ChannelStats, percentile
from vigilo.alerts.message import AlertMessage
from vigilo.alerts.outbox import DEAD, IN_FLIGHT, PENDING, SENT, SUPPRESSED, OutboxRecord

Period = Literal["day", "week"]
PERIOD_DAYS = {"day": 1, "week": 7}
NOT_ALERTS = ("report", "test")  # rows of these kinds are not counted
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass
class ReportData:
    period: str
    start: str  # local "YYYY-MM-DD HH:MM"
    end: str
    start_date: str
    end_date: str
    total: int = 0
    suppressed: int = 0
    by_severity: dict[str, int] = field(default_factory=lambda: {"default": 0, "urgent": 0})
    by_camera: list[dict[str, Any]] = field(default_factory=list)
    by_zone: list[dict[str, Any]] = field(default_factory=list)
    channels: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def sample(cls) -> ReportData:
        return cls(
            period="day",
            start="2026-11-22 08:00",
            end="2026-11-23 08:00",
            start_date="2026-11-22",
            end_date="2026-11-23",
            total=3,
            suppressed=1,
            by_severity={"default": 2, "urgent": 1},
            by_camera=[{"camera": "考场 3", "count": 3}],
            by_zone=[{"camera": "考场 3", "zone": "A 区", "count": 3}],
            channels=[ChannelStats("ops", sent=3, latency_p50_ms=800.0).to_dict()],
        )


def _label(labels: dict[str, str], *names: str) -> str:
    return next((labels[n] for n in names if labels.get(n)), "-")


def _kind(row: OutboxRecord) -> str:
    return str((json.loads(row.payload).get("labels") or {}).get("kind", ""))


class ReportSource(Protocol):
    """What a report reads from an outbox, whatever its backend."""

    def rows_created(self, start: float, end: float) -> list[OutboxRecord]: ...


def _channel_stats(rows: list[OutboxRecord]) -> list[dict[str, Any]]:
    found: dict[str, ChannelStats] = {}
    latencies: dict[str, list[float]] = {}
    fields = {SENT: "sent", PENDING: "pending", IN_FLIGHT: "in_flight", DEAD: "dead", SUPPRESSED: "suppressed"}
    for row in rows:
        stats = found.setdefault(row.channel, ChannelStats(row.channel))
        name = fields.get(row.state, "pending")
        setattr(stats, name, getattr(stats, name) + 1)
        stats.failed += row.failures
        stats.retried += 1 if row.failures else 0
        if row.state == SENT and row.latency_ms is not None:
            latencies.setdefault(row.channel, []).append(float(row.latency_ms))
    for name, stats in found.items():
        ordered = sorted(latencies.get(name, []))
        stats.latency_p50_ms = percentile(ordered, 0.5)
        stats.latency_p99_ms = percentile(ordered, 0.99)
        stats.pending += stats.in_flight
    return [found[n].to_dict() for n in sorted(found)]


def build_report(outbox: ReportSource, period: Period, end: float, tz: tzinfo | None) -> ReportData:
    """Counts over [end - period, end). An alert sent to several channels counts once."""
    start = end - PERIOD_DAYS[period] * 86400.0
    rows = [r for r in outbox.rows_created(start, end) if _kind(r) not in NOT_ALERTS]
    alerts: dict[str, dict[str, str]] = {}
    delivered: set[str] = set()
    for row in rows:
        alerts.setdefault(row.idempotency_key, json.loads(row.payload).get("labels") or {})
        if row.state != SUPPRESSED:
            delivered.add(row.idempotency_key)
    cameras: Counter[str] = Counter()
    zones: Counter[tuple[str, str]] = Counter()
    severities: Counter[str] = Counter({"default": 0, "urgent": 0})
    for labels in alerts.values():
        camera = _label(labels, "camera_name", "camera")
        cameras[camera] += 1
        zones[(camera, _label(labels, "zone_name", "zone"))] += 1
        severities[labels.get("severity", "default")] += 1
    first = datetime.fromtimestamp(start, tz).astimezone(tz)
    last = datetime.fromtimestamp(end, tz).astimezone(tz)
    return ReportData(
        period=period,
        start=first.strftime("%Y-%m-%d %H:%M"),
        end=last.strftime("%Y-%m-%d %H:%M"),
        start_date=first.strftime("%Y-%m-%d"),
        end_date=(last - timedelta(seconds=1)).strftime("%Y-%m-%d"),
        total=len(alerts),
        suppressed=len(set(alerts) - delivered),
        by_severity=dict(severities),
        by_camera=[{"camera": c, "count": n} for c, n in sorted(cameras.items(), key=lambda kv: (-kv[1], kv[0]))],
        by_zone=[
            {"camera": c, "zone": z, "count": n} for (c, z), n in sorted(zones.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        channels=_channel_stats(rows),
    )


def report_message(data: ReportData, key: str) -> AlertMessage:
    """The report as a message; the templates under `<locale>/report/` render it."""
    body = f"{data.start} - {data.end}: {data.total} alerts"
    return AlertMessage(
        title=f"Vigilo {data.period} report",
        body=body,
        labels={"kind": "report", "period": data.period},
        facts={"report": data.to_dict()},
        idempotency_key=key,
        body_format="markdown",
    )


def last_slot(now: float, at: time, period: Period, weekday: str, tz: tzinfo | None) -> datetime:
    """The latest scheduled report time at or before `now` (local `at`, on `weekday` for weekly)."""
    local = datetime.fromtimestamp(now, tz).astimezone(tz)
    slot = datetime.combine(local.date(), at, tzinfo=local.tzinfo if tz is None else tz)
    if slot > local:
        slot -= timedelta(days=1)
    if period == "week":
        back = (slot.weekday() - WEEKDAYS.index(weekday)) % 7
        slot -= timedelta(days=back)
    return slot


def slot_key(period: Period, slot: datetime) -> str:
    return f"report-{period}-{slot.strftime('%Y%m%dT%H%M')}"
