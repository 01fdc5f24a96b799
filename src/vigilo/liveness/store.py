"""Where liveness sessions live between frames: in memory (default) or in Redis.

Both stores give the same guarantees:
- `update` is an atomic read-modify-write of one session: the callback sees the latest state and what it
  returns is written only if nobody wrote in between (memory: a lock; Redis: WATCH/MULTI, retried). Two
  frames arriving together never interleave: one of them sees the other's result.
- Every record has a TTL.
- Failure counters (for lockouts) are sliding windows; the replay memory remembers strings for a while.
"""

from __future__ import annotations

import json
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")
Record = dict[str, Any]
Clock = Callable[[], float]


class StoreConflict(Exception):
    """An atomic update kept losing races; the caller may retry later."""


class SessionStore(ABC):
    @abstractmethod
    def create(self, session_id: str, record: Record, ttl_s: float) -> None: ...

    @abstractmethod
    def get(self, session_id: str) -> Record | None: ...

    @abstractmethod
    def update(self, session_id: str, change: Callable[[Record], T], ttl_s: float) -> tuple[Record | None, T]:
        """Runs `change` on the stored record (mutating it) and writes it back atomically.

        Returns the record as written and what `change` returned; `(None, change(None))` is never used:
        a missing record gives `(None, None)` without calling `change`. Exceptions from `change` abort
        without writing.
        """

    @abstractmethod
    def delete(self, session_id: str) -> None: ...

    @abstractmethod
    def add_failure(self, key: str, now: float, window_s: float) -> int:
        """Records one failure for `key`; returns the failures inside the window."""

    @abstractmethod
    def count_failures(self, key: str, now: float, window_s: float) -> int: ...

    @abstractmethod
    def remember(self, namespace: str, items: Iterable[str], now: float, ttl_s: float, limit: int = 20_000) -> None:
        """Adds strings to a namespace; each is forgotten `ttl_s` after being added. The namespace holds at
        most `limit` strings: beyond it the oldest are forgotten early."""

    @abstractmethod
    def recall(self, namespace: str, now: float) -> set[str]:
        """The strings of a namespace not yet forgotten."""

    @abstractmethod
    def seen(self, namespace: str, items: Iterable[str], now: float) -> set[str]:
        """Those of `items` the namespace still remembers."""

    @abstractmethod
    def set_alias(self, name: str, value: str, ttl_s: float) -> None: ...

    @abstractmethod
    def get_alias(self, name: str) -> str | None: ...

    def close(self) -> None:  # noqa: B027  (optional hook)
        pass


class MemoryStore(SessionStore):
    """One process only; lost on restart. A single lock keeps every operation atomic."""

    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._records: dict[str, tuple[float, str]] = {}
        self._failures: dict[str, list[float]] = {}
        self._memory: dict[str, dict[str, float]] = {}
        self._aliases: dict[str, tuple[float, str]] = {}

    def _live(self, session_id: str) -> Record | None:
        entry = self._records.get(session_id)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._records[session_id]
            return None
        record: Record = json.loads(entry[1])
        return record

    def _purge(self) -> None:
        now = self._clock()
        for key in [k for k, (expiry, _) in self._records.items() if expiry <= now]:
            del self._records[key]

    def create(self, session_id: str, record: Record, ttl_s: float) -> None:
        with self._lock:
            if len(self._records) % 256 == 0:
                self._purge()
            self._records[session_id] = (self._clock() + ttl_s, json.dumps(record))

    def get(self, session_id: str) -> Record | None:
        with self._lock:
            return self._live(session_id)

    def update(self, session_id: str, change: Callable[[Record], T], ttl_s: float) -> tuple[Record | None, T]:
        with self._lock:
            record = self._live(session_id)
            if record is None:
                return None, None  # type: ignore[return-value]
            result = change(record)
            self._records[session_id] = (self._clock() + ttl_s, json.dumps(record))
            return record, result

    def delete(self, session_id: str) -> None:
        with self._lock:
            self._records.pop(session_id, None)

    def add_failure(self, key: str, now: float, window_s: float) -> int:
        with self._lock:
            if len(self._failures) > 10_000:
                self._failures = {k: v for k, v in self._failures.items() if v and v[-1] > now - window_s}
            times = [t for t in self._failures.get(key, []) if t > now - window_s]
            times.append(now)
            self._failures[key] = times
            return len(times)

    def count_failures(self, key: str, now: float, window_s: float) -> int:
        with self._lock:
            return sum(1 for t in self._failures.get(key, []) if t > now - window_s)

    def remember(self, namespace: str, items: Iterable[str], now: float, ttl_s: float, limit: int = 20_000) -> None:
        with self._lock:
            space = self._memory.setdefault(namespace, {})
            for item in items:
                space[item] = now + ttl_s
            if len(space) > limit:
                # Forget the expired, then (in bulk, so this runs rarely) the oldest beyond 90 % of the limit.
                for item in [k for k, expiry in space.items() if expiry <= now]:
                    del space[item]
                if len(space) > limit:
                    keep = sorted(space.items(), key=lambda kv: kv[1])[-int(limit * 0.9) or -1 :]
                    self._memory[namespace] = dict(keep)

    def seen(self, namespace: str, items: Iterable[str], now: float) -> set[str]:
        with self._lock:
            space = self._memory.get(namespace, {})
            return {item for item in items if space.get(item, 0.0) > now}

    def recall(self, namespace: str, now: float) -> set[str]:
        with self._lock:
            space = self._memory.get(namespace, {})
            return {item for item, expiry in space.items() if expiry > now}

    def set_alias(self, name: str, value: str, ttl_s: float) -> None:
        with self._lock:
            now = self._clock()
            if len(self._aliases) > 10_000:
                self._aliases = {k: v for k, v in self._aliases.items() if v[0] > now}
            self._aliases[name] = (now + ttl_s, value)

    def get_alias(self, name: str) -> str | None:
        with self._lock:
            entry = self._aliases.get(name)
            if entry is None or entry[0] <= self._clock():
                return None
            return entry[1]


class RedisStore(SessionStore):
    """Redis (redis-py) by URL. Sessions are JSON strings with TTLs; updates use WATCH/MULTI and retry."""

    PREFIX = "vigilo:liveness:"
    RETRIES = 50

    def __init__(self, url: str) -> None:
        import redis

        self._redis: Any = redis.Redis.from_url(url)
        self._watch_error: type[Exception] = redis.WatchError

    def _key(self, kind: str, name: str) -> str:
        return f"{self.PREFIX}{kind}:{name}"

    @staticmethod
    def _ms(ttl_s: float) -> int:
        return max(1, int(ttl_s * 1000))

    def create(self, session_id: str, record: Record, ttl_s: float) -> None:
        self._redis.set(self._key("s", session_id), json.dumps(record), px=self._ms(ttl_s))

    def get(self, session_id: str) -> Record | None:
        raw = self._redis.get(self._key("s", session_id))
        if raw is None:
            return None
        record: Record = json.loads(raw)
        return record

    def update(self, session_id: str, change: Callable[[Record], T], ttl_s: float) -> tuple[Record | None, T]:
        key = self._key("s", session_id)
        for attempt in range(self.RETRIES):
            if attempt:
                # Random backoff: without it, writers that keep colliding can starve one of them past the
                # retry limit (seen with 8 threads on a loaded 2-core machine).
                time.sleep(random.uniform(0, 0.001 * min(attempt, 10)))
            with self._redis.pipeline() as pipe:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    if raw is None:
                        pipe.unwatch()
                        return None, None  # type: ignore[return-value]
                    record: Record = json.loads(raw)
                    result = change(record)
                    pipe.multi()
                    pipe.set(key, json.dumps(record), px=self._ms(ttl_s))
                    pipe.execute()
                    return record, result
                except self._watch_error:
                    continue
        raise StoreConflict(session_id)

    def delete(self, session_id: str) -> None:
        self._redis.delete(self._key("s", session_id))

    def add_failure(self, key: str, now: float, window_s: float) -> int:
        zkey = self._key("fail", key)
        pipe = self._redis.pipeline(transaction=True)
        pipe.zremrangebyscore(zkey, "-inf", now - window_s)
        pipe.zadd(zkey, {f"{now:.6f}:{time.perf_counter_ns()}": now})
        pipe.zcard(zkey)
        pipe.expire(zkey, int(window_s) + 1)
        return int(pipe.execute()[2])

    def count_failures(self, key: str, now: float, window_s: float) -> int:
        return int(self._redis.zcount(self._key("fail", key), f"({now - window_s}", "+inf"))

    def remember(self, namespace: str, items: Iterable[str], now: float, ttl_s: float, limit: int = 20_000) -> None:
        values = {item: now + ttl_s for item in items}
        if not values:
            return
        zkey = self._key("mem", namespace)
        pipe = self._redis.pipeline(transaction=True)
        pipe.zadd(zkey, values)
        pipe.zremrangebyscore(zkey, "-inf", now)
        pipe.zremrangebyrank(zkey, 0, -limit - 1)
        pipe.expire(zkey, int(ttl_s) + 1)
        pipe.execute()

    def recall(self, namespace: str, now: float) -> set[str]:
        raw = self._redis.zrangebyscore(self._key("mem", namespace), f"({now}", "+inf")
        return {item.decode() for item in raw}

    def seen(self, namespace: str, items: Iterable[str], now: float) -> set[str]:
        wanted = list(items)
        if not wanted:
            return set()
        scores = self._redis.zmscore(self._key("mem", namespace), wanted)
        return {item for item, score in zip(wanted, scores, strict=True) if score is not None and score > now}

    def set_alias(self, name: str, value: str, ttl_s: float) -> None:
        self._redis.set(self._key("alias", name), value, px=self._ms(ttl_s))

    def get_alias(self, name: str) -> str | None:
        raw = self._redis.get(self._key("alias", name))
        return raw.decode() if raw is not None else None

    def close(self) -> None:
        self._redis.close()


def build_store(redis_url: str | None, clock: Clock = time.time) -> SessionStore:
    return RedisStore(redis_url) if redis_url else MemoryStore(clock)
