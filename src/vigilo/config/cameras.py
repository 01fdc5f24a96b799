"""Configuration of stream watch: the `cameras:` and `events:` sections of `vigilo.yaml`.

`cameras.defaults` holds rules every camera starts from; each entry of `cameras.streams` overrides
any of them (nested sections merge key by key, lists replace). Coordinates are relative to the
frame: (0, 0) is the top-left corner, (1, 1) the bottom-right one.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FRAME_ZONE = "frame"  # the name of the implicit whole-frame zone when a camera has none


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


def _check_polygon(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    for x, y in points:
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(f"point ({x}, {y}) is outside the frame: coordinates are relative, 0..1")
    return points


class ZoneConfig(_Section):
    """A polygon where phones count, with its own threshold and smallest box."""

    name: str = Field(..., min_length=1)
    polygon: list[tuple[float, float]] = Field(..., min_length=3, description="[[x, y], ...] relative to the frame.")
    threshold: float | None = Field(None, ge=0.0, le=1.0, description="Score threshold; the camera's when empty.")
    min_area: float | None = Field(
        None, ge=0.0, le=1.0, description="Smallest box, as a fraction of the frame area; the camera's when empty."
    )

    _points = field_validator("polygon")(_check_polygon)


class MaskConfig(_Section):
    """A polygon where nothing counts (a poster, a screen showing phones)."""

    name: str | None = None
    polygon: list[tuple[float, float]] = Field(..., min_length=3)

    _points = field_validator("polygon")(_check_polygon)


class ScheduleWindow(_Section):
    """When watching is on. Every field given must match: `days` and/or dates, then the time of day.

    `date` is one day, `from`/`to` an inclusive range of days; `start`/`end` the time of day (end exclusive;
    an `end` earlier than `start` runs past midnight). Without `start`/`end` the whole day counts.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    days: list[Weekday] | None = None
    date: dt.date | None = None
    from_: dt.date | None = Field(None, alias="from")
    to: dt.date | None = None
    start: dt.time | None = None
    end: dt.time | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ScheduleWindow:
        if self.date is not None and (self.from_ is not None or self.to is not None):
            raise ValueError("give either `date` or `from`/`to`, not both")
        if self.from_ is not None and self.to is not None and self.to < self.from_:
            raise ValueError("`to` is before `from`")
        return self

    def matches(self, when: dt.datetime) -> bool:
        """`when` is a local time in the schedule's zone."""
        day = when.date()
        if self.days is not None and WEEKDAYS[day.weekday()] not in self.days:
            return False
        if self.date is not None and day != self.date:
            return False
        if self.from_ is not None and day < self.from_:
            return False
        if self.to is not None and day > self.to:
            return False
        start = self.start or dt.time(0, 0)
        t = when.time().replace(tzinfo=None)
        if self.end is None:
            return t >= start
        if start <= self.end:
            return start <= t < self.end
        return t >= start or t < self.end


class ScheduleConfig(_Section):
    """Watching is on inside any window (always, when there are none) and off on `except` days."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    timezone: str | None = Field(None, description="IANA name, e.g. Asia/Shanghai; the machine's zone when empty.")
    windows: list[ScheduleWindow] = Field(default_factory=list)
    except_: list[dt.date] = Field(default_factory=list, alias="except", description="Days when watching is off.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Asia/Shanghai)") from None
        return value

    def tzinfo(self) -> dt.tzinfo | None:
        return ZoneInfo(self.timezone) if self.timezone else None

    def local(self, wall: float) -> dt.datetime:
        """The wall-clock time `wall` (seconds since the epoch) in this schedule's zone."""
        return dt.datetime.fromtimestamp(wall, tz=dt.UTC).astimezone(self.tzinfo())

    def active(self, wall: float) -> bool:
        when = self.local(wall)
        if when.date() in self.except_:
            return False
        return not self.windows or any(w.matches(when) for w in self.windows)


class ConfirmConfig(_Section):
    """A phone counts once seen in `min_frames` of its last `window` sampled frames, or for `min_seconds`."""

    min_frames: int = Field(3, ge=1)
    window: int = Field(5, ge=1)
    min_seconds: float | None = Field(None, gt=0, description="Alternatively: seen for this long (seconds).")

    @model_validator(mode="after")
    def _fits(self) -> ConfirmConfig:
        if self.min_frames > self.window:
            raise ValueError("min_frames cannot exceed window")
        return self


class PersonRule(_Section):
    """Only phones overlapping a person count (a phone lying on a desk does not)."""

    enabled: bool = False
    threshold: float = Field(0.35, ge=0.0, le=1.0, description="Person score threshold.")
    min_overlap: float = Field(
        0.5, gt=0.0, le=1.0, description="Fraction of the phone box that must lie inside a person box."
    )


class EpisodeConfig(_Section):
    """How phone sightings become episodes: one start, optional updates, one end."""

    grace_seconds: float = Field(3.0, ge=0, description="An episode ends when no phone counted for this long.")
    cooldown_seconds: float = Field(
        0.0, ge=0, description="After an episode ends, no new one starts in that zone for this long."
    )
    urgent_phones: int = Field(3, ge=1, description="Episodes with at least this many phones are urgent.")
    updates: bool = Field(True, description="Emit an update when more phones appear during an episode.")
    update_interval_seconds: float | None = Field(
        None, gt=0, description="Also emit an update this often while an episode lasts."
    )


class TrackingConfig(_Section):
    """The IoU tracker that gives each phone an id."""

    iou: float = Field(0.2, gt=0.0, le=1.0, description="Smallest overlap that continues a track.")
    low_threshold: float = Field(
        0.15, ge=0.0, le=1.0, description="Weaker detections may continue a track (never start one)."
    )
    max_age_seconds: float = Field(2.0, gt=0, description="A track unseen this long is dropped.")


class ReconnectConfig(_Section):
    initial_seconds: float = Field(0.5, gt=0)
    max_seconds: float = Field(30.0, gt=0)


class CameraRules(_Section):
    """Everything a camera may override; `cameras.defaults` holds the values every camera starts from."""

    fps: float = Field(2.0, gt=0, le=60, description="Frames per second sampled for detection.")
    threshold: float | None = Field(None, ge=0.0, le=1.0, description="Phone score threshold; detector's if empty.")
    min_area: float = Field(0.0, ge=0.0, le=1.0, description="Smallest phone box, as a fraction of the frame.")
    zones: list[ZoneConfig] = Field(default_factory=list, description="No zones: the whole frame is one zone.")
    masks: list[MaskConfig] = Field(default_factory=list)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    confirm: ConfirmConfig = Field(default_factory=ConfirmConfig)
    person: PersonRule = Field(default_factory=PersonRule)
    episode: EpisodeConfig = Field(default_factory=EpisodeConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    reconnect: ReconnectConfig = Field(default_factory=ReconnectConfig)
    offline_seconds: float = Field(10.0, gt=0, description="No frame for this long: the camera is offline.")

    @field_validator("zones")
    @classmethod
    def _unique_zones(cls, zones: list[ZoneConfig]) -> list[ZoneConfig]:
        names = [z.name for z in zones]
        if len(set(names)) != len(names):
            raise ValueError("zone names must be unique")
        return zones


class CameraConfig(CameraRules):
    """One camera: where frames come from, plus any rule overriding `cameras.defaults`."""

    name: str = Field(..., min_length=1)
    source: str = Field(..., min_length=1, description="rtsp://, http(s)://, a file, a folder or a webcam index.")
    enabled: bool = True
    loop: bool = Field(False, description="Video files: start again at the end.")
    realtime: bool = Field(True, description="Video files and folders: play at their own pace, like a camera.")


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_unset=True, by_alias=True)
    return dict(value) if isinstance(value, dict) else value


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` on top of `base`: nested mappings merge key by key, anything else replaces."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


class CamerasConfig(_Section):
    """Cameras to watch. `streams` is a mapping name → camera (or a list of cameras with `name`)."""

    defaults: CameraRules = Field(default_factory=CameraRules)
    streams: dict[str, CameraConfig] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _apply_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        defaults = _as_dict(data.get("defaults") or {})
        streams = data.get("streams") or {}
        if isinstance(streams, list):
            listed: dict[str, Any] = {}
            for index, item in enumerate(streams):
                entry = _as_dict(item)
                name = entry.get("name") if isinstance(entry, dict) else None
                if not name:
                    raise ValueError(f"streams[{index}] needs a `name`")
                listed[str(name)] = entry
            streams = listed
        if not isinstance(streams, dict):
            raise ValueError("`streams` must be a mapping of name to camera, or a list of cameras")
        merged = {}
        for name, entry in streams.items():
            entry = _as_dict(entry)
            if isinstance(entry, dict):
                entry = merge(defaults, {"name": name, **entry})
            merged[name] = entry
        return {**data, "streams": merged}

    def camera(self, name: str) -> CameraConfig:
        return self.streams[name]

    def adhoc(self, source: str, name: str | None = None, **overrides: Any) -> CameraConfig:
        """A camera for `source` built on the defaults (what `vigilo watch URL` uses)."""
        data = merge(_as_dict(self.defaults), {"name": name or "cli", "source": source, **overrides})
        return CameraConfig.model_validate(data)


class EventAlertsConfig(_Section):
    """Which event changes `vigilo serve` sends through `alerts.channels` (routes, policy and grouping apply)."""

    enabled: bool = True
    started: bool = Field(True, description="One alert when a phone episode starts, with the snapshot.")
    updated: bool = Field(False, description="An alert at each episode update (more phones, or periodic).")
    ended: bool = Field(True, description="A short note when the episode ends, with its duration.")
    camera: bool = Field(True, description="Camera offline / back online.")
    link_ttl_hours: float = Field(168.0, gt=0, description="Signed snapshot links in messages stay valid this long.")
    link_secret: SecretStr | None = Field(
        None, description="Key signing snapshot links; a random one kept in <data_dir>/link-secret when empty."
    )


class ClipsConfig(_Section):
    """Short MP4 clips of each episode, made of the sampled frames (so at the camera's `fps`)."""

    enabled: bool = Field(False, description="Keep a clip per phone episode next to its snapshot.")
    before_seconds: float = Field(3.0, ge=0, le=30, description="Seconds of frames before the episode started.")
    after_seconds: float = Field(3.0, ge=0, le=30, description="Seconds of frames after the episode ended.")
    max_seconds: float = Field(
        30.0, gt=0, le=600, description="Frames after the start beyond this are not kept (long episodes)."
    )
    quality: int = Field(80, ge=30, le=100, description="JPEG quality of the frames held in memory.")


class EventsConfig(_Section):
    """Stored phone episodes and their snapshots (database: `storage.database_url`)."""

    alerts: EventAlertsConfig = Field(default_factory=EventAlertsConfig)

    retain_days: float = Field(30.0, gt=0, description="Events and snapshots older than this are deleted.")
    max_disk_mb: float = Field(1024.0, gt=0, description="Oldest snapshots go first when they take more than this.")
    cleanup_interval_seconds: float = Field(3600.0, gt=0, description="How often a watcher runs the cleanup.")
    snapshots: bool = True
    snapshot_quality: int = Field(85, ge=30, le=100)
    clips: ClipsConfig = Field(default_factory=ClipsConfig)
    snapshot_font: Path | None = Field(
        None,
        description="TrueType/OpenType font for snapshot text (camera and zone names); when empty the first "
        "CJK font found (fonts-wqy-microhei, Noto CJK), else ASCII only.",
    )
