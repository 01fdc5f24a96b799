"""Across processes: a worker killed with SIGKILL mid-delivery, and a rate limit shared in Redis."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.alerts_delivery.conftest import Backend, delivery_config, make_service, wait_for
from tests.alerts_delivery.robot_server import RobotServer
from vigilo.alerts.outbox import IN_FLIGHT, SENT

pytestmark = pytest.mark.anyio
WORKER = Path(__file__).with_name("worker_proc.py")
REPO = Path(__file__).resolve().parents[2]


def kill_9_once_sent(child: subprocess.Popen[str], robot: RobotServer) -> None:
    """SIGKILL the worker as soon as the robot holds its first request (no shutdown code runs)."""
    try:
        assert robot.first_arrived.wait(20), "the worker never sent"
        child.send_signal(signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()


def spawn(*args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *map(str, args)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_kill_9_mid_delivery_loses_nothing(tmp_path: Path, robot: RobotServer, outbox_backend: Backend) -> None:
    robot.hang_first = 20.0  # the first send never gets its answer: the worker dies waiting
    db = tmp_path / "outbox.db"
    child = spawn(db, robot.url, "-", "k", 1, 20, 60, 2.0, 1.5, 30, *outbox_backend.worker_args())
    kill_9_once_sent(child, robot)
    outbox = outbox_backend.outbox(tmp_path)
    [row] = outbox.rows()
    assert row.state == IN_FLIGHT and row.lease_until is not None

    service = make_service(tmp_path, robot, delivery_config(), backend=outbox_backend)
    assert await service.run_once() == 0  # the dead worker's lease still holds

    async def delivered() -> bool:
        await service.run_once()
        fresh = outbox.get(row.id)
        return fresh is not None and fresh.state == SENT

    await wait_for(delivered, timeout=10)
    fresh = outbox.get(row.id)
    assert fresh is not None and fresh.attempts == 2
    assert fresh.sent_at is not None and fresh.sent_at >= row.lease_until
    assert [r.key for r in robot.received] == ["k-0", "k-0"]  # same msgUuid: the platform can dedupe
    outbox.close()
    await service.aclose()


def test_rate_limit_is_shared_across_processes_through_redis(
    tmp_path: Path, robot: RobotServer, redis_url: str
) -> None:
    limit, per = 5, 4.0
    workers = [
        spawn(tmp_path / f"{name}.db", robot.url, redis_url, name, 8, limit, per, 5, 3, 20) for name in ("a", "b")
    ]
    outputs = [w.communicate(timeout=40) for w in workers]
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
        assert "done" in out, err[-2000:]
    arrivals = sorted(r.at for r in robot.received)
    # No window of `per` seconds (less 1 s for the HTTP hop, slow on a process's first
    # connection) holds more than `limit` messages; two unshared limiters would send 2 x limit at once.
    for i, start in enumerate(arrivals):
        inside = [t for t in arrivals[i:] if t < start + per - 1.0]
        assert len(inside) <= limit, f"{len(inside)} messages within {per} s"
    texts = "\n".join(r.text for r in robot.received)
    assert all(f"{p}-{i}" in texts for p in "ab" for i in range(8))  # nothing lost: digests carry the rest
    assert len(robot.received) < 16


def test_two_workers_on_one_sqlite_outbox_claim_each_row_once(tmp_path: Path, robot: RobotServer) -> None:
    db = tmp_path / "shared.db"
    workers = [spawn(db, robot.url, "-", name, 10, 100, 60, 5, 3, 20) for name in ("p", "q")]
    outputs = [w.communicate(timeout=40) for w in workers]
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
        assert "done" in out, err[-2000:]
    keys = sorted(r.key for r in robot.received)
    assert keys == sorted(f"{p}-{i}" for p in "pq" for i in range(10))  # every alert once, none twice


def test_two_workers_on_a_redis_outbox_one_killed_deliver_each_alert_once(
    tmp_path: Path, robot: RobotServer, redis_url: str
) -> None:
    """Worker a dies by SIGKILL while the robot holds one of its sends; worker b, another process on
    the same Redis outbox, delivers its own alerts and, once a's lease ends, a's unfinished ones."""
    backend = Backend("redis", redis_url)
    robot.hang_first = 20.0
    killed = spawn(tmp_path / "a.db", robot.url, "-", "a", 8, 100, 60, 2.0, 1.5, 30, *backend.worker_args())
    kill_9_once_sent(killed, robot)
    hung = robot.received[0].key
    survivor = spawn(tmp_path / "b.db", robot.url, "-", "b", 8, 100, 60, 2.0, 1.5, 30, *backend.worker_args())
    out, err = survivor.communicate(timeout=40)
    assert survivor.returncode == 0 and "done" in out, err[-2000:]

    outbox = backend.outbox(tmp_path)
    rows = outbox.rows(limit=100)
    assert sorted(r.idempotency_key for r in rows) == sorted(f"{p}-{i}" for p in "ab" for i in range(8))
    assert all(r.state == SENT for r in rows)
    retried = {r.idempotency_key for r in rows if r.attempts == 2}  # claimed by a, sent again by b
    assert hung in retried and all(r.attempts == 1 for r in rows if r.idempotency_key not in retried)
    # Requests cut off by the kill arrive without a body (no msgUuid): the platform rejects those.
    sent = Counter(r.key for r in robot.received if r.key)
    # Every alert reached the robot under its own msgUuid; only sends whose answer a never
    # processed came a second time, with the same msgUuid, which the platform drops as a repeat:
    # each alert is shown exactly once.
    assert set(sent) == {r.idempotency_key for r in rows}
    assert {key for key, n in sent.items() if n > 1} <= retried and max(sent.values()) <= 2
    assert sent[hung] == 2
    outbox.close()
