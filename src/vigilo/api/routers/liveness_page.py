"""The H5 liveness page: static assets at /liveness/ and the one call the page needs beyond the v1 API.

The page holds only a session id and its nonce (from the business app, in the URL fragment). It asks
`GET /api/v1/liveness/sessions/{id}/challenge` for what the frame answers do not carry: the steps with both
prompts and their windows, the upload rules, the session's `mirrored` flag, and whether the `return_url` it
was given is on the `liveness.return_urls` allow-list. The verdict never comes from the page: the business
backend fetches the signed result.
"""

from __future__ import annotations

from dataclasses import asdict
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from vigilo.api.errors import ApiError
from vigilo.api.routers.liveness import _is_api_key, _presented_key, _service
from vigilo.liveness import decision
from vigilo.liveness.actions import prompt

ASSETS = Path(str(resources.files("vigilo.web") / "liveness"))
PAGE_PATH = "/liveness"

router = APIRouter(prefix="/api/v1/liveness", tags=["liveness (H5 page)"])


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_return_url(url: str | None, allow_list: list[str]) -> str | None:
    """`url` when it starts with one of the allowed prefixes (same scheme and host, path under the prefix)."""
    if not url or "\\" in url or any(ord(c) < 0x21 for c in url):
        return None
    parts = urlsplit(url)
    if ".." in parts.path.split("/") or "%2e" in parts.path.lower():
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.username or parts.password:
        return None
    for prefix in allow_list:
        allowed = urlsplit(prefix)
        if _origin(url) != _origin(prefix):
            continue
        base = allowed.path or "/"
        if parts.path == base or parts.path.startswith(base if base.endswith("/") else base + "/"):
            return url
    return None


def message_origins(allow_list: list[str]) -> list[str]:
    return sorted({_origin(u) for u in allow_list})


@router.get("/sessions/{session_id}/challenge")
async def session_challenge(session_id: str, request: Request, return_url: str | None = None) -> dict[str, Any]:
    """For the H5 page (nonce in `X-Session-Nonce`): the steps, upload rules, `mirrored`, the session's state,
    and `return_url` when it is on the allow-list (else null)."""
    nonce = request.headers.get("x-session-nonce") or request.query_params.get("nonce")
    trusted = _is_api_key(request, _presented_key(request))
    service = _service(request)

    def run() -> tuple[dict[str, Any], dict[str, Any]]:
        view = service.get(session_id, nonce=nonce, trusted=trusted)  # checks the nonce, expires if due
        record = service.store.get(session_id)
        if record is None:
            raise ApiError(404, "liveness_session_not_found")
        return view.to_json(), record

    view, record = await anyio.to_thread.run_sync(run)
    state = decision.DecisionState.from_dict(record["decision"])
    config = service.config
    allow_list = config.return_urls
    return {
        "session_id": session_id,
        "locale": record["locale"],
        "mirrored": bool(record["mirrored"]),
        "expires_at": record["expires_at"],
        "steps": [
            {
                "index": i + 1,
                "action": action,
                "prompt": {"zh-CN": prompt(action, "zh-CN"), "en": prompt(action, "en")},
                "window_ms": window,
            }
            for i, (action, window) in enumerate(zip(state.actions, state.windows_ms, strict=True))
        ],
        "calibration_ms": config.thresholds.calibration_ms,
        "upload": asdict(service.upload_rules),
        "state": view,
        "return_url": allowed_return_url(return_url, allow_list),
        "message_origins": message_origins(allow_list),
    }


class PageFiles(StaticFiles):
    """The page's static files, with headers that keep the nonce (in the fragment) and the camera to us."""

    def __init__(self, frame_ancestors: list[str]) -> None:
        super().__init__(directory=ASSETS, html=True)
        ancestors = " ".join(["'self'", *frame_ancestors]) if frame_ancestors else "*"
        self.headers = {
            "Cache-Control": "no-cache",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": (
                "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; "
                f"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors {ancestors}"
            ),
        }

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(self.headers)
        return response


def install(app: FastAPI) -> None:
    """Registers the page's API call and mounts the page at /liveness/."""
    app.include_router(router)
    origins = message_origins(app.state.settings.liveness.return_urls)

    @app.get(PAGE_PATH, include_in_schema=False)
    async def page_redirect(request: Request) -> RedirectResponse:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"{PAGE_PATH}/{query}", status_code=307)

    app.mount(PAGE_PATH, PageFiles(origins), name="liveness-page")
