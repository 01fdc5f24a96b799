"""What the dashboard pages show, read from the running services (cameras, events, alert ledger).

Plain functions over `vigilo.services.Services`; blocking (database reads): routers call them through a
thread. A component that cannot be built (no database, bad channel config) gives an `Unavailable`
note for its part of the page instead of an error page.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from vigilo.services import Services

T = TypeVar("T")
CHART_EVENT_LIMIT = 50_000  # events read for the charts (14 days); more than this and the oldest are left out


@dataclass(frozen=True)
class Part:
    """One part of a page: its data, or why it is missing."""

    data: Any = None
    error: str | None = None


def part(read: Callable[[], T]) -> Part:
    try:
        return Part(read())
    except Exception as exc:  # shown on the page; the stack trace stays in the server log
        return Part(None, str(exc) or type(exc).__name__)


# -- cameras --------------------------------------------------------------------------------------


def cameras(services: Services) -> list[dict[str, Any]]:
    if not services.cameras_configured():
        return []
    return [state.to_json() for state in services.camera_manager.states()]


def switch_camera(services: Services, name: str, enabled: bool) -> dict[str, Any]:
    """Enables or disables a camera (raises `UnknownCamera`); stored like the API's switch."""
    manager = services.camera_manager
    state = manager.enable(name) if enabled else manager.disable(name)
    result: dict[str, Any] = state.to_json()
    return result


# -- events ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventFilters:
    camera: str | None = None
    zone: str | None = None
    status: str | None = None
    since: dt.datetime | None = None

    def as_query(self) -> dict[str, Any]:
        return {"camera": self.camera, "zone": self.zone, "status": self.status, "since": self.since}


def events(services: Services, filters: EventFilters, limit: int = 50, offset: int = 0) -> list[Any]:
    found: list[Any] = services.event_store.query(**filters.as_query(), limit=limit, offset=offset)
    return found


def event(services: Services, event_id: int) -> Any:
    return services.event_store.get(event_id)


def camera_names(services: Services) -> list[str]:
    return sorted(services.settings.cameras.streams)


def zone_names(services: Services) -> list[str]:
    zones = {zone.name for camera in services.settings.cameras.streams.values() for zone in camera.zones}
    return sorted(zones)


# -- alerts ---------------------------------------------------------------------------------------


def alert_stats(services: Services) -> list[dict[str, Any]]:
    return [s.to_dict() for s in services.alert_service.stats()]


def dead_letters(services: Services, limit: int = 50) -> list[dict[str, Any]]:
    return [row.to_dict() for row in services.alert_service.rows("dead", None, limit)]


def retry_dead_letter(services: Services, row_id: int) -> dict[str, Any]:
    """Re-queues a dead letter (raises `OutboxError` with a stable code otherwise)."""
    row: dict[str, Any] = services.alert_service.retry(row_id).to_dict()
    return row


def silences(services: Services) -> list[dict[str, Any]]:
    return [s.to_dict() for s in services.alert_service.silences.list(include_expired=False)]


def add_silence(services: Services, matchers: str, duration: str, comment: str, user: str) -> dict[str, Any]:
    """`matchers` as `camera=room-3, zone=desk`; raises `ValueError` with a readable reason."""
    from vigilo.alerts.inbound import InboundError, InboundSilence
    from vigilo.alerts.inbound import add_silence as add
    from vigilo.alerts.silences import parse_matchers

    match = parse_matchers([item for item in matchers.replace("\n", ",").split(",") if item.strip()])
    request = InboundSilence(match=match, duration=duration.strip(), comment=comment, created_by=user[:100])
    try:
        stored: dict[str, Any] = add(services.alert_service, request).to_dict()
    except InboundError as exc:
        raise ValueError(str(exc.params.get("reason", exc.code))) from None
    return stored


def expire_silence(services: Services, silence_id: int) -> bool:
    from vigilo.alerts.inbound import InboundError
    from vigilo.alerts.inbound import expire_silence as expire

    try:
        expire(services.alert_service, silence_id)
    except InboundError:
        return False
    return True


# -- charts ---------------------------------------------------------------------------------------


@dataclass
class Series:
    camera: str
    hourly: list[tuple[str, int]] = field(default_factory=list)  # last 24 h, oldest first
    daily: list[tuple[str, int]] = field(default_factory=list)  # last 14 days, oldest first

    @property
    def total_hourly(self) -> int:
        return sum(count for _, count in self.hourly)

    @property
    def total_daily(self) -> int:
        return sum(count for _, count in self.daily)


def event_series(services: Services, now: dt.datetime | None = None, zone: str | None = None) -> list[Series]:
    """Phone events started per hour (last 24 h) and per day (last 14 days), per camera, in the server's
    local time zone; every configured camera appears, with zeros when it had nothing."""
    local_now = (now or dt.datetime.now(dt.UTC)).astimezone()
    this_hour = local_now.replace(minute=0, second=0, microsecond=0)
    today = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    hours = [this_hour - dt.timedelta(hours=i) for i in range(23, -1, -1)]
    days = [today - dt.timedelta(days=i) for i in range(13, -1, -1)]
    found = services.event_store.query(zone=zone, since=days[0], limit=CHART_EVENT_LIMIT)
    per_hour: Counter[tuple[str, dt.datetime]] = Counter()
    per_day: Counter[tuple[str, dt.datetime]] = Counter()
    for item in found:
        start = item.started_at.astimezone(local_now.tzinfo)
        per_hour[(item.camera, start.replace(minute=0, second=0, microsecond=0))] += 1
        per_day[(item.camera, start.replace(hour=0, minute=0, second=0, microsecond=0))] += 1
    names = sorted(set(camera_names(services)) | {item.camera for item in found})
    return [
        Series(
            name,
            [(h.strftime("%H:00"), per_hour[(name, h)]) for h in hours],
            [(d.strftime("%m-%d"), per_day[(name, d)]) for d in days],
        )
        for name in names
    ]


# -- liveness ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LivenessStats:
    days: list[Any]  # vigilo.liveness.outcomes.DaySummary, oldest first
    reasons: list[tuple[str, int]]

    @property
    def sessions(self) -> int:
        return sum(day.sessions for day in self.days)

    @property
    def passed(self) -> int:
        return sum(day.passed for day in self.days)

    @property
    def per_day(self) -> list[tuple[str, int]]:
        return [(day.day.strftime("%m-%d"), day.sessions) for day in self.days]


def liveness_stats(services: Services, days: int = 14) -> LivenessStats:
    """Finished liveness sessions per day (server's local time zone) and the most frequent failure reasons."""
    outcomes = services.liveness.outcomes
    if outcomes is None:
        raise RuntimeError("liveness outcomes are not stored (no database)")
    tz = dt.datetime.now().astimezone().tzinfo or dt.UTC
    summary = outcomes.daily(days, tz)
    since = dt.datetime.combine(summary[0].day, dt.time(), tzinfo=tz).timestamp()
    return LivenessStats(summary, outcomes.reasons(since))
