"""Phone events: list with filters, one event, its snapshot, and a live feed (Server-Sent Events).

Every route needs the management API key (`vigilo.api.auth`), except a snapshot fetched through a signed
link (`exp` + `sig`, what alert messages carry).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any, Literal

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, StreamingResponse

from vigilo.api.auth import ManagementKey, require_management_key
from vigilo.api.errors import ApiError

router = APIRouter(prefix="/api/v1/events", tags=["events"])

Status = Literal["new", "ongoing", "ended"]
HEARTBEAT_SECONDS = 15.0


def _store(request: Request) -> Any:
    try:
        return request.app.state.services.event_store
    except Exception as exc:
        raise ApiError(503, "events_unavailable", reason=str(exc)) from exc


def event_json(event: Any) -> dict[str, Any]:
    """The API shape of a phone event: no file paths, a snapshot URL instead."""
    out: dict[str, Any] = event.to_json()
    out.pop("snapshot", None)
    out.pop("clip", None)
    out["snapshot_url"] = f"/api/v1/events/{event.id}/snapshot.jpg" if event.snapshot else None
    out["clip_url"] = f"/api/v1/events/{event.id}/clip.mp4" if event.clip else None
    return out


@router.get("", dependencies=[ManagementKey])
async def list_events(
    request: Request,
    camera: str | None = None,
    zone: str | None = None,
    status: Status | None = None,
    since: dt.datetime | None = Query(None, description="Started at or after (ISO 8601; no zone = UTC)."),
    until: dt.datetime | None = Query(None, description="Started before (ISO 8601; no zone = UTC)."),
    limit: int = Query(50, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> dict[str, Any]:
    """Phone events, newest first; `next_offset` is set when there may be more."""
    store = _store(request)
    filters = {"camera": camera, "zone": zone, "status": status, "since": _aware(since), "until": _aware(until)}
    found = await anyio.to_thread.run_sync(lambda: store.query(**filters, limit=limit, offset=offset))
    return {
        "items": [event_json(e) for e in found],
        "limit": limit,
        "offset": offset,
        "next_offset": offset + limit if len(found) == limit else None,
    }


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


@router.get("/stream", response_class=StreamingResponse, dependencies=[ManagementKey])
async def stream_events(request: Request, camera: str | None = None) -> StreamingResponse:
    """Live feed, `text/event-stream`: `event: phone` (started / updated / ended) and `event: camera`
    (offline / online), `data:` the event as JSON; a comment line every 15 s keeps proxies from closing it."""
    try:
        feed = request.app.state.services.camera_manager.feed
    except Exception as exc:
        raise ApiError(503, "cameras_unavailable", reason=str(exc)) from exc
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(_sse(feed, camera), media_type="text/event-stream", headers=headers)


async def _sse(feed: Any, camera: str | None) -> AsyncIterator[str]:
    with feed.subscribe() as queue:
        yield "retry: 3000\n: connected\n\n"
        while True:
            try:
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow the cancellation a client's
                # disconnect brings when an event arrives at the same moment (gh-86296).
                async with asyncio.timeout(HEARTBEAT_SECONDS):
                    event = await queue.get()
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if camera is not None and event.camera != camera:
                continue
            yield _sse_message(event)


def _sse_message(event: Any) -> str:
    data = event.to_json()
    if data.get("type") == "phone":
        data = event_json(event)
        ident = f"phone-{event.id}-{event.change}"
    else:
        ident = f"camera-{event.id}"
    return f"id: {ident}\nevent: {data['type']}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _event(request: Request, event_id: int) -> Any:
    store = _store(request)
    event = await anyio.to_thread.run_sync(store.get, event_id)
    if event is None:
        raise ApiError(404, "event_not_found", id=event_id)
    return event


@router.get("/{event_id}", dependencies=[ManagementKey])
async def get_event(request: Request, event_id: int) -> dict[str, Any]:
    return event_json(await _event(request, event_id))


@router.get("/{event_id}/snapshot.jpg", response_class=FileResponse)
async def event_snapshot(
    request: Request, event_id: int, exp: int | None = None, sig: str | None = None
) -> FileResponse:
    """The annotated JPEG. Links in alert messages carry `exp` and `sig` and need no API key (403 when
    wrong or expired); without them the management API key is required."""
    if exp is not None or sig is not None:
        links = request.app.state.services.snapshot_links
        if exp is None or sig is None or not links.verify(event_id, exp, sig):
            raise ApiError(403, "event_link_invalid")
    else:
        require_management_key(request)
    event = await _event(request, event_id)
    if event.snapshot is None or not event.snapshot.is_file():
        raise ApiError(404, "event_snapshot_missing", id=event_id)
    return FileResponse(event.snapshot, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=60"})


@router.get("/{event_id}/clip.mp4", response_class=FileResponse, dependencies=[ManagementKey])
async def event_clip(request: Request, event_id: int) -> FileResponse:
    """The episode's clip (`events.clips.enabled`): sampled frames from a few seconds before to a few
    seconds after, H.264 when ffmpeg is installed. 404 while the episode is still open."""
    event = await _event(request, event_id)
    if event.clip is None or not event.clip.is_file():
        raise ApiError(404, "event_clip_missing", id=event_id)
    return FileResponse(event.clip, media_type="video/mp4", headers={"Cache-Control": "private, max-age=60"})
