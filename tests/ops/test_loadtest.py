"""The load-test tool on a tiny load: two `vigilo serve` workers sharing a real Redis, frames spread
round-robin over them (so every session's frames land on both workers), plus a camera on the first."""

from __future__ import annotations

import pytest

from tests.conftest import shared_path
from vigilo.tools import loadtest


def test_two_workers_share_sessions_through_redis_and_the_camera_runs(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("mediapipe", reason="mediapipe==0.10.21 is not installed")
    shared_path("data", "zju-blink")
    assert loadtest.main(["--users", "3", "--seconds", "4", "--cameras", "1", "--workers", "2"]) == 0
    out = capsys.readouterr().out
    totals = out.split("| outcome | count |")[0]
    answered, ok = (int(cell) for cell in totals.strip().splitlines()[-1].split("|")[1:3])
    assert answered >= 12 and ok == answered, out  # no frame refused by the worker that did not create its session
    assert "| cam1 | online |" in out, out
