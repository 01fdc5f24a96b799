"""A digest is sealed (members, msgUuid, text) before its first send and resent unchanged.

Against the shared fake DingTalk, which drops a repeated msgUuid: a digest the robot accepted but
whose answer was lost, resent after a restart with new alerts waiting, shows once. And across a
real SIGKILL of the worker while the robot holds the digest's request.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.alerts_delivery.conftest import Backend, delivery_config, make_service, wait_for
from tests.alerts_delivery.robot_server import RobotServer
from tests.alerts_delivery.test_processes import kill_9_once_sent, spawn
from tests.fakes.dingtalk import SECRET, TOKEN, FakeDingTalk, visible_text
from vigilo.alerts.channels.dingtalk import DingTalkChannel
from vigilo.alerts.message import AlertMessage
from vigilo.alerts.outbox import DEAD, IN_FLIGHT, PENDING, SENT, NewRow, Outbox
from vigilo.alerts.policy import Alert
from vigilo.alerts.ratelimit import MemoryRateLimiter
from vigilo.alerts.service import AlertService
from vigilo.config.model import NotificationConfig

pytestmark = pytest.mark.anyio


class LosingDingTalk(FakeDingTalk):
    """Accepts every message; the answer to the first digest (a message listing several alerts)
    is lost: HTTP 500 after the robot took it."""

    def __init__(self) -> None:
        super().__init__()
        self.lost: list[dict[str, Any]] = []

    async def send(self, request: Request) -> Response:
        before = len(self.delivered)
        answer = await super().send(request)
        accepted = self.delivered[before:]
        if not self.lost and accepted and len(set(re.findall(r"ALERT-\d", visible_text(accepted[0])))) > 1:
            self.lost.append(accepted[0])
            return JSONResponse({"message": "internal error"}, status_code=500)
        return answer


@pytest.fixture
def fake() -> Iterator[LosingDingTalk]:
    server = LosingDingTalk().start()
    yield server
    server.stop()


def dingtalk_service(tmp_path: Path, fake: FakeDingTalk, backend: Backend) -> AlertService:
    config = delivery_config(
        rate_limit={"limits": {"dingtalk": [{"limit": 2, "per_seconds": 0.5}]}},
        retry={"max_attempts": 5, "base_delay": 0.3, "max_delay": 0.3, "jitter": 0.9},
    )
    channel = DingTalkChannel("ops", access_token=TOKEN, secret=SECRET, base_url=fake.url, timeout=3)
    return AlertService(
        {"ops": channel},
        config,
        NotificationConfig(),
        backend.outbox(tmp_path),
        MemoryRateLimiter(),
        silences=backend.silences(tmp_path),
    )


def submit(service: AlertService, names: list[str]) -> list[int]:
    return [service.submit(Alert(title=n, body="phone", labels={"camera": n}, key=n))[0] for n in names]


def shown_counts(bodies: list[dict[str, Any]], names: list[str]) -> Counter[str]:
    return Counter(n for body in bodies for n in names if n in visible_text(body))


async def test_lost_answer_then_restart_resends_the_same_digest(
    tmp_path: Path, fake: LosingDingTalk, outbox_backend: Backend
) -> None:
    first = [f"ALERT-{i}" for i in range(4)]
    service = dingtalk_service(tmp_path, fake, outbox_backend)
    ids = submit(service, first)
    await service.run_once()  # two slots: ALERT-0 alone, a digest of the other three (answer lost)
    [lost] = fake.lost
    digest_rows = [r for r in (service.outbox.get(i) for i in ids) if r is not None and r.digest_id is not None]
    assert [r.state for r in digest_rows] == [PENDING] * 3
    assert len({r.next_attempt_at for r in digest_rows}) == 1  # retried together, as one message
    await service.aclose()
    await service.channels["ops"].aclose()

    # A restart once the retry is due, with new alerts queued meanwhile: re-composing would mix
    # them with the digest's alerts into a new digest under a new msgUuid.
    await asyncio.sleep(max(0.0, digest_rows[0].next_attempt_at - time.time()) + 0.05)
    restarted = dingtalk_service(tmp_path, fake, outbox_backend)
    later = [f"ALERT-{i}" for i in range(4, 7)]
    ids += submit(restarted, later)

    async def all_sent() -> bool:
        await restarted.run_once()
        return all(r is not None and r.state == SENT for r in (restarted.outbox.get(i) for i in ids))

    await wait_for(all_sent, timeout=10)
    await restarted.aclose()
    await restarted.channels["ops"].aclose()

    resent = [r["body"] for r in fake.requests if r["body"].get("msgUuid") == lost["msgUuid"]]
    assert len(resent) >= 2 and all(body == lost for body in resent)  # same key, same text
    assert fake.duplicates and all(d["msgUuid"] == lost["msgUuid"] for d in fake.duplicates)
    assert shown_counts(fake.delivered, first + later) == dict.fromkeys(first + later, 1)
    keys = {r.batch_key for r in (restarted.outbox.get(i) for i in ids[1:4]) if r is not None}
    assert keys == {lost["msgUuid"]}


async def test_kill_9_during_a_digest_send_resends_it_unchanged(tmp_path: Path, robot: RobotServer) -> None:
    robot.hang_first = 20.0  # the robot takes the digest and the worker dies waiting for the answer
    db = tmp_path / "outbox.db"
    child = spawn(db, robot.url, "-", "k", 3, 1, 60, 2.0, 1.5, 30)  # one slot: the three go as one digest
    kill_9_once_sent(child, robot)
    [first] = robot.received
    assert all(f"k-{i}" in first.text for i in range(3)) and first.key.startswith("digest-")

    service = make_service(tmp_path, robot, delivery_config())
    rows = service.rows()
    assert {r.state for r in rows} == {IN_FLIGHT} and len({r.digest_id for r in rows}) == 1
    ids = [r.id for r in rows] + [
        service.submit(Alert(title=f"n-{i}", body="x", labels={"camera": f"n{i}"}))[0] for i in range(2)
    ]

    async def all_sent() -> bool:
        await service.run_once()
        return all(r is not None and r.state == SENT for r in (service.outbox.get(i) for i in ids))

    await wait_for(all_sent, timeout=15)
    await service.aclose()
    again = [r for r in robot.received[1:] if r.key == first.key]
    assert len(again) == 1 and again[0].body == first.body  # one resend, same msgUuid, same text
    others = [r for r in robot.received[1:] if r.key != first.key]
    assert sorted([n for n in ("n-0", "n-1") if n in r.text] for r in others) == [["n-0"], ["n-1"]]
    assert not any(f"k-{i}" in r.text for r in others for i in range(3))


async def test_a_dead_digest_member_retried_goes_alone(
    tmp_path: Path, robot: RobotServer, outbox_backend: Backend
) -> None:
    config = delivery_config(rate_limit={"limits": {"dingtalk": [{"limit": 1, "per_seconds": 0.2}]}})
    service = make_service(tmp_path, robot, config, backend=outbox_backend)
    robot.script.append((300005, "token is not exist"))  # permanent: the digest dies at once
    ids = [service.submit(Alert(title=f"d-{i}", body="x", labels={"camera": f"d{i}"}))[0] for i in range(3)]
    await service.run_once()
    rows = [service.outbox.get(i) for i in ids]
    assert [r.state for r in rows if r] == [DEAD] * 3 and len({r.digest_id for r in rows if r}) == 1
    retried = service.retry(ids[0])
    assert retried.state == PENDING and retried.digest_id is None

    async def sent() -> bool:
        await service.run_once()
        row = service.outbox.get(ids[0])
        return row is not None and row.state == SENT

    await wait_for(sent, timeout=5)
    last = robot.received[-1]
    assert "d-0" in last.text and "d-1" not in last.text and not last.key.startswith("digest-")
    assert [r.state for r in (service.outbox.get(i) for i in ids[1:]) if r] == [DEAD, DEAD]
    await service.aclose()


def test_an_outbox_from_before_digests_gets_the_column(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    outbox = Outbox(url, tmp_path / "s")
    with outbox.engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_alert_outbox_digest_id"))
        connection.execute(text("ALTER TABLE alert_outbox DROP COLUMN digest_id"))
    outbox.close()
    reopened = Outbox(url, tmp_path / "s")
    with reopened.engine.connect() as connection:
        columns = {row[1] for row in connection.execute(text("PRAGMA table_info(alert_outbox)"))}
    assert "digest_id" in columns
    reopened.close()


def test_a_claim_takes_a_sealed_digest_whole(tmp_path: Path, outbox_backend: Backend) -> None:
    outbox = outbox_backend.outbox(tmp_path)
    for i in range(3):
        message = AlertMessage(title=f"m-{i}", body="x", idempotency_key=f"m-{i}")
        outbox.enqueue(NewRow("ops", "d", f"m-{i}", f"g-{i}", message, due_at=0.0))
    token, rows = outbox.claim(5.0, 10)
    digest = AlertMessage(
        title="digest", body="", idempotency_key="digest-x", items=[outbox.load_message(r) for r in rows]
    )
    digest_id = outbox.seal_digest(token, rows, digest)
    assert digest_id is not None and outbox.seal_digest(token, rows, digest) is None  # sealed once
    outbox.mark_failed(token, [r.id for r in rows], dead=False, next_at=0.0, outcome="retry", code=None, reason="x")
    _, again = outbox.claim(5.0, 1)  # a limit of one row still brings the whole digest
    assert sorted(r.id for r in again) == sorted(r.id for r in rows)
    stored = outbox.load_digest(digest_id)
    assert stored is not None and [i.idempotency_key for i in stored.items] == ["m-0", "m-1", "m-2"]
    outbox.close()
