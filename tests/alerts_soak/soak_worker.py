"""The soak's delivery worker in its own process (killed with SIGKILL by the test).

usage: soak_worker.py DB_PATH FAKE_URL REDIS_URL RUN_SECONDS BACKEND
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.alerts_soak.soak_setup import build_service


async def main(db: str, url: str, redis: str, run_for: str, backend: str) -> int:
    service = build_service(Path(db), url, redis, backend)
    await service.start()
    print("started", flush=True)
    await asyncio.sleep(float(run_for))
    await service.aclose()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:])))
