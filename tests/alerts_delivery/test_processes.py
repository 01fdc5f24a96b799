"""Across processes: a worker killed with SIGKILL mid-delivery, and a rate limit shared in Redis."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.alerts_delivery.conftest import delivery_config, make_service, wait_for
from tests.alerts_delivery.robot_server import RobotServer
from vigilo.alerts.outbox import IN_FLIGHT, SENT, Outbox

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


async def test_kill_9_mid_delivery_loses_nothing(tmp_path: Path, robot: RobotServer) -> None:
    robot.hang_first = 20.0  # the first send never gets its answer: the worker dies waiting
    db = tmp_path / "outbox.db"
    child = spawn(db, robot.url, "-", "k", 1, 20, 60, 2.0, 1.5, 30)
    kill_9_once_sent(child, robot)
    outbox = Outbox(f"sqlite:///{db}", tmp_path / "snapshots")
    [row] = outbox.rows()
    assert row.state == IN_FLIGHT and row.lease_until is not None

    service = make_service(tmp_path, robot, delivery_config())
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
