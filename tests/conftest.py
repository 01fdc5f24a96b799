"""Shared fixtures: where the product side's evaluation data lives, and small helpers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vigilo.tools.localredis import free_port, redis_server

__all__ = ["LOCAL", "free_port", "shared_path"]  # free_port: re-exported for the tests

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
SHARED_DATA = SHARED / "data"
SHARED_MODELS = SHARED / "models"


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or a skip (with the reason) when that data is not on this machine."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"evaluation data not present: {path}")
    return path


LOCAL = ("127.0.0.1", 50000)
"""A TestClient `client=` address on loopback: the management API answers it when no key is configured."""


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real redis-server on a free port, for this test session only (Debian's redis-server)."""
    with redis_server() as url:
        if url is None:
            pytest.fail("redis-server is not installed (apt-get install redis-server; see scripts/system-deps.sh)")
        yield url
