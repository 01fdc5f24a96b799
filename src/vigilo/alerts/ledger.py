"""The ledger: what happened to alerts, per channel, from the outbox; and Prometheus metrics."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from prometheus_client import Counter, Histogram

from vigilo.alerts.outbox import DEAD, IN_FLIGHT, PENDING, SENT, SUPPRESSED, StateCount

DELIVERIES = Counter(
    "vigilo_alert_deliveries_total",
    "Delivery attempts (one message, one or more alerts) by channel and outcome.",
    ["channel", "outcome"],
)
ALERTS = Counter(
    "vigilo_alerts_total",
    "Alerts by channel and final state (sent, dead, suppressed).",
    ["channel", "state"],
)
DROPPED = Counter("vigilo_alerts_dropped_total", "Alerts not queued at all, by reason.", ["reason"])
DIGESTS = Counter("vigilo_alert_digests_total", "Messages that carried several alerts.", ["channel"])
LATENCY = Histogram(
    "vigilo_alert_delivery_latency_seconds",
    "From submission to the platform's confirmation, per alert.",
    ["channel"],
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)


@dataclass
class ChannelStats:
    channel: str
    sent: int = 0
    pending: int = 0
    in_flight: int = 0
    dead: int = 0
    suppressed: int = 0
    failed: int = 0  # failed attempts (each retry, rate limit, error)
    retried: int = 0  # alerts that needed more than one attempt
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, min(len(sorted_values), math.ceil(fraction * len(sorted_values))))
    return sorted_values[rank - 1]


_STATE_FIELDS = {
    SENT: "sent",
    PENDING: "pending",
    IN_FLIGHT: "in_flight",
    DEAD: "dead",
    SUPPRESSED: "suppressed",
}


class LedgerSource(Protocol):
    """What the ledger reads from an outbox (SQL aggregates, or computed over Redis rows)."""

    def state_counts(self, since: float | None = None) -> list[StateCount]: ...

    def sent_latencies(self, channel: str, since: float | None = None, limit: int = 1000) -> list[float]: ...


def channel_stats(outbox: LedgerSource, since: float | None = None, latency_sample: int = 1000) -> list[ChannelStats]:
    """Counts per channel (rows created after `since`), latency over the latest sent alerts."""
    found: dict[str, ChannelStats] = {}
    for count in outbox.state_counts(since):
        stats = found.setdefault(count.channel, ChannelStats(count.channel))
        setattr(stats, _STATE_FIELDS.get(count.state, "pending"), count.count)
        stats.failed += count.failures
        stats.retried += count.retried
    for channel, stats in found.items():
        ordered = sorted(outbox.sent_latencies(channel, since, latency_sample))
        stats.latency_p50_ms = percentile(ordered, 0.50)
        stats.latency_p99_ms = percentile(ordered, 0.99)
    return [found[name] for name in sorted(found)]
