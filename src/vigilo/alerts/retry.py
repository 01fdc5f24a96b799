"""What to do after a delivery attempt: backoff with jitter, rate-limit pauses, dead letters."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from vigilo.alerts.outcome import DeliveryResult, Outcome
from vigilo.config.alert_policy import RetryConfig

Action = Literal["sent", "retry", "pause", "dead"]


@dataclass(frozen=True)
class Decision:
    action: Action
    delay: float = 0.0  # seconds until the next attempt (retry, pause)
    reason: str = ""  # plain words, stored on the row and shown to operators


def backoff_delay(config: RetryConfig, attempt: int, rng: random.Random | None = None) -> float:
    """Delay before attempt `attempt + 1`, after `attempt` (>= 1) failed ones."""
    rng = rng or random.Random()
    ceiling = min(config.max_delay, config.base_delay * config.factor ** max(attempt - 1, 0))
    return ceiling * (1.0 - config.jitter * rng.random())


def describe(result: DeliveryResult) -> str:
    """One line about a failed attempt: the platform's reason, code and HTTP status."""
    parts = [result.reason.strip() or result.outcome.value.replace("_", " ")]
    code = f"code {result.platform_code}"
    if result.platform_code not in (None, "") and code not in parts[0]:
        parts.append(code)
    if result.http_status is not None and result.http_status != 200:
        parts.append(f"HTTP {result.http_status}")
    return parts[0] if len(parts) == 1 else f"{parts[0]} ({', '.join(parts[1:])})"


def decide(
    config: RetryConfig,
    result: DeliveryResult,
    attempts: int,
    block_seconds: float,
    rng: random.Random | None = None,
) -> Decision:
    """`attempts` counts the attempt that produced `result`."""
    if result.outcome is Outcome.SENT:
        return Decision("sent")
    text = describe(result)
    if result.outcome is Outcome.PERMANENT:
        return Decision("dead", reason=f"permanent error, not retried: {text}")
    if result.outcome is Outcome.RATE_LIMITED:
        # The platform refused the destination for a while, not this alert: never a dead letter,
        # however many pauses in a row (six DingTalk throttles would otherwise kill it within an hour).
        pause = result.retry_after if result.retry_after and result.retry_after > 0 else block_seconds
        return Decision("pause", delay=pause, reason=f"rate limited by the platform: {text}")
    if attempts >= config.max_attempts:
        return Decision("dead", reason=f"gave up after {attempts} attempts; last error: {text}")
    # RETRY, and REFRESH_TOKEN (the channel already refreshed and retried once itself).
    return Decision("retry", delay=backoff_delay(config, attempts, rng), reason=f"will retry: {text}")
