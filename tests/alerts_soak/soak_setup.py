"""What the soak test's parent and its worker process share: the fake robot's knobs and one
AlertService built the same way in both (real outbox, real Redis limiter, real DingTalk channels).

Rate limits, raised for the soak (documented in docs/alerts-delivery.md, "Soak test"): the fake
robots allow FAKE_LIMIT messages per FAKE_PER seconds each (the real platform: 20 per 60 s, which
would make 1,000 alerts take an hour). Our limiter is configured at the same count over a window
MARGIN seconds longer, the margin a deployment keeps for network jitter: a send counted at our end
at t reaches the robot a little later, so equal windows could overrun by one message at an edge.
"""

from __future__ import annotations

from pathlib import Path

from vigilo.alerts.channels.dingtalk import DingTalkChannel
from vigilo.alerts.outbox import Outbox
from vigilo.alerts.outbox_redis import RedisOutbox
from vigilo.alerts.ratelimit import build_rate_limiter
from vigilo.alerts.service import AlertService
from vigilo.alerts.silences import SilenceStore
from vigilo.config.alert_policy import DeliveryConfig
from vigilo.config.model import NotificationConfig
from vigilo.db import make_engine

ROBOTS = 4  # destinations, each with its own token and limit
FAKE_LIMIT, FAKE_PER, MARGIN = 25, 1.0, 0.25
SEND_TIMEOUT = 0.6
SECRET = "SECsoak000000000000000000000000000000000000000000000000000000000"


def token(i: int) -> str:
    return f"soak-robot-token-{i:02d}"


def build_service(db: Path, fake_url: str, redis_url: str, backend: str = "sql") -> AlertService:
    """`backend` "sql": the outbox in the SQLite file `db`; "redis": in `redis_url` (silences in `db`)."""
    config = DeliveryConfig.model_validate(
        {
            "policy": {
                "group_wait": 0,
                "group_interval": 0,
                "group_by": ["camera"],
                "routes": [{"match": {"robot": str(i)}, "channels": [f"r{i}"]} for i in range(ROBOTS)],
            },
            "outbox": {
                "poll_interval": 0.05,
                "lease_seconds": 2.0,
                "send_timeout": SEND_TIMEOUT,
                "batch_size": 80,
                "digest_max_items": 1000,
            },
            "retry": {"max_attempts": 12, "base_delay": 0.05, "factor": 2, "max_delay": 0.5, "jitter": 0.5},
            "rate_limit": {
                "limits": {"dingtalk": [{"limit": FAKE_LIMIT, "per_seconds": FAKE_PER + MARGIN}]},
                "key_prefix": f"soak:{db.parent.name}:",
            },
        }
    )
    channels = {
        f"r{i}": DingTalkChannel(f"r{i}", access_token=token(i), secret=SECRET, base_url=fake_url, timeout=5)
        for i in range(ROBOTS)
    }
    limiter = build_rate_limiter(redis_url, config.rate_limit.key_prefix)
    if backend == "redis":
        outbox = RedisOutbox(redis_url, db.parent / "snapshots", f"soak:{db.parent.name}:outbox:")
        silences = SilenceStore(make_engine(f"sqlite:///{db}"))
        return AlertService(channels, config, NotificationConfig(), outbox, limiter, silences=silences)
    sql_outbox = Outbox(f"sqlite:///{db}", db.parent / "snapshots")
    return AlertService(channels, config, NotificationConfig(), sql_outbox, limiter)
