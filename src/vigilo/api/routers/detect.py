"""POST /api/v1/detect: phones in one image (multipart file or JSON base64)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

import anyio
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from vigilo.api.errors import ApiError
from vigilo.phone import metrics
from vigilo.services import Services
from vigilo.vision.imageio import ImageError, decode_image

router = APIRouter(prefix="/api/v1", tags=["phone"])


class DetectionOut(BaseModel):
    label: str
    score: float
    box: Annotated[list[float], Field(min_length=4, max_length=4, description="x1, y1, x2, y2 in source pixels")]


class DetectResponse(BaseModel):
    path: str | None = None
    frame: int | None = None
    width: int
    height: int
    detections: list[DetectionOut]


class DetectJsonBody(BaseModel):
    image: str = Field(..., description="Base64 image (JPEG, PNG or WebP); a data: URL prefix is accepted.")
    threshold: float | None = Field(None, ge=0.0, le=1.0)


async def _image_bytes(request: Request) -> tuple[bytes, float | None, str | None]:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file") or form.get("image")
        if upload is None or isinstance(upload, str):
            raise ApiError(422, "invalid_request", reason="multipart field 'file' is missing")
        threshold_field = form.get("threshold")
        threshold = _parse_threshold(threshold_field if isinstance(threshold_field, str) else None)
        return await upload.read(), threshold, upload.filename
    try:
        payload = DetectJsonBody.model_validate_json(await request.body())
    except ValueError as exc:
        raise ApiError(422, "invalid_request", reason=_first_error(exc)) from None
    encoded = payload.image.split(",", 1)[1] if payload.image.startswith("data:") else payload.image
    try:
        return base64.b64decode(encoded, validate=True), payload.threshold, None
    except (binascii.Error, ValueError):
        raise ApiError(422, "invalid_request", reason="image is not valid base64") from None


def _parse_threshold(text: str | None) -> float | None:
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise ApiError(422, "invalid_request", reason="threshold must be a number") from None
    if not 0.0 <= value <= 1.0:
        raise ApiError(422, "invalid_request", reason="threshold must be between 0 and 1")
    return value


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return f"{'.'.join(str(p) for p in first['loc']) or 'body'}: {first['msg']}"
    return "body must be JSON with an 'image' field"


@router.post(
    "/detect",
    response_model=DetectResponse,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": DetectJsonBody.model_json_schema()},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "threshold": {"type": "number"},
                        },
                        "required": ["file"],
                    }
                },
            },
            "required": True,
        }
    },
    responses={413: {"description": "Body or image too large"}, 422: {"description": "Not an image"}},
)
async def detect(request: Request) -> DetectResponse:
    """Phones in one image, boxes in source pixels."""
    services: Services = request.app.state.services
    data, threshold, filename = await _image_bytes(request)
    max_pixels = services.settings.server.max_image_pixels
    try:
        image = decode_image(data, max_pixels)
    except ImageError as exc:
        status = 413 if exc.code == "image_too_large" else 422
        raise ApiError(status, exc.code, **exc.params) from None
    detector = services.phone_detector
    with metrics.SECONDS.labels("api").time():
        detections = (await anyio.to_thread.run_sync(lambda: detector.detect([image], threshold)))[0]
    metrics.FRAMES.labels("api").inc()
    metrics.PHONES.labels("api").inc(len(detections))
    return DetectResponse(
        path=filename,
        frame=None,
        width=image.shape[1],
        height=image.shape[0],
        detections=[DetectionOut(**d.to_json()) for d in detections],
    )
