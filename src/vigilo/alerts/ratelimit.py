"""Per-destination rate limits (sliding windows) and platform-imposed pauses.

In-process by default; `RedisRateLimiter` shares the windows across processes and hosts (one
sorted set per destination, checked and updated atomically by a Lua script on Redis' clock).
"""

from __future__ import annotations

import abc
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence

from vigilo.config.alert_policy import RateWindow


class RateLimiter(abc.ABC):
    @abc.abstractmethod
    async def acquire(self, key: str, windows: Sequence[RateWindow]) -> float:
        """Takes a slot: 0.0 when granted, else the seconds until one may be free (nothing taken)."""

    @abc.abstractmethod
    async def available(self, key: str, windows: Sequence[RateWindow]) -> int:
        """Slots free right now (0 while the destination is paused)."""

    @abc.abstractmethod
    async def wait_time(self, key: str, windows: Sequence[RateWindow]) -> float:
        """Seconds until a slot may be free (0.0 when one is free now); takes nothing."""

    @abc.abstractmethod
    async def block(self, key: str, seconds: float) -> None:
        """Pauses the destination, e.g. DingTalk's 10-minute throttle."""

    async def close(self) -> None:  # noqa: B027  (optional for implementations)
        """Releases connections."""


class MemoryRateLimiter(RateLimiter):
    """One process only: the windows live in this object."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._sent: dict[str, deque[float]] = {}
        self._blocked_until: dict[str, float] = {}

    def _wait(self, key: str, windows: Sequence[RateWindow], now: float) -> float:
        wait = max(0.0, self._blocked_until.get(key, 0.0) - now)
        sent = self._sent.setdefault(key, deque())
        longest = max((w.per_seconds for w in windows), default=0.0)
        while sent and sent[0] <= now - longest:
            sent.popleft()
        for window in windows:
            inside = [t for t in sent if t > now - window.per_seconds]
            if len(inside) >= window.limit:
                wait = max(wait, inside[len(inside) - window.limit] + window.per_seconds - now)
        return wait

    async def acquire(self, key: str, windows: Sequence[RateWindow]) -> float:
        with self._lock:
            now = self._clock()
            wait = self._wait(key, windows, now)
            if wait <= 0:
                self._sent[key].append(now)
            return wait

    async def available(self, key: str, windows: Sequence[RateWindow]) -> int:
        with self._lock:
            now = self._clock()
            if self._blocked_until.get(key, 0.0) > now:
                return 0
            self._wait(key, windows, now)
            sent = self._sent[key]
            free = [w.limit - sum(1 for t in sent if t > now - w.per_seconds) for w in windows]
            return max(0, min(free, default=1_000_000))

    async def wait_time(self, key: str, windows: Sequence[RateWindow]) -> float:
        with self._lock:
            return self._wait(key, windows, self._clock())

    async def block(self, key: str, seconds: float) -> None:
        with self._lock:
            until = self._clock() + seconds
            self._blocked_until[key] = max(until, self._blocked_until.get(key, 0.0))


# KEYS[1] = window zset, KEYS[2] = block flag; ARGV = member, take (1/0), then limit/seconds pairs.
# Returns {wait_ms, free}: wait_ms = 0 when a slot was taken (or is free, for take = 0).
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local blocked = redis.call('PTTL', KEYS[2])
if blocked > 0 then return {blocked, 0} end
local longest = 0
for i = 3, #ARGV, 2 do
  local ms = tonumber(ARGV[i + 1])
  if ms > longest then longest = ms end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - longest)
local wait = 0
local free = 1000000
for i = 3, #ARGV, 2 do
  local limit = tonumber(ARGV[i])
  local ms = tonumber(ARGV[i + 1])
  local inside = redis.call('ZCOUNT', KEYS[1], '(' .. (now - ms), '+inf')
  if limit - inside < free then free = limit - inside end
  if inside >= limit then
    local oldest = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. (now - ms), '+inf',
                              'WITHSCORES', 'LIMIT', inside - limit, 1)
    local w = tonumber(oldest[2]) + ms - now
    if w < 1 then w = 1 end
    if w > wait then wait = w end
  end
end
if wait > 0 or ARGV[2] == '0' then return {wait, free} end
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], longest + 1000)
return {0, free - 1}
"""


class RedisRateLimiter(RateLimiter):
    """Shared by every process that uses the same Redis and key prefix."""

    def __init__(self, url: str, prefix: str = "vigilo:alerts:rl:") -> None:
        import redis.asyncio as redis_asyncio

        self._redis = redis_asyncio.Redis.from_url(url)
        self._prefix = prefix
        self._script = self._redis.register_script(_SCRIPT)

    async def _run(self, key: str, windows: Sequence[RateWindow], take: bool) -> tuple[float, int]:
        args: list[str] = [uuid.uuid4().hex, "1" if take else "0"]
        for window in windows:
            args += [str(window.limit), str(int(window.per_seconds * 1000))]
        keys = [f"{self._prefix}w:{key}", f"{self._prefix}b:{key}"]
        wait_ms, free = await self._script(keys=keys, args=args)
        return int(wait_ms) / 1000.0, max(0, int(free))

    async def acquire(self, key: str, windows: Sequence[RateWindow]) -> float:
        wait, _ = await self._run(key, windows, take=True)
        return wait

    async def available(self, key: str, windows: Sequence[RateWindow]) -> int:
        wait, free = await self._run(key, windows, take=False)
        return 0 if wait > 0 else free

    async def wait_time(self, key: str, windows: Sequence[RateWindow]) -> float:
        wait, _ = await self._run(key, windows, take=False)
        return wait

    async def block(self, key: str, seconds: float) -> None:
        ms = max(1, int(seconds * 1000))
        flag = f"{self._prefix}b:{key}"
        current = await self._redis.pttl(flag)
        if current is None or int(current) < ms:
            await self._redis.set(flag, "1", px=ms)

    async def close(self) -> None:
        await self._redis.aclose()


def build_rate_limiter(redis_url: str | None, prefix: str = "vigilo:alerts:rl:") -> RateLimiter:
    return RedisRateLimiter(redis_url, prefix) if redis_url else MemoryRateLimiter()
