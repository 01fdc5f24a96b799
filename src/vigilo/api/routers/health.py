"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from vigilo.api.errors import ApiError
from vigilo.services import Services

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up and serving HTTP."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> dict[str, object]:
    """Every component the configuration needs is loaded (503 with the reason otherwise)."""
    services: Services = request.app.state.services
    problems = services.readiness_problems()
    if problems:
        raise ApiError(503, "not_ready", detail=problems, detail_text="; ".join(problems))
    return {"status": "ready", "components": services.component_status()}


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
