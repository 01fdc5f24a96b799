"""Alert pipeline benchmark rows for `make bench`: alerts/s and enqueue→delivered latency.

Path measured: `AlertService.submit` (policy + SQLite outbox write) → the delivery worker (claim,
rate limiter, render) → the real DingTalk channel (HTTP, 加签 signature) → a receiver on loopback
→ `mark_sent`. Latency is the outbox's own `sent_at - created_at` per alert.

The receiver lives here rather than importing tests/fakes: the fakes are not part of the installed
package (an installed `vigilo` has no `tests`), and a benchmark that silently changes what it
measures depending on the checkout is worse than 40 lines of a minimal robot. It is healthy by
design (no faults, no platform limit): it checks the signature and answers errcode 0, so the
figure is our pipeline's cost, not a platform's. Our rate limit is raised for the run (a real
robot allows 20 messages a minute, which would measure the limit, not the pipeline).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

SECRET = "SECbench00000000000000000000000000000000000000000000000000000000"
TOKEN = "bench-robot-token"


class _Receiver:
    """A DingTalk-compatible robot endpoint: checks the access token and 加签 signature."""

    def __init__(self) -> None:
        self.accepted = 0
        self.rejected = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> _Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _check(self, path: str) -> bool:
        query = {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}
        stamp = query.get("timestamp", "")
        expected = base64.b64encode(
            hmac.new(SECRET.encode(), f"{stamp}\n{SECRET}".encode(), hashlib.sha256).digest()
        ).decode()
        return query.get("access_token") == TOKEN and hmac.compare_digest(query.get("sign", ""), expected)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                ok = receiver._check(self.path)
                with receiver._lock:
                    if ok:
                        receiver.accepted += 1
                    else:
                        receiver.rejected += 1
                body = json.dumps({"errcode": 0 if ok else 310000, "errmsg": "ok" if ok else "sign not match"})
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _measure(count: int, folder: Path, url: str, pace: float = 0.0) -> tuple[float, list[float]]:
    from vigilo.alerts.channels.dingtalk import DingTalkChannel
    from vigilo.alerts.outbox import SENT, Outbox
    from vigilo.alerts.policy import Alert
    from vigilo.alerts.ratelimit import MemoryRateLimiter
    from vigilo.alerts.service import AlertService
    from vigilo.config.alert_policy import DeliveryConfig
    from vigilo.config.model import NotificationConfig

    config = DeliveryConfig.model_validate(
        {
            "policy": {"group_wait": 0, "group_interval": 0, "group_by": ["camera"]},
            "outbox": {"poll_interval": 0.05, "send_timeout": 5, "lease_seconds": 30},
            "rate_limit": {"limits": {"dingtalk": [{"limit": 1_000_000, "per_seconds": 1.0}]}},
        }
    )
    channel = DingTalkChannel("bench", access_token=TOKEN, secret=SECRET, base_url=url, timeout=5)
    outbox = Outbox(f"sqlite:///{folder / 'bench.db'}", folder / "snapshots")
    service = AlertService({"bench": channel}, config, NotificationConfig(), outbox, MemoryRateLimiter())
    await service.start()
    started = time.perf_counter()
    ids: list[int] = []
    try:
        for i in range(count):  # one submit at a time, as events arrive; each its own group (camera)
            ids += await asyncio.to_thread(
                service.submit, Alert(title=f"bench {i}", body="1 phone", labels={"camera": f"cam-{i}"})
            )
            if pace:
                await asyncio.sleep(max(0.0, started + (i + 1) / pace - time.perf_counter()))
        while True:
            rows = await asyncio.to_thread(service.rows, None, None, count + 10)
            if sum(r.state == SENT for r in rows) >= count:
                break
            await asyncio.sleep(0.1)  # latency comes from the rows' own times; polling only costs CPU
        elapsed = time.perf_counter() - started
    finally:
        await service.aclose()
        await channel.aclose()
    latencies = [r.sent_at - r.created_at for r in rows if r.sent_at is not None]
    return count / elapsed, latencies


def run(count: int = 300, paced: int = 100, pace: float = 10.0) -> list[str]:
    """Markdown table lines (header included) for the alert pipeline on a healthy loopback robot:
    a burst of `count` alerts as fast as `submit` takes them (throughput; latency there is mostly
    queueing), then `paced` alerts at `pace` per second (the enqueue→delivered latency goal)."""
    with tempfile.TemporaryDirectory(prefix="vigilo-alert-bench-") as tmp, _Receiver() as receiver:
        (Path(tmp) / "burst").mkdir()
        (Path(tmp) / "paced").mkdir()
        rate, burst = asyncio.run(_measure(count, Path(tmp) / "burst", receiver.url))
        _, steady = asyncio.run(_measure(paced, Path(tmp) / "paced", receiver.url, pace))
        messages, rejected = receiver.accepted, receiver.rejected
    lines = [
        "| alert pipeline (submit → SQLite outbox → worker → signed DingTalk → loopback) | alerts | alerts/s "
        "| enqueue→delivered p50 ms | p99 ms | p99 ≤ 1 s |",
        "|---|---:|---:|---:|---:|---|",
    ]
    runs = (
        ("burst (as fast as submit goes)", count, f"{rate:.0f}", burst),
        (f"paced {pace:g}/s", paced, f"{pace:g}", steady),
    )
    for name, n, shown, values in runs:
        p50, p99 = _percentile(values, 0.5), _percentile(values, 0.99)
        lines.append(
            f"| {name} | {n} | {shown} | {p50 * 1000:.0f} | {p99 * 1000:.0f} | {'yes' if p99 <= 1 else 'no'} |"
        )
    lines.append(f"| messages accepted / rejected by the robot (signature checked) | {messages} / {rejected} | | | | |")
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
