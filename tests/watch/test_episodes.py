"""The episode state machine: one start, updates only when more phones appear, one end after the grace period."""

from __future__ import annotations

from vigilo.config.cameras import EpisodeConfig
from vigilo.phone.episodes import EpisodeChange, EpisodeMachine
from vigilo.phone.rules import WHOLE_FRAME, Zone, ZoneObservation
from vigilo.phone.tracker import TrackedDetection
from vigilo.vision.detection import Detection

ZONE = Zone("desk", WHOLE_FRAME, 0.35, 0.0)
WALL0 = 1_800_000_000.0


def seen(n: int, since: float | None = None, score: float = 0.8) -> ZoneObservation:
    phones = [TrackedDetection(i + 1, Detection("cell phone", score, (i * 50, 0, i * 50 + 40, 80))) for i in range(n)]
    return ZoneObservation(ZONE, phones, phones, since)


def run(machine: EpisodeMachine, timeline: list[tuple[float, int]]) -> list[EpisodeChange]:
    changes: list[EpisodeChange] = []
    for t, phones in timeline:
        changes.extend(machine.observe([seen(phones, since=t - 0.5 if phones else None)], t, WALL0 + t))
    return changes


def test_one_start_and_one_end_per_episode() -> None:
    machine = EpisodeMachine("cam", EpisodeConfig(grace_seconds=1.0))
    timeline = [(t / 4, 1 if 1 <= t / 4 < 3 else 0) for t in range(24)]  # phone from 1 s to 3 s, 6 s in all
    changes = run(machine, timeline)
    assert [c.kind for c in changes] == ["started", "ended"]
    start, end = changes
    assert start.episode.started == 0.5  # backdated to the first sighting of the confirmed track
    assert start.episode.started_wall == WALL0 + 0.5
    assert end.episode.ended == 2.75 and end.episode.ended_wall == WALL0 + 2.75
    assert end.episode.duration == 2.25
    assert start.episode.key == end.episode.key
    assert start.detections and not end.detections


def test_flicker_inside_the_grace_period_is_one_episode() -> None:
    machine = EpisodeMachine("cam", EpisodeConfig(grace_seconds=1.0))
    changes = run(machine, [(0.0, 1), (0.5, 0), (1.0, 1), (1.4, 0), (2.0, 1), (3.5, 0)])
    assert [c.kind for c in changes] == ["started", "ended"]


def test_more_phones_update_and_escalate() -> None:
    machine = EpisodeMachine("cam", EpisodeConfig(grace_seconds=1.0, urgent_phones=3))
    changes = run(machine, [(0.0, 1), (0.5, 2), (1.0, 2), (1.5, 3), (2.0, 1), (3.5, 0)])
    assert [(c.kind, c.episode.phone_count, c.episode.severity) for c in changes] == [
        ("started", 1, "default"),
        ("updated", 2, "default"),
        ("updated", 3, "urgent"),
        ("ended", 3, "urgent"),
    ]
    assert changes[-1].episode.track_ids == {1, 2, 3}


def test_updates_can_be_off_or_periodic() -> None:
    quiet = EpisodeMachine("cam", EpisodeConfig(grace_seconds=1.0, updates=False))
    assert [c.kind for c in run(quiet, [(0.0, 1), (0.5, 2), (2.0, 0)])] == ["started", "ended"]
    periodic = EpisodeMachine("cam", EpisodeConfig(grace_seconds=1.0, updates=False, update_interval_seconds=1.0))
    kinds = [c.kind for c in run(periodic, [(t / 2, 1) for t in range(6)] + [(4.0, 0)])]
    assert kinds == ["started", "updated", "updated", "ended"]  # at 1.0 s and 2.0 s


def test_cooldown_swallows_a_quick_return() -> None:
    machine = EpisodeMachine("cam", EpisodeConfig(grace_seconds=0.5, cooldown_seconds=3.0))
    changes = run(machine, [(0.0, 1), (1.0, 0), (2.0, 1), (2.5, 0), (5.0, 1), (6.0, 0)])
    assert [(c.kind, c.episode.started) for c in changes] == [
        ("started", -0.5),
        ("ended", -0.5),
        ("started", 4.5),  # the return at 2.0 s was inside the cooldown: nothing
        ("ended", 4.5),
    ]


def test_tick_and_finish_end_open_episodes() -> None:
    machine = EpisodeMachine("cam", EpisodeConfig(grace_seconds=2.0))
    run(machine, [(0.0, 1)])
    assert machine.tick(1.0) == []
    assert [c.kind for c in machine.tick(2.5)] == ["ended"]
    run(machine, [(3.0, 1)])
    assert [c.kind for c in machine.finish()] == ["ended"] and machine.open == {}
