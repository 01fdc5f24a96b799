"""The alert bus between roles: Redis Streams with a consumer group.

Camera workers (`--role camera`) turn their events into alerts as a single process would, then add each
alert to the stream (`XADD`, trimmed to about `bus.max_len`). Notifier workers (`--role notifier`) read it
as one consumer group (`XREADGROUP`), put each alert into the durable outbox (`AlertService.submit`), and
only then acknowledge it (`XACK`). An entry whose notifier died before acknowledging is taken over by
another notifier once it has been idle `claim_idle_seconds` (`XAUTOCLAIM`).

Delivery is therefore at-least-once between bus and outbox, and the outbox makes it exactly-once towards
the platforms: an alert keeps its idempotency key through the bus, and the outbox stores one row per
(channel, key), so an entry submitted twice (a notifier killed between `submit` and `XACK`) is still one
message. Redis Streams, not a hand-made queue: ordering, consumer groups, pending-entry lists and
claiming are exactly what this needs.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict, fields
from typing import Any

from vigilo.alerts.policy import Alert
from vigilo.config import Settings
from vigilo.config.model import BusConfig

log = logging.getLogger(__name__)


class BusUnavailable(RuntimeError):
    """A role that needs the bus was started without a Redis URL."""


def bus_redis_url(settings: Settings) -> str:
    url = settings.bus.redis_url or settings.sessions.redis_url
    if not url:
        raise BusUnavailable(
            f"server.role {settings.server.role} needs Redis: set bus.redis_url or sessions.redis_url "
            "(VIGILO_SESSIONS__REDIS_URL=redis://host:6379/0)"
        )
    return url


def encode_alert(alert: Alert) -> dict[str, str]:
    data = asdict(alert)
    snapshot = data.pop("snapshot")
    return {
        "alert": json.dumps(data, ensure_ascii=False),
        "snapshot": base64.b64encode(snapshot).decode("ascii") if snapshot else "",
    }


def decode_alert(fields_: dict[str, str]) -> Alert:
    data = json.loads(fields_["alert"])
    known = {f.name for f in fields(Alert)}
    alert = Alert(**{k: v for k, v in data.items() if k in known})
    if fields_.get("snapshot"):
        alert.snapshot = base64.b64decode(fields_["snapshot"])
    return alert


class AlertBus:
    """Publishes alerts to the stream and, as a notifier, consumes them."""

    def __init__(self, redis_url: str, config: BusConfig, *, consumer: str | None = None) -> None:
        import redis

        self.config = config
        self._redis: Any = redis.Redis.from_url(redis_url, decode_responses=True)
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- camera side ----------------------------------------------------------------------------
    def publish(self, alert: Alert) -> str:
        """Adds the alert to the stream; returns the entry id."""
        entry: str = self._redis.xadd(
            self.config.stream, encode_alert(alert), maxlen=self.config.max_len, approximate=True
        )
        return entry

    # -- notifier side --------------------------------------------------------------------------
    def ensure_group(self) -> None:
        import redis

        try:
            self._redis.xgroup_create(self.config.stream, self.config.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def consume_once(self, handle: Callable[[Alert], object], block_ms: int = 1000, count: int = 20) -> int:
        """Takes over stale entries, then reads new ones; each is handled, then acknowledged. Returns how
        many were handled. An entry whose handling raises stays pending (retried after the idle time)."""
        entries = self._claim_stale(count) + self._read_new(block_ms, count)
        done = 0
        for entry_id, data in entries:
            try:
                handle(decode_alert(data))
            except Exception:
                log.exception("bus entry %s could not be handed to the outbox; it stays pending", entry_id)
                continue
            self._redis.xack(self.config.stream, self.config.group, entry_id)
            done += 1
        return done

    def _claim_stale(self, count: int) -> list[tuple[str, dict[str, str]]]:
        idle_ms = int(self.config.claim_idle_seconds * 1000)
        reply = self._redis.xautoclaim(
            self.config.stream, self.config.group, self.consumer, min_idle_time=idle_ms, start_id="0-0", count=count
        )
        claimed = [(entry_id, data) for entry_id, data in reply[1] if data]  # trimmed entries come back empty
        if claimed:
            log.warning("bus: took over %d entries left by a stopped notifier", len(claimed))
        return claimed

    def _read_new(self, block_ms: int, count: int) -> list[tuple[str, dict[str, str]]]:
        reply = self._redis.xreadgroup(
            self.config.group, self.consumer, {self.config.stream: ">"}, count=count, block=block_ms
        )
        return [(entry_id, data) for _, entries in reply or [] for entry_id, data in entries]

    def start_consuming(self, handle: Callable[[Alert], object]) -> None:
        """A daemon thread that consumes until `stop`; Redis errors are logged and retried."""
        self.ensure_group()

        def run() -> None:
            while not self._stop.is_set():
                try:
                    self.consume_once(handle)
                except Exception:
                    log.exception("bus: reading the stream failed; retrying in 1 s")
                    self._stop.wait(1.0)

        self._thread = threading.Thread(target=run, name="alert-bus", daemon=True)
        self._thread.start()

    def pending(self) -> int:
        """Entries read by some notifier and not acknowledged yet."""
        info = self._redis.xpending(self.config.stream, self.config.group)
        return int(info["pending"]) if isinstance(info, dict) else 0

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._redis.close()
