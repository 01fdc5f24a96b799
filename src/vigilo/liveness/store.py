"""Where liveness sessions live between frames: in memory (default) or in Redis.

Both stores give the same guarantees:
- `update` is an atomic read-modify-write of one session: the callback sees the latest state and what it
  returns is written only if nobody wrote in between (memory: a lock; Redis: a compare-and-set script,
  retried). Two frames arriving together never interleave: one of them sees the other's result.
- `update` can remember strings (frame hashes) in the same atomic step, and refuses to write when one of
  them is still remembered: two sessions sent the same bytes at once cannot both accept them.
- `read` fetches what a frame's checks need (the session, failure counts, remembered strings) at once.
- Every record has a TTL.
- Failure counters (for lockouts) are sliding windows; the replay memory remembers strings for a while.

Round trips to Redis per accepted frame (`LivenessService.submit_frame`): two, `read` (one pipeline) and
`update` given the read's snapshot (one script call). The WATCH/GET/MULTI update and separate replay lookup
and memory writes it replaced took six, seven with a client IP.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
Record = dict[str, Any]
Clock = Callable[[], float]


class StoreConflict(Exception):
    """An atomic update kept losing races; the caller may retry later."""


class Remembered(Exception):
    """An update refused (nothing written) because one of the strings it was to remember still is."""

    def __init__(self, item: str) -> None:
        super().__init__(item)
        self.item = item


@dataclass(frozen=True)
class Snapshot:
    """A session as `read` found it. `raw` is the stored text: an `update` given the snapshot starts from
    it instead of reading again, and writes only if the session is still exactly that text."""

    record: Record
    raw: bytes


@dataclass(frozen=True)
class Remember:
    """Strings an `update` remembers in `namespace` as it writes (as `SessionStore.remember` would)."""

    namespace: str
    items: tuple[str, ...]
    now: float
    ttl_s: float
    limit: int = 20_000


@dataclass(frozen=True)
class FrameRead:
    """What `read` found: the session (None if missing), the failures of each key asked for, in order,
    and which of the strings asked for the namespace remembers."""

    snapshot: Snapshot | None
    failures: tuple[int, ...] = ()
    seen: frozenset[str] = field(default_factory=frozenset)


class SessionStore(ABC):
    @abstractmethod
    def create(self, session_id: str, record: Record, ttl_s: float) -> None: ...

    @abstractmethod
    def get(self, session_id: str) -> Record | None: ...

    @abstractmethod
    def read(
        self,
        session_id: str,
        *,
        failure_keys: Sequence[str] = (),
        window_s: float = 0.0,
        namespace: str | None = None,
        items: Sequence[str] = (),
        now: float = 0.0,
    ) -> FrameRead:
        """The session, `count_failures` of each of `failure_keys`, and `seen(namespace, items)`, together
        (Redis: one round trip; the parts are not one atomic snapshot)."""

    @abstractmethod
    def update(
        self,
        session_id: str,
        change: Callable[[Record], T],
        ttl_s: float,
        *,
        base: Snapshot | None = None,
        remember: Remember | None = None,
    ) -> tuple[Record | None, T]:
        """Runs `change` on the stored record (mutating it) and writes it back atomically.

        Returns the record as written and what `change` returned; `(None, change(None))` is never used:
        a missing record gives `(None, None)` without calling `change`. Exceptions from `change` abort
        without writing. `base` (from `read`) saves the store a read when the session has not changed
        since; `change` still only ever sees the latest state. With `remember`, its items are remembered
        in the same atomic step, or, when one of them is still remembered, `Remembered` is raised after
        `change` ran and nothing is written.
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

    def read(
        self,
        session_id: str,
        *,
        failure_keys: Sequence[str] = (),
        window_s: float = 0.0,
        namespace: str | None = None,
        items: Sequence[str] = (),
        now: float = 0.0,
    ) -> FrameRead:
        with self._lock:
            record = self._live(session_id)
            snapshot = Snapshot(record, self._records[session_id][1].encode()) if record is not None else None
            failures = tuple(self._count(key, now, window_s) for key in failure_keys)
            seen = frozenset(self._seen(namespace, items, now)) if namespace else frozenset()
            return FrameRead(snapshot, failures, seen)

    def update(
        self,
        session_id: str,
        change: Callable[[Record], T],
        ttl_s: float,
        *,
        base: Snapshot | None = None,
        remember: Remember | None = None,
    ) -> tuple[Record | None, T]:
        # `base` is not needed: under the lock the latest record is at hand.
        with self._lock:
            record = self._live(session_id)
            if record is None:
                return None, None  # type: ignore[return-value]
            result = change(record)
            known = self._seen(remember.namespace, remember.items, remember.now) if remember is not None else set()
            if known:
                raise Remembered(min(known))
            self._records[session_id] = (self._clock() + ttl_s, json.dumps(record))
            if remember is not None:
                self._remember(remember.namespace, remember.items, remember.now, remember.ttl_s, remember.limit)
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
            return self._count(key, now, window_s)

    def _count(self, key: str, now: float, window_s: float) -> int:
        return sum(1 for t in self._failures.get(key, []) if t > now - window_s)

    def remember(self, namespace: str, items: Iterable[str], now: float, ttl_s: float, limit: int = 20_000) -> None:
        with self._lock:
            self._remember(namespace, items, now, ttl_s, limit)

    def _remember(self, namespace: str, items: Iterable[str], now: float, ttl_s: float, limit: int) -> None:
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
            return self._seen(namespace, items, now)

    def _seen(self, namespace: str, items: Iterable[str], now: float) -> set[str]:
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


# Compare-and-set of one session, with the replay memory in the same atomic step. KEYS: the session, then
# (when remembering) the memory's sorted set. ARGV: SHA-1 of the text the caller started from, the new text,
# its TTL in ms; when remembering, then: now, the items' expiry (now + ttl), the set's TTL in s, the rank
# range end that keeps the newest `limit`, the items. Replies {status} or {status, detail}.
_CAS_SCRIPT = """
local current = redis.call('GET', KEYS[1])
if not current then return {0} end
if redis.sha1hex(current) ~= ARGV[1] then return {1} end
local remember = #KEYS > 1
if remember then
  local now = tonumber(ARGV[4])
  for i = 8, #ARGV do
    local score = redis.call('ZSCORE', KEYS[2], ARGV[i])
    if score and tonumber(score) > now then return {2, ARGV[i]} end
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
if remember then
  for i = 8, #ARGV do redis.call('ZADD', KEYS[2], ARGV[5], ARGV[i]) end
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, ARGV[7])
  redis.call('EXPIRE', KEYS[2], ARGV[6])
end
return {3}
"""
_MISSING, _CHANGED, _REMEMBERED, _WRITTEN = 0, 1, 2, 3


class RedisStore(SessionStore):
    """Redis (redis-py) by URL. Sessions are JSON strings with TTLs; updates are optimistic: the change is
    computed from a read, then a Lua script writes it only if the stored text is unchanged (SHA-1), else
    the update backs off, reads again and retries. Single instance or primary/replica; the update script
    touches the session and the replay memory together, so Redis Cluster is not supported."""

    PREFIX = "vigilo:liveness:"
    RETRIES = 50

    def __init__(self, url: str) -> None:
        import redis

        self._redis: Any = redis.Redis.from_url(url)
        self._cas: Any = self._redis.register_script(_CAS_SCRIPT)

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

    def read(
        self,
        session_id: str,
        *,
        failure_keys: Sequence[str] = (),
        window_s: float = 0.0,
        namespace: str | None = None,
        items: Sequence[str] = (),
        now: float = 0.0,
    ) -> FrameRead:
        wanted = list(items) if namespace else []
        pipe = self._redis.pipeline(transaction=False)
        pipe.get(self._key("s", session_id))
        for key in failure_keys:
            pipe.zcount(self._key("fail", key), f"({now - window_s}", "+inf")
        if wanted:
            pipe.zmscore(self._key("mem", str(namespace)), wanted)
        replies = pipe.execute()
        raw = replies[0]
        snapshot = Snapshot(json.loads(raw), raw) if raw is not None else None
        failures = tuple(int(count) for count in replies[1 : 1 + len(failure_keys)])
        scores = replies[-1] if wanted else []
        seen = frozenset(item for item, score in zip(wanted, scores, strict=True) if score is not None and score > now)
        return FrameRead(snapshot, failures, seen)

    def update(
        self,
        session_id: str,
        change: Callable[[Record], T],
        ttl_s: float,
        *,
        base: Snapshot | None = None,
        remember: Remember | None = None,
    ) -> tuple[Record | None, T]:
        key = self._key("s", session_id)
        raw: bytes | None = base.raw if base is not None else None
        for attempt in range(self.RETRIES):
            if attempt:
                # Random backoff: without it, writers that keep colliding can starve one of them past the
                # retry limit (seen with 8 threads on a loaded 2-core machine).
                time.sleep(random.uniform(0, 0.001 * min(attempt, 10)))
                raw = None
            if raw is None:
                raw = self._redis.get(key)
                if raw is None:
                    return None, None  # type: ignore[return-value]
            record: Record = json.loads(raw)  # a fresh copy: `change` mutates it
            result = change(record)
            reply = self._write_if_unchanged(key, raw, record, ttl_s, remember)
            status = int(reply[0])
            if status == _WRITTEN:
                return record, result
            if status == _MISSING:
                return None, None  # type: ignore[return-value]
            if status == _REMEMBERED:
                raise Remembered(reply[1].decode())
        raise StoreConflict(session_id)

    def _write_if_unchanged(
        self, key: str, raw: bytes, record: Record, ttl_s: float, remember: Remember | None
    ) -> list[Any]:
        keys = [key]
        args: list[Any] = [hashlib.sha1(raw).hexdigest(), json.dumps(record), self._ms(ttl_s)]
        if remember is not None and remember.items:
            keys.append(self._key("mem", remember.namespace))
            now = remember.now
            args += [repr(now), repr(now + remember.ttl_s), int(remember.ttl_s) + 1, -remember.limit - 1]
            args += list(remember.items)
        reply: list[Any] = self._cas(keys=keys, args=args)
        return reply

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
