from tests.alerts_delivery.conftest import redis_url

__all__ = ["redis_url"]
