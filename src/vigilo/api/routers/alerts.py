"""Alert delivery ledger: list outbox rows, retry dead letters, per-channel stats (management API key,
`vigilo.api.auth`); raising alerts and silences from outside take an `alerts.api_keys` key."""

from __future__ import annotations

from typing import Any, Literal

import anyio
from fastapi import APIRouter, Query, Request

from vigilo.alerts.inbound import InboundAlert as InboundAlertBody
from vigilo.alerts.inbound import InboundSilence as InboundSilenceBody
from vigilo.api.auth import ManagementKey
from vigilo.api.errors import ApiError

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])

State = Literal["pending", "in_flight", "sent", "dead", "suppressed"]


def _service(request: Request) -> Any:
    try:
        return request.app.state.services.alert_service
    except Exception as exc:
        raise ApiError(503, "alerts_unavailable", reason=str(exc)) from exc


@router.get("", dependencies=[ManagementKey])
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


@router.get("/stats", dependencies=[ManagementKey])
async def alert_stats(request: Request) -> dict[str, Any]:
    """Per channel: sent, failed attempts, retried, dead, suppressed, pending; latency p50/p99 (ms)."""
    service = _service(request)
    stats = await anyio.to_thread.run_sync(service.stats)
    return {"channels": [s.to_dict() for s in stats]}


@router.post("/{row_id}/retry", dependencies=[ManagementKey])
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


# -- from outside: raise alerts, silences (API key: alerts.api_keys) ----------------------------


def _authorized_service(request: Request) -> Any:
    from vigilo.alerts.inbound import key_ok, presented_key

    keys = request.app.state.settings.alerts.api_keys
    if not key_ok(presented_key(request.headers.get("authorization"), request.headers.get("x-api-key")), keys):
        raise ApiError(401, "unauthorized")
    return _service(request)


async def _inbound(call: Any) -> Any:
    from vigilo.alerts.inbound import InboundError

    try:
        return await anyio.to_thread.run_sync(call)
    except InboundError as exc:
        raise ApiError(exc.status, exc.code, **exc.params) from exc


@router.post("", status_code=202)
async def raise_alert(request: Request, body: InboundAlertBody) -> dict[str, Any]:
    """Raises an alert from another system; returns the outbox ids (empty when dropped by policy)."""
    from vigilo.alerts.inbound import raise_alert as submit

    service = _authorized_service(request)
    limit = int(request.app.state.settings.alerts.max_snapshot_mb * 1024 * 1024)
    ids = await _inbound(lambda: submit(service, body, limit))
    return {"ids": ids, "idempotency_key": body.idempotency_key}


@router.get("/silences")
async def list_silences(request: Request, expired: bool = False) -> dict[str, Any]:
    """Stored silences (unexpired ones unless `expired=true`)."""
    service = _authorized_service(request)
    items = await anyio.to_thread.run_sync(lambda: service.silences.list(include_expired=expired))
    return {"items": [s.to_dict() for s in items]}


@router.post("/silences", status_code=201)
async def add_silence(request: Request, body: InboundSilenceBody) -> dict[str, Any]:
    """Adds a silence, e.g. `{"match": {"camera": "room-3"}, "duration": "2h", "comment": "..."}`."""
    from vigilo.alerts.inbound import add_silence as add

    service = _authorized_service(request)
    stored = await _inbound(lambda: add(service, body))
    return dict(stored.to_dict())


@router.delete("/silences/{silence_id}")
async def expire_silence(request: Request, silence_id: int) -> dict[str, Any]:
    """Ends a silence now (404 when there is no such id)."""
    from vigilo.alerts.inbound import expire_silence as expire

    service = _authorized_service(request)
    stored = await _inbound(lambda: expire(service, silence_id))
    return dict(stored.to_dict())
