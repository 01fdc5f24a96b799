"""What the Redis outbox adds: the same ledger and report as SQL from the same history, silences
kept in SQL, the configuration's Redis URL and its error, and the warning when Redis has no AOF."""

from __future__ import annotations

import logging
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from tests.alerts_delivery.conftest import Backend, delivery_config
from tests.alerts_delivery.robot_server import RobotServer
from vigilo.alerts import ledger
from vigilo.alerts.channels.dingtalk import DingTalkChannel
from vigilo.alerts.message import AlertMessage
from vigilo.alerts.outbox import PENDING, SENT, SUPPRESSED, NewRow
from vigilo.alerts.outbox_redis import RedisOutbox
from vigilo.alerts.policy import Alert
from vigilo.alerts.ratelimit import MemoryRateLimiter
from vigilo.alerts.report import build_report
from vigilo.alerts.service import AlertService
from vigilo.config import ConfigError, load_settings
from vigilo.config.alert_policy import OUTBOX_REDIS_MISSING
from vigilo.config.model import NotificationConfig

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def scenario(folder: Path, robot: RobotServer, backend: Backend) -> tuple[Any, ...]:
    """One history, one alert per pass (so the robot's scripted answers meet known alerts)."""
    clock = Clock(1_790_000_000.0)
    channel = DingTalkChannel("ops", access_token="t", base_url=robot.url, timeout=3)
    service = AlertService(
        {"ops": channel},
        delivery_config(),
        NotificationConfig(),
        backend.outbox(folder, clock),
        MemoryRateLimiter(),
        clock=clock,
        rng=random.Random(7),
        silences=backend.silences(folder),
    )

    async def step(title: str, answer: tuple[int, str] | None = None, advance: float = 10.0, **kw: Any) -> list[int]:
        if answer is not None:
            robot.script.append(answer)
        ids = service.submit(Alert(title=title, body="x", labels={"camera": title, "zone": "A"}, **kw))
        clock.now += 2.5  # the send happens a little later: a latency to measure
        await service.run_once()
        clock.now += advance
        return ids

    [retried] = await step("gate", (-1, "system busy"))  # retried on the next pass, then sent
    await service.run_once()
    await step("dock", (300005, "token is not exist"))  # permanent: dead at once
    await step("hall", episode="e1")
    [suppressed] = service.submit(Alert(title="hall", body="again", labels={"camera": "hall"}, episode="e1"))
    clock.now += 100
    [waiting] = service.submit(Alert(title="roof", body="x", labels={"camera": "roof"}))  # never run: pending
    states = [service.outbox.get(i).state for i in (retried, suppressed, waiting)]  # type: ignore[union-attr]
    result = (
        states,
        [s.to_dict() for s in ledger.channel_stats(service.outbox)],
        [s.to_dict() for s in ledger.channel_stats(service.outbox, since=clock.now - 50)],
        build_report(service.outbox, "day", clock.now + 1, UTC).to_dict(),
    )
    await service.aclose()
    await channel.aclose()
    return result


async def test_ledger_and_report_match_across_backends(tmp_path: Path, robot: RobotServer, redis_url: str) -> None:
    on_sql = await scenario(tmp_path / "sql", robot, Backend("sql"))
    on_redis = await scenario(tmp_path / "redis", robot, Backend("redis", redis_url))
    assert on_sql == on_redis
    states, stats, recent, report = on_sql
    assert states == [SENT, SUPPRESSED, PENDING]
    [ops] = stats
    counts = (ops["sent"], ops["dead"], ops["suppressed"], ops["pending"], ops["failed"], ops["retried"])
    assert counts == (2, 1, 1, 1, 2, 2)
    assert ops["latency_p50_ms"] == 2500.0 and ops["latency_p99_ms"] > 2500.0  # "gate" waited for its retry
    assert [(s["channel"], s["pending"], s["sent"]) for s in recent] == [("ops", 1, 0)]
    assert report["total"] == 5 and report["suppressed"] == 1 and report["channels"][0]["dead"] == 1
    assert {c["camera"] for c in report["by_camera"]} == {"gate", "dock", "hall", "roof"}


def test_build_puts_the_outbox_in_redis_and_silences_in_sql(tmp_path: Path, redis_url: str) -> None:
    config = tmp_path / "vigilo.yaml"
    prefix = f"test:build:{tmp_path.name}:"
    data = {
        "storage": {"data_dir": str(tmp_path / "var")},
        "sessions": {"redis_url": redis_url},
        "alerts": {"outbox": {"backend": "redis", "key_prefix": prefix}},
    }
    config.write_text(yaml.safe_dump(data))
    service = AlertService.from_settings(load_settings(config, env_file=None), {})
    assert isinstance(service.outbox, RedisOutbox) and service.outbox.prefix == prefix
    added = service.silences.add({"camera": "gate"}, 600, "maintenance")
    service.close()

    again = AlertService.from_settings(load_settings(config, env_file=None), {})
    assert [s.id for s in again.silences.list()] == [added.id]  # kept in the SQL database
    assert (tmp_path / "var").is_dir() and not hasattr(again.outbox, "engine")
    message = AlertMessage(title="t", body="b", idempotency_key="k")
    row_id = again.outbox.enqueue(NewRow("ops", "d", "k", "g", message, due_at=0.0))
    client = redis.Redis.from_url(redis_url)
    assert client.hget(f"{prefix}row:{row_id}", "idempotency_key") == b"k"  # under the configured prefix
    client.close()
    again.close()


def test_redis_backend_without_a_url_is_one_readable_error(tmp_path: Path) -> None:
    config = tmp_path / "vigilo.yaml"
    config.write_text(yaml.safe_dump({"alerts": {"outbox": {"backend": "redis"}}}))
    with pytest.raises(ConfigError) as error:
        load_settings(config, env_file=None)
    assert OUTBOX_REDIS_MISSING in str(error.value) and "\n" not in str(error.value)
    config.write_text(yaml.safe_dump({"alerts": {"outbox": {"backend": "redis", "redis_url": "redis://h:1/0"}}}))
    assert load_settings(config, env_file=None).alerts.outbox.redis_url == "redis://h:1/0"


def test_warns_when_redis_keeps_no_append_only_file(
    tmp_path: Path, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = redis.Redis.from_url(redis_url)
    assert client.config_get("appendonly")["appendonly"] == "no"  # the test server: no AOF
    with caplog.at_level(logging.WARNING, logger="vigilo.alerts.outbox_redis"):
        outbox = RedisOutbox(redis_url, tmp_path, f"test:aof:{tmp_path.name}:")
    assert any("appendonly" in r.getMessage() for r in caplog.records)
    client.config_set("appendonly", "yes")
    try:
        assert outbox.warn_if_not_durable() is True
    finally:
        client.config_set("appendonly", "no")
        client.close()
        outbox.close()


def new_row(key: str, group: str = "g", episode: str | None = None, due: float = 0.0) -> NewRow:
    message = AlertMessage(title=key, body="x", idempotency_key=key)
    return NewRow("ops", "d", key, group, message, due_at=due, episode=episode)


def test_a_claim_that_lost_its_lease_changes_nothing(tmp_path: Path, outbox_backend: Backend) -> None:
    clock = Clock(1000.0)
    outbox = outbox_backend.outbox(tmp_path, clock)
    first = outbox.enqueue(new_row("k"))
    assert outbox.enqueue(new_row("k")) == first  # the unique (channel, idempotency key)
    stale, [row] = outbox.claim(5.0, 10)
    assert outbox.claim(5.0, 10)[1] == []  # held: nobody else gets it
    clock.now += 6  # the lease ran out: another worker takes the row
    fresh, [again] = outbox.claim(5.0, 10)
    assert again.id == row.id and again.attempts == 2 and again.claim_token == fresh
    assert outbox.mark_sent(stale, [row], "b", "0") == 0
    assert outbox.mark_failed(stale, [row.id], dead=True, next_at=0, outcome="x", code=None, reason="r") == 0
    assert outbox.defer(stale, [row.id], 0, "r") == 0 and outbox.extend_lease(stale, [row.id], 9e9) == 0
    assert outbox.defer(fresh, [row.id], clock.now + 30, "wait") == 1
    held = outbox.get(row.id)
    assert held is not None and (held.state, held.attempts, held.claim_token) == (PENDING, 1, None)
    assert held.last_reason == "wait" and held.next_attempt_at == clock.now + 30
    outbox.close()


def test_claims_from_threads_take_each_row_once(tmp_path: Path, outbox_backend: Backend) -> None:
    outbox = outbox_backend.outbox(tmp_path)
    ids = {outbox.enqueue(new_row(f"k{i}", f"g{i}")) for i in range(120)}

    def drain(_: int) -> list[int]:
        taken: list[int] = []
        while True:
            token, rows = outbox.claim(60.0, 7)
            if not rows:
                return taken
            taken += [r.id for r in rows]
            outbox.mark_sent(token, rows, "b", None)

    with ThreadPoolExecutor(4) as pool:
        claimed = [row_id for part in pool.map(drain, range(4)) for row_id in part]
    assert sorted(claimed) == sorted(ids)  # every row, none twice
    assert {r.state for r in outbox.rows(limit=500)} == {SENT}
    outbox.close()


def test_group_timing_and_episodes(tmp_path: Path, outbox_backend: Backend) -> None:
    clock = Clock(1000.0)
    outbox = outbox_backend.outbox(tmp_path, clock)
    assert outbox.group_due_at("ops", "gate", 5.0, 60.0) == 1005.0  # a new group waits group_wait
    outbox.enqueue(new_row("a", "gate", "ep", due=1005.0))
    clock.now = 1002.0
    assert outbox.group_due_at("ops", "gate", 5.0, 60.0) == 1005.0  # joins the queued one
    assert outbox.episode_active("ops", "ep", since=0.0) and not outbox.episode_active("ops", "other", 0.0)
    clock.now = 1006.0
    token, rows = outbox.claim(30.0, 10)
    outbox.mark_sent(token, rows, "b", None)
    assert outbox.group_due_at("ops", "gate", 5.0, 60.0) == 1066.0  # group_interval after the last send
    assert outbox.episode_active("ops", "ep", since=1000.0) and not outbox.episode_active("ops", "ep", 1007.0)
    clock.now = 1070.0
    assert outbox.group_due_at("ops", "gate", 5.0, 60.0) == 1075.0
    outbox.close()


def test_purge_drops_finished_rows_and_unused_digests(tmp_path: Path, outbox_backend: Backend) -> None:
    clock = Clock(1000.0)
    outbox = outbox_backend.outbox(tmp_path, clock)
    ids = [outbox.enqueue(new_row(f"k{i}", f"g{i}")) for i in range(3)]
    token, rows = outbox.claim(30.0, 2)
    digest = AlertMessage(title="d", body="", idempotency_key="digest-1", items=[outbox.load_message(r) for r in rows])
    digest_id = outbox.seal_digest(token, rows, digest)
    assert digest_id is not None and [m.id for m in outbox.digest_members(digest_id)] == ids[:2]
    outbox.mark_sent(token, rows, "digest-1", None)
    clock.now = 2000.0
    outbox.enqueue(new_row("late"))
    assert outbox.purge(1500.0) == 2  # the pending row and the newer one stay
    assert outbox.load_digest(digest_id) is None and outbox.digest_members(digest_id) == []
    assert sorted(r.idempotency_key for r in outbox.rows()) == ["k2", "late"]
    assert outbox.enqueue(new_row("k0")) not in ids  # the unique key went with the row
    outbox.close()
