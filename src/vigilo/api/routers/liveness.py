"""Liveness API: v1 sessions under /api/v1/liveness, and the seed's /api/task/* on top of them.

Authentication: creating sessions and reading results take a business API key (`Authorization: Bearer KEY`
or `X-API-Key: KEY`). The front end that sends frames holds only the session id and its nonce
(`X-Session-Nonce` header or a `nonce` field); an API key works there too.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from typing import Annotated, Any, Literal

import anyio
import jwt
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field, ValidationError

from vigilo.api.errors import ApiError, request_locale
from vigilo.i18n import Locale, message
from vigilo.liveness.actions import prompt
from vigilo.liveness.service import LivenessService
from vigilo.liveness.session import SessionView
from vigilo.liveness.tokens import verify_user_token

v1 = APIRouter(prefix="/api/v1/liveness", tags=["liveness"])
seed = APIRouter(prefix="/api/task", tags=["liveness (seed-compatible)"])

ActionName = Literal["turn_left", "turn_right", "blink", "open_mouth", "smile", "nod"]


class CreateSessionBody(BaseModel):
    user_ref: Annotated[str | None, Field(max_length=128, description="Your reference for the user.")] = None
    actions: Annotated[list[ActionName] | None, Field(min_length=1, max_length=6)] = None
    count: Annotated[int | None, Field(ge=1, le=6, description="Random actions when `actions` is empty.")] = None
    locale: Locale | None = None
    mirrored: bool = Field(False, description="The client sends selfie-mirrored frames.")


class FrameJsonBody(BaseModel):
    image: str = Field(..., description="Base64 JPEG/PNG/WebP; a data: URL prefix is accepted.")
    seq: int = Field(..., ge=0, description="Increases with every frame.")
    captured_at: float = Field(..., ge=0, description="Capture time, epoch milliseconds; increases.")
    nonce: str | None = None


class SeedDetectBody(BaseModel):
    user_id: Annotated[str | None, Field(max_length=128)] = None
    image_data: str


class SeedUserBody(BaseModel):
    user_id: Annotated[str | None, Field(max_length=128)] = None


def _service(request: Request) -> LivenessService:
    service: LivenessService = request.app.state.services.liveness
    return service


def _presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("x-api-key")


def _is_api_key(request: Request, key: str | None) -> bool:
    if not key:
        return False
    keys = request.app.state.settings.liveness.api_keys
    return any(hmac.compare_digest(key.encode(), k.get_secret_value().encode()) for k in keys)


def require_api_key(request: Request) -> None:
    if not _is_api_key(request, _presented_key(request)):
        raise ApiError(401, "unauthorized")


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _decode_b64(text: str) -> bytes:
    encoded = text.split(",", 1)[1] if text.startswith("data:") else text
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(422, "invalid_request", reason="image is not valid base64") from None


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    return f"{'.'.join(str(p) for p in first['loc']) or 'body'}: {first['msg']}"


async def _parse_json(request: Request, model: type[BaseModel], *, optional: bool = False) -> Any:
    raw = await request.body()
    if optional and not raw.strip():
        raw = b"{}"
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise ApiError(422, "invalid_request", reason=_first_error(exc)) from None


async def _frame_input(request: Request) -> FrameJsonBody | tuple[bytes, FrameJsonBody]:
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file") or form.get("image")
        if upload is None or isinstance(upload, str):
            raise ApiError(422, "invalid_request", reason="multipart field 'file' is missing")
        fields = {k: v for k, v in form.items() if isinstance(v, str) and k in ("seq", "captured_at", "nonce")}
        try:
            meta = FrameJsonBody.model_validate({"image": "", **fields})
        except ValidationError as exc:
            raise ApiError(422, "invalid_request", reason=_first_error(exc)) from None
        return await upload.read(), meta
    body: FrameJsonBody = await _parse_json(request, FrameJsonBody)
    return body


# ---- v1 ---------------------------------------------------------------------------------------


def _json_body(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """OpenAPI request body for handlers that parse the body themselves."""
    content = {"application/json": {"schema": model.model_json_schema()}}
    return {"requestBody": {"content": content, "required": required}}


_FRAME_BODY = {
    "requestBody": {
        "content": {
            "application/json": {"schema": FrameJsonBody.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "seq": {"type": "integer"},
                        "captured_at": {"type": "number"},
                        "nonce": {"type": "string"},
                    },
                    "required": ["file", "seq", "captured_at"],
                }
            },
        },
        "required": True,
    }
}


@v1.post("/sessions", status_code=201, openapi_extra=_json_body(CreateSessionBody, required=False))
async def create_session(request: Request) -> dict[str, Any]:
    """A new single-use session: id, nonce, expiry, the challenge steps and the upload rules."""
    require_api_key(request)
    body: CreateSessionBody = await _parse_json(request, CreateSessionBody, optional=True)
    service = _service(request)
    created = await anyio.to_thread.run_sync(
        lambda: service.create(
            user_ref=body.user_ref,
            actions=list(body.actions) if body.actions else None,
            count=body.count,
            locale=body.locale or request_locale(request),
            mirrored=body.mirrored,
        )
    )
    return created.to_json()


@v1.post("/sessions/{session_id}/frames", openapi_extra=_FRAME_BODY)
async def submit_frame(session_id: str, request: Request) -> dict[str, Any]:
    """One frame (base64 JSON or multipart `file`) with `seq` and `captured_at` → the session's progress."""
    received_at = time.time()  # before any queueing for a worker thread or a face mesh
    parsed = await _frame_input(request)
    if isinstance(parsed, tuple):
        data, meta = parsed
    else:
        meta, data = parsed, _decode_b64(parsed.image)
    nonce = request.headers.get("x-session-nonce") or meta.nonce
    trusted = _is_api_key(request, _presented_key(request))
    service = _service(request)
    view = await anyio.to_thread.run_sync(
        lambda: service.submit_frame(
            session_id,
            data,
            seq=meta.seq,
            captured_at=meta.captured_at,
            nonce=nonce,
            trusted=trusted,
            ip=_client_ip(request),
            received_at=received_at,
        )
    )
    return view.to_json()


@v1.get("/sessions/{session_id}")
async def get_session(session_id: str, request: Request) -> dict[str, Any]:
    nonce = request.headers.get("x-session-nonce") or request.query_params.get("nonce")
    trusted = _is_api_key(request, _presented_key(request))
    service = _service(request)
    view = await anyio.to_thread.run_sync(lambda: service.get(session_id, nonce=nonce, trusted=trusted))
    return view.to_json()


@v1.delete("/sessions/{session_id}")
async def cancel_session(session_id: str, request: Request) -> dict[str, Any]:
    nonce = request.headers.get("x-session-nonce") or request.query_params.get("nonce")
    trusted = _is_api_key(request, _presented_key(request))
    service = _service(request)
    view = await anyio.to_thread.run_sync(lambda: service.cancel(session_id, nonce=nonce, trusted=trusted))
    return view.to_json()


@v1.get("/sessions/{session_id}/result")
async def session_result(session_id: str, request: Request) -> dict[str, Any]:
    """The signed result (HS256 JWT), once per session. Verify it with the shared result secret."""
    require_api_key(request)
    service = _service(request)
    token = await anyio.to_thread.run_sync(lambda: service.result(session_id))
    return {"token": token, "token_type": "JWT", "alg": "HS256"}


@v1.get("/sessions/{session_id}/audit")
async def audit_frames(session_id: str, request: Request) -> dict[str, Any]:
    """The session's audited frames (seq, capture time), when audit storage is on. Business API key."""
    require_api_key(request)
    service = _service(request)
    return await anyio.to_thread.run_sync(lambda: service.audit_frames(session_id))


@v1.get(
    "/sessions/{session_id}/audit/{seq}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}},
)
async def audit_frame(session_id: str, seq: int, request: Request) -> Response:
    """One audited frame, decrypted, exactly as the client sent it. Business API key."""
    require_api_key(request)
    service = _service(request)
    data = await anyio.to_thread.run_sync(lambda: service.audit_frame(session_id, seq))
    return Response(data, media_type=_image_type(data), headers={"Cache-Control": "no-store"})


@v1.delete("/sessions/{session_id}/audit")
async def delete_audit(session_id: str, request: Request) -> dict[str, Any]:
    """Deletes the session's audited frames now (e.g. on the user's request). Business API key."""
    require_api_key(request)
    service = _service(request)
    deleted = await anyio.to_thread.run_sync(lambda: service.delete_audit(session_id))
    return {"session_id": session_id, "deleted": deleted}


def _image_type(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "image/jpeg"


# ---- seed-compatible ---------------------------------------------------------------------------


def _seed_user(request: Request, body_user: str | None) -> str:
    """Who the seed-compatible call acts for. See `SeedCompatConfig` for the modes and their risk."""
    config = request.app.state.settings.liveness.seed_compat
    if config.mode == "off":
        raise ApiError(404, "not_found")
    if config.mode == "body":
        if not body_user:
            raise ApiError(422, "invalid_request", reason="user_id is required")
        return body_user
    token = _presented_key(request)
    if _is_api_key(request, token):
        if not body_user:
            raise ApiError(422, "invalid_request", reason="user_id is required")
        return body_user
    secret = config.user_token_secret.get_secret_value() if config.user_token_secret else None
    if not token or not secret:
        raise ApiError(401, "unauthorized")
    try:
        user = verify_user_token(token, secret)
    except jwt.InvalidTokenError:
        raise ApiError(401, "unauthorized") from None
    if body_user and body_user != user:
        raise ApiError(403, "liveness_user_mismatch")
    return user


def _seed_shape(view: SessionView, *, success: bool, text: str) -> dict[str, Any]:
    return {
        "success": success,
        "message": text,
        "next_task": view.action,
        "current_step": view.step - 1 if not view.passed else view.total,
        "total_steps": view.total,
        "task_description": view.prompt or "",
        "passed": view.passed,
        "done": view.done,
        "session_id": view.session_id,
    }


def _seed_message(view: SessionView, locale: Locale) -> tuple[bool, str]:
    if view.passed:
        return True, message("seed_passed", locale)
    if view.done:
        return False, message("seed_failed", locale)
    if view.completed:
        return True, message("seed_step_passed", locale)
    if view.hint:
        return False, view.hint
    return False, prompt(view.action, locale) if view.action else ""


@seed.post("/detect", openapi_extra=_json_body(SeedDetectBody))
async def seed_detect(request: Request) -> dict[str, Any]:
    """Seed shape: one frame for the user's current session (created on first use)."""
    body: SeedDetectBody = await _parse_json(request, SeedDetectBody)
    user = _seed_user(request, body.user_id)
    locale = request_locale(request)
    data = _decode_b64(body.image_data)
    service = _service(request)
    ip = _client_ip(request)

    def run() -> SessionView:
        session_id = service.seed_session(user, locale=locale, ip=ip)
        current = service.get(session_id, trusted=True)
        if current.passed:
            return current  # stays passed until reset, as in the seed
        return service.submit_frame(
            session_id,
            data,
            seq=service.next_seq(session_id),
            captured_at=service.clock() * 1000.0,
            trusted=True,
            ip=ip,
        )

    view = await anyio.to_thread.run_sync(run)
    success, text = _seed_message(view, locale)
    return _seed_shape(view, success=success, text=text)


@seed.get("/status")
async def seed_status(request: Request, user_id: str | None = None) -> dict[str, Any]:
    user = _seed_user(request, user_id)
    locale = request_locale(request)
    service = _service(request)
    session_id = service.seed_current(user)
    if session_id is None:
        total = request.app.state.settings.liveness.seed_compat.actions
        return {
            "success": True,
            "message": message("seed_no_task", locale),
            "next_task": None,
            "current_step": 0,
            "total_steps": total,
            "task_description": "",
            "passed": False,
            "done": False,
            "session_id": None,
        }
    view = await anyio.to_thread.run_sync(lambda: service.get(session_id, trusted=True))
    _, text = _seed_message(view, locale)
    return _seed_shape(view, success=True, text=text)


@seed.post("/reset", openapi_extra=_json_body(SeedUserBody, required=False))
async def seed_reset(request: Request) -> dict[str, Any]:
    body: SeedUserBody = await _parse_json(request, SeedUserBody, optional=True)
    user = _seed_user(request, body.user_id or request.query_params.get("user_id"))
    locale = request_locale(request)
    service = _service(request)
    ip = _client_ip(request)

    def run() -> SessionView:
        session_id = service.seed_session(user, locale=locale, ip=ip, fresh=True)
        return service.get(session_id, trusted=True)

    view = await anyio.to_thread.run_sync(run)
    return _seed_shape(view, success=True, text=message("seed_reset", locale))


router = APIRouter()
router.include_router(v1)
router.include_router(seed)
