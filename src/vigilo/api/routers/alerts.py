"""Alert delivery ledger: list outbox rows, retry dead letters, per-channel stats."""

from __future__ import annotations

from typing import Any, Literal

import anyio
from fastapi import APIRouter, Query, Request

from vigilo.api.errors import ApiError

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])

State = Literal["pending", "in_flight", "sent", "dead", "suppressed"]


def _service(request: Request) -> Any:
    try:
        return request.app.state.services.alert_service
    except Exception as exc:
        raise ApiError(503, "alerts_unavailable", reason=str(exc)) from exc


@router.get("")
async def list_alerts(
    request: Request,
    state: State | None = None,
    channel: str | None = None,
    limit: int = Query(50, ge=1, le=1000),
) -> dict[str, Any]:
    """Outbox rows, newest first."""
    service = _service(request)
    rows = await anyio.to_thread.run_sync(lambda: service.rows(state, channel, limit))
    return {"items": [row.to_dict() for row in rows]}


@router.get("/stats")
async def alert_stats(request: Request) -> dict[str, Any]:
    """Per channel: sent, failed attempts, retried, dead, suppressed, pending; latency p50/p99 (ms)."""
    service = _service(request)
    stats = await anyio.to_thread.run_sync(service.stats)
    return {"channels": [s.to_dict() for s in stats]}


@router.post("/{row_id}/retry")
async def retry_alert(request: Request, row_id: int) -> dict[str, Any]:
    """Re-queues a dead letter (409 `alert_not_retryable` for any other state)."""
    from vigilo.alerts.outbox import OutboxError

    service = _service(request)
    try:
        row = await anyio.to_thread.run_sync(service.retry, row_id)
    except OutboxError as exc:
        status = 404 if exc.code == "alert_not_found" else 409
        raise ApiError(status, exc.code, **exc.params) from exc
    return row.to_dict()
