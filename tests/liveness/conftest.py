"""Fixtures shared by the liveness session tests (defined in session_fixtures.py)."""

from tests.liveness.session_fixtures import analyzer, any_store_service, clock

__all__ = ["analyzer", "any_store_service", "clock"]
