"""A delivery worker in its own process, for the kill -9 and the shared-Redis tests.

usage: worker_proc.py DB_PATH ROBOT_URL REDIS_URL|- PREFIX COUNT LIMIT PER_SECONDS LEASE SEND_TIMEOUT RUN_SECONDS
Submits COUNT alerts (distinct cameras, keys PREFIX-i), runs the worker for at most RUN_SECONDS
or until all of its rows are sent, and prints "done" on success.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from vigilo.alerts.channels.dingtalk import DingTalkChannel
from vigilo.alerts.outbox import SENT, Outbox
from vigilo.alerts.policy import Alert
from vigilo.alerts.ratelimit import build_rate_limiter
from vigilo.alerts.service import AlertService
from vigilo.config.alert_policy import DeliveryConfig
from vigilo.config.model import NotificationConfig


async def main(argv: list[str]) -> int:
    db, url, redis, prefix, count, limit, per, lease, send_timeout, run_for = argv
    config = DeliveryConfig.model_validate(
        {
            "policy": {"group_wait": 0, "group_interval": 0, "group_by": ["camera"]},
            "outbox": {"poll_interval": 0.02, "lease_seconds": float(lease), "send_timeout": float(send_timeout)},
            "retry": {"max_attempts": 5, "base_delay": 0.05},
            "rate_limit": {"limits": {"dingtalk": [{"limit": int(limit), "per_seconds": float(per)}]}},
        }
    )
    channel = DingTalkChannel("ops", access_token="shared-robot-token", base_url=url, timeout=30)
    outbox = Outbox(f"sqlite:///{db}", Path(db).parent / "snapshots")
    limiter = build_rate_limiter(None if redis == "-" else redis)
    service = AlertService({"ops": channel}, config, NotificationConfig(), outbox, limiter)
    ids = [
        service.submit(
            Alert(title=f"{prefix}-{i}", body="phone", labels={"camera": f"{prefix}-{i}"}, key=f"{prefix}-{i}")
        )[0]
        for i in range(int(count))
    ]
    print("submitted", flush=True)
    await service.start()
    deadline = time.monotonic() + float(run_for)
    while time.monotonic() < deadline:
        rows = [outbox.get(i) for i in ids]
        if all(r is not None and r.state == SENT for r in rows):
            print("done", flush=True)
            break
        await asyncio.sleep(0.05)
    await service.aclose()
    await channel.aclose()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
