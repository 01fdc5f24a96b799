"""A throwaway PostgreSQL server (Debian's postgresql package) for the scale-out tests, and worker processes.

PostgreSQL refuses to run as root: as root the cluster is created and run as the `postgres` user the package
adds, in a folder that user can reach (pytest's own temp folders are private to root)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port


def _postgres_bin() -> Path | None:
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / "initdb").is_file():
            return folder
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    bindir = _postgres_bin()
    if bindir is None:
        pytest.fail("PostgreSQL is not installed (apt-get install postgresql; see scripts/system-deps.sh)")
    folder = Path(tempfile.mkdtemp(prefix="vigilo-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", free_port()
    run = [*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "vigilo", "--no-sync"]
    subprocess.run(run, check=True, capture_output=True)
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    start = [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w"]
    subprocess.run([*start, "start"], check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://vigilo@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], check=False)
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Worker:
    """One `vigilo serve --role ROLE` process on a loopback port."""

    role: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        """kill -9: no shutdown code runs, as when a machine dies."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_worker(config: Path, role: str, folder: Path) -> Worker:
    port = free_port()
    log = folder / f"{role}-{port}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "vigilo.cli.main", "serve", "-c", str(config), "--role", role, "--port", str(port)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=folder,
    )
    return Worker(role, f"http://127.0.0.1:{port}", process, log)


def wait_ready(worker: Worker, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            raise AssertionError(f"{worker.role} exited: {worker.log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(worker.url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{worker.role} not ready after {seconds} s: {worker.log.read_text(errors='replace')[-2000:]}")
