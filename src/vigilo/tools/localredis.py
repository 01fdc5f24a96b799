"""A throwaway `redis-server` on a free loopback port, for benchmarks and the load test.

Not for production: it keeps nothing on disk. Tests have their own fixture (tests/conftest.py) because they
report a missing binary as a test failure; here a missing binary yields None so a benchmark can skip rows.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"process exited with code {process.returncode} before listening") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on port {port} after {seconds:.0f} s") from None
            time.sleep(0.05)


@contextmanager
def redis_server() -> Iterator[str | None]:
    """Yields `redis://127.0.0.1:PORT/0`, or None when `redis-server` is not installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="vigilo-redis-") as folder:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", folder],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(port, process)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait(timeout=10)
