"""`vigilo serve` as `make run` starts it: a real process answering on a real port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import free_port


def test_serve_on_embedded_defaults_answers_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "VIGILO_LOGGING__FORMAT": "json",
        "WECOM_CORP_ID": "ww-test",
        "WECOM_AGENT_ID": "1000002",
        "WECOM_SECRET": "very-secret-value-123",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "vigilo", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        ready = None
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            time.sleep(0.2)
        assert ready is not None and ready.status_code == 200, ready.text if ready else "no answer"
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"status": "ok"}
        # embedded defaults: SQLite and files under ./var
        assert (tmp_path / "var").is_dir()
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "very-secret-value-123" not in stderr
    assert '"level": "INFO"' in stderr  # JSON logs were asked for
