"""Prometheus metrics for phone detection."""

from prometheus_client import Counter, Histogram

FRAMES = Counter("vigilo_detect_frames_total", "Frames run through the phone detector", ["source"])
PHONES = Counter("vigilo_detect_phones_total", "Phones found", ["source"])
SECONDS = Histogram(
    "vigilo_detect_seconds",
    "Time to detect phones in one call (decode excluded)",
    ["source"],
    buckets=(0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56),
)
