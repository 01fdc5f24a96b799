"""A delivery worker in its own process, for the kill -9 and the shared-Redis tests.

usage: worker_proc.py DB_PATH ROBOT_URL REDIS_URL|- PREFIX COUNT LIMIT PER_SECONDS LEASE SEND_TIMEOUT RUN_SECONDS
                      [OUTBOX_REDIS_URL KEY_PREFIX]
Submits COUNT alerts (distinct cameras, keys PREFIX-i), runs the worker for at most RUN_SECONDS
or until every row in the outbox (its own and other workers') is sent, and prints "done" on success.
REDIS_URL is the rate limiter's ("-": in memory). With OUTBOX_REDIS_URL the outbox is in Redis under
KEY_PREFIX (the silences in the SQLite file DB_PATH); otherwise it is the SQLite file DB_PATH.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from vigilo.alerts.channels.dingtalk import DingTalkChannel
from vigilo.alerts.outbox import SENT, Outbox
from vigilo.alerts.outbox_redis import RedisOutbox
from vigilo.alerts.policy import Alert
from vigilo.alerts.ratelimit import build_rate_limiter
from vigilo.alerts.service import AlertService
from vigilo.alerts.silences import SilenceStore
from vigilo.config.alert_policy import DeliveryConfig
from vigilo.config.model import NotificationConfig
from vigilo.db import make_engine


def open_outbox(db: Path, redis_outbox: list[str]) -> tuple[Outbox | RedisOutbox, SilenceStore | None]:
    if not redis_outbox:
        return Outbox(f"sqlite:///{db}", db.parent / "snapshots"), None
    url, key_prefix = redis_outbox
    silences = SilenceStore(make_engine(f"sqlite:///{db}"))
    return RedisOutbox(url, db.parent / "snapshots", key_prefix), silences


async def main(argv: list[str]) -> int:
    db, url, redis, prefix, count, limit, per, lease, send_timeout, run_for = argv[:10]
    config = DeliveryConfig.model_validate(
        {
            "policy": {"group_wait": 0, "group_interval": 0, "group_by": ["camera"]},
            "outbox": {"poll_interval": 0.02, "lease_seconds": float(lease), "send_timeout": float(send_timeout)},
            "retry": {"max_attempts": 5, "base_delay": 0.05},
            "rate_limit": {"limits": {"dingtalk": [{"limit": int(limit), "per_seconds": float(per)}]}},
        }
    )
    channel = DingTalkChannel("ops", access_token="shared-robot-token", base_url=url, timeout=30)
    outbox, silences = open_outbox(Path(db), argv[10:])
    limiter = build_rate_limiter(None if redis == "-" else redis)
    service = AlertService({"ops": channel}, config, NotificationConfig(), outbox, limiter, silences=silences)
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
        rows = [outbox.get(i) for i in ids] + outbox.rows(limit=10_000)
        if all(r is not None and r.state == SENT for r in rows):
            print("done", flush=True)
            break
        await asyncio.sleep(0.05)
    await service.aclose()
    await channel.aclose()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
