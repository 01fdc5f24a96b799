"""Phone episodes per zone: one start when confirmation holds, optional updates, one end after a grace period.

Times come in pairs: `monotonic` seconds for durations and the grace period, `wall` (seconds since
the epoch) for what is stored and shown. Never one event per frame: a zone emits `started` once,
`updated` only when more phones appear (or at `update_interval_seconds`), and `ended` once.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from vigilo.config.cameras import EpisodeConfig
from vigilo.phone.rules import ZoneObservation
from vigilo.phone.tracker import TrackedDetection

Severity = Literal["default", "urgent"]
ChangeKind = Literal["started", "updated", "ended"]


@dataclass
class Episode:
    camera: str
    zone: str
    started: float  # monotonic
    started_wall: float
    last_seen: float
    last_seen_wall: float
    peak_score: float
    phone_count: int  # the most phones confirmed at once
    track_ids: set[int] = field(default_factory=set)
    severity: Severity = "default"
    ended: float | None = None
    ended_wall: float | None = None
    updates: int = 0
    last_update: float = 0.0
    key: str = field(default_factory=lambda: uuid.uuid4().hex)  # stable id of this episode

    @property
    def duration(self) -> float:
        end = self.ended if self.ended is not None else self.last_seen
        return max(0.0, end - self.started)


@dataclass(frozen=True)
class EpisodeChange:
    kind: ChangeKind
    episode: Episode  # a copy, as it was at this change
    detections: tuple[TrackedDetection, ...] = ()  # the confirmed phones of the frame (none for `ended`)


class EpisodeMachine:
    """Turns per-frame zone observations of one camera into episode changes."""

    def __init__(self, camera: str, config: EpisodeConfig) -> None:
        self.camera = camera
        self.config = config
        self.open: dict[str, Episode] = {}
        self._last_end: dict[str, float] = {}

    def observe(self, observations: Sequence[ZoneObservation], now: float, wall: float) -> list[EpisodeChange]:
        changes: list[EpisodeChange] = []
        for obs in observations:
            name = obs.zone.name
            episode = self.open.get(name)
            if obs.confirmed:
                if episode is None:
                    started = self._start(obs, now, wall)
                    if started is not None:
                        changes.append(started)
                else:
                    changes.extend(self._continue(episode, obs, now, wall))
        changes.extend(self.tick(now))
        return changes

    def tick(self, now: float) -> list[EpisodeChange]:
        """Ends every episode whose phones have been gone for the grace period."""
        grace = self.config.grace_seconds
        return [self._end(name) for name, ep in list(self.open.items()) if now - ep.last_seen >= grace]

    def finish(self) -> list[EpisodeChange]:
        """Ends every open episode now (the source ended or the watcher stops)."""
        return [self._end(name) for name in list(self.open)]

    def severity(self, phones: int) -> Severity:
        return "urgent" if phones >= self.config.urgent_phones else "default"

    def _start(self, obs: ZoneObservation, now: float, wall: float) -> EpisodeChange | None:
        name = obs.zone.name
        last_end = self._last_end.get(name)
        if last_end is not None and now - last_end < self.config.cooldown_seconds:
            return None
        since = obs.since if obs.since is not None else now
        count = len(obs.confirmed)
        episode = Episode(
            camera=self.camera,
            zone=name,
            started=since,
            started_wall=wall - (now - since),
            last_seen=now,
            last_seen_wall=wall,
            peak_score=max(t.detection.score for t in obs.confirmed),
            phone_count=count,
            track_ids={t.track_id for t in obs.confirmed},
            severity=self.severity(count),
            last_update=now,
        )
        self.open[name] = episode
        return EpisodeChange("started", _copy(episode), tuple(obs.confirmed))

    def _continue(self, episode: Episode, obs: ZoneObservation, now: float, wall: float) -> list[EpisodeChange]:
        count = len(obs.confirmed)
        more = count > episode.phone_count
        episode.last_seen, episode.last_seen_wall = now, wall
        episode.peak_score = max(episode.peak_score, *(t.detection.score for t in obs.confirmed))
        episode.track_ids.update(t.track_id for t in obs.confirmed)
        episode.phone_count = max(episode.phone_count, count)
        episode.severity = self.severity(episode.phone_count)
        interval = self.config.update_interval_seconds
        due = interval is not None and now - episode.last_update >= interval
        if (more and self.config.updates) or due:
            episode.updates += 1
            episode.last_update = now
            return [EpisodeChange("updated", _copy(episode), tuple(obs.confirmed))]
        return []

    def _end(self, zone: str) -> EpisodeChange:
        episode = self.open.pop(zone)
        episode.ended, episode.ended_wall = episode.last_seen, episode.last_seen_wall
        self._last_end[zone] = episode.last_seen
        return EpisodeChange("ended", episode)


def _copy(episode: Episode) -> Episode:
    return dataclasses.replace(episode, track_ids=set(episode.track_ids))
