"""Both limiter backends obey the same sliding-window and pause semantics."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from vigilo.alerts.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from vigilo.config.alert_policy import RateWindow

pytestmark = pytest.mark.anyio
FEISHU = [RateWindow(limit=3, per_seconds=0.3), RateWindow(limit=5, per_seconds=1.5)]


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    if request.param == "memory":
        yield MemoryRateLimiter()
        return
    redis = RedisRateLimiter(request.getfixturevalue("redis_url"), prefix=f"test:{uuid.uuid4().hex}:")
    yield redis
    await redis.close()


async def test_sliding_windows_and_pauses(limiter: RateLimiter) -> None:
    key = "feishu:bot-1"
    assert await limiter.available(key, FEISHU) == 3
    assert [await limiter.acquire(key, FEISHU) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = await limiter.acquire(key, FEISHU)  # the 1-second window is full
    assert 0 < wait <= 0.3
    assert await limiter.available(key, FEISHU) == 0
    assert await limiter.available("feishu:other-bot", FEISHU) == 3  # per destination
    await asyncio.sleep(wait + 0.02)
    assert await limiter.acquire(key, FEISHU) == 0.0
    assert await limiter.acquire(key, FEISHU) == 0.0
    long_wait = await limiter.acquire(key, FEISHU)  # now the minute-like window (5) is full
    assert 0.3 < long_wait <= 1.5

    await limiter.block("dingtalk:robot", 0.4)
    assert await limiter.available("dingtalk:robot", FEISHU) == 0
    assert 0 < await limiter.wait_time("dingtalk:robot", FEISHU) <= 0.4
    assert await limiter.acquire("dingtalk:robot", FEISHU) > 0
    await asyncio.sleep(0.45)
    assert await limiter.acquire("dingtalk:robot", FEISHU) == 0.0
