"""HTTP API: thin FastAPI routers over the plain Python services."""
