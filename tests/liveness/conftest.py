"""Fixtures shared by the liveness session tests (defined in session_fixtures.py)."""

from tests.liveness.session_fixtures import analyzer, clock, redis_url

__all__ = ["analyzer", "clock", "redis_url"]
