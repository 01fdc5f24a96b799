"""Cameras run by `vigilo serve`: status, enable, disable."""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Request

from vigilo.api.auth import ManagementKey
from vigilo.api.errors import ApiError

# every route needs the management API key (vigilo.api.auth)
router = APIRouter(prefix="/api/v1/cameras", tags=["cameras"], dependencies=[ManagementKey])


def _manager(request: Request) -> Any:
    try:
        return request.app.state.services.camera_manager
    except Exception as exc:
        raise ApiError(503, "cameras_unavailable", reason=str(exc)) from exc


async def _call(request: Request, method: str, name: str) -> dict[str, Any]:
    from vigilo.phone.manager import UnknownCamera

    manager = _manager(request)
    try:
        state = await anyio.to_thread.run_sync(getattr(manager, method), name)
    except UnknownCamera as exc:
        raise ApiError(404, "camera_not_found", name=name) from exc
    result: dict[str, Any] = state.to_json()
    return result


@router.get("")
async def list_cameras(request: Request) -> dict[str, Any]:
    """Every configured camera: state, fps, lag (ms, capture → processed), last frame time, counters."""
    manager = _manager(request)
    states = await anyio.to_thread.run_sync(manager.states)
    return {"items": [state.to_json() for state in states]}


@router.get("/{name}")
async def get_camera(request: Request, name: str) -> dict[str, Any]:
    return await _call(request, "state", name)


@router.post("/{name}/enable")
async def enable_camera(request: Request, name: str) -> dict[str, Any]:
    """Starts watching the camera; the choice is stored and survives restarts (see `CameraManager`)."""
    return await _call(request, "enable", name)


@router.post("/{name}/disable")
async def disable_camera(request: Request, name: str) -> dict[str, Any]:
    """Stops watching the camera (stored: it stays off after a restart); its open episodes end now."""
    return await _call(request, "disable", name)
