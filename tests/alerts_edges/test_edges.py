"""Edges the other alert suites leave out: a platform that accepts the connection but never answers,
a configurable urgent threshold, platform throttles that never dead-letter an alert, and redaction
of signed snapshot links in log lines."""

from __future__ import annotations

import io
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.alerts_delivery.conftest import delivery_config, make_service
from tests.alerts_delivery.robot_server import RobotServer
from vigilo.alerts.channels.dingtalk import DingTalkChannel
from vigilo.alerts.message import AlertMessage
from vigilo.alerts.outcome import DeliveryResult, Outcome
from vigilo.alerts.policy import Alert
from vigilo.alerts.retry import decide
from vigilo.config.alert_policy import RetryConfig
from vigilo.logs import RedactingFilter
from vigilo.phone.alerting import SnapshotLinks


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts TCP connections and reads, but never answers (a hung gateway)."""
    listener = socket.create_server(("127.0.0.1", 0))
    conns: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conns.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in conns:
        conn.close()
    listener.close()


@pytest.mark.anyio
async def test_a_platform_that_never_answers_is_a_retry_not_a_send(silent_server: str) -> None:
    channel = DingTalkChannel("ding", access_token="tok-never-answers", base_url=silent_server, timeout=0.3)
    result = await channel.send(AlertMessage(title="t", body="b", idempotency_key="k"))
    assert result.outcome is Outcome.RETRY and "timed out" in result.reason
    assert "tok-never-answers" not in result.reason


@pytest.mark.anyio
async def test_urgent_threshold_is_configurable(tmp_path: Path) -> None:
    robot = RobotServer().start()
    try:
        service = make_service(tmp_path, robot, delivery_config(policy={"urgent_min_phones": 2}))
        two = Alert(title="two phones", body="b", labels={"camera": "a"}, phones=2)
        one = Alert(title="one phone", body="b", labels={"camera": "b"}, phones=1)
        assert service.policy.severity(two) == "urgent" and service.policy.severity(one) == "default"
        service.submit(two)
        service.submit(one)
        await service.run_once()
        texts = {r.text for r in robot.received}
        await service.aclose()
    finally:
        robot.stop()
    assert any("two phones" in t and "🔴" in t for t in texts)
    assert any("one phone" in t and "🔴" not in t for t in texts)


def _logged(filter_: RedactingFilter, line: str) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(filter_)
    logger = logging.getLogger(f"audit-{id(stream)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.warning(line)
    return stream.getvalue()


def test_signed_snapshot_link_is_redacted_in_an_access_log_line() -> None:
    links = SnapshotLinks("https://vigilo.example.cn", b"link-secret-0123456789")
    url = links.url(7)
    signature = url.rsplit("sig=", 1)[1]
    path = url.removeprefix("https://vigilo.example.cn")
    text = _logged(RedactingFilter(), f'203.0.113.9:5123 - "GET {path} HTTP/1.1" 200')
    assert signature not in text


def test_platform_throttles_pause_but_never_dead_letter() -> None:
    config = RetryConfig(max_attempts=3)
    throttled = DeliveryResult(Outcome.RATE_LIMITED, 410100, "robot throttled")
    for attempts in (1, 3, 12):
        decision = decide(config, throttled, attempts, block_seconds=600)
        assert (decision.action, decision.delay) == ("pause", 600)
    failed = DeliveryResult(Outcome.RETRY, -1, "system busy")
    assert decide(config, failed, 3, block_seconds=600).action == "dead"  # other failures still give up
