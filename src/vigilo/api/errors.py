"""One error shape for the whole API: `{"code": "...", "message": "...", "detail": ...}`.

`code` is stable for programs; `message` is for people, in zh-CN unless the request
asks for English (`Accept-Language: en`).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from vigilo.i18n import Locale, message, pick_locale

log = logging.getLogger(__name__)

_STATUS_CODES = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large", 429: "rate_limited"}


class ApiError(Exception):
    """Raise from services or routers; rendered as JSON with the localised message."""

    def __init__(self, status: int, code: str, detail: Any = None, **params: object) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.detail = detail
        self.params = params


def request_locale(request: Request) -> Locale:
    default: Locale = getattr(request.app.state, "default_locale", "zh-CN")
    return pick_locale(request.headers.get("accept-language"), default)


def error_response(request: Request, status: int, code: str, detail: Any = None, **params: object) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message(code, request_locale(request), **params)}
    if detail is not None:
        body["detail"] = detail
    return JSONResponse(body, status_code=status)


def _validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": [str(p) for p in err.get("loc", ())], "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(request, exc.status, exc.code, exc.detail, **exc.params)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = _validation_detail(exc)
        first = detail[0] if detail else {"loc": [], "msg": ""}
        summary = f"{'.'.join(first['loc'])}: {first['msg']}"
        return error_response(request, 422, "invalid_request", detail, reason=summary)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "invalid_request")
        return error_response(request, exc.status_code, code, reason=str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, 500, "internal_error")
