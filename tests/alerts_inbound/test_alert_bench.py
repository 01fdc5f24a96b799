"""`vigilo.alerts.bench.run()`: the rows `make bench` prints, on a short run."""

from __future__ import annotations

from vigilo.alerts import bench


def test_bench_rows_deliver_everything_with_valid_signatures() -> None:
    lines = bench.run(count=30, paced=10, pace=50.0)
    assert lines[1].startswith("|---")
    burst, paced, totals = lines[2], lines[3], lines[4]
    assert burst.startswith("| burst") and "| 30 |" in burst
    assert paced.startswith("| paced 50/s | 10 |")
    assert float(burst.split("|")[3]) > 0  # alerts/s measured
    assert "| 40 / 0 |" in totals  # one message per alert (no digest on a healthy robot), none rejected
