"""The HTTP API over the real app factory: health, metrics, docs, detect, and its error shapes."""

from __future__ import annotations

import base64
import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from httpx import Response

from tests.conftest import shared_path
from tests.phone.test_default_model import CLEAR_PHONE
from vigilo.api.app import create_app
from vigilo.config import Settings


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(
        storage={"data_dir": tmp_path_factory.mktemp("var")},
        server={"max_body_mb": 1, "max_image_pixels": 5_000_000},
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def phone_jpeg() -> bytes:
    return shared_path("data", "phone", "necem", "test", "images", f"{CLEAR_PHONE}.jpg").read_bytes()


def settle(client: TestClient, timeout: float = 60.0) -> Response:
    """Polls /readyz the way an orchestrator does, until the models have loaded or failed."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get("/readyz", headers={"Accept-Language": "en"})
        if response.status_code == 200 or "loading" not in response.text or time.monotonic() > deadline:
            return response
        time.sleep(0.05)


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge size (a decompression bomb's first bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def test_health_ready_metrics_docs(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = settle(client)
    assert ready.status_code == 200 and ready.json()["components"]["phone_detector"] == "ready"
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and "python_info" in metrics.text
    assert client.get("/docs").status_code == 200
    assert "/api/v1/detect" in client.get("/openapi.json").json()["paths"]


def test_detect_multipart_and_base64_agree(client: TestClient, phone_jpeg: bytes) -> None:
    multipart = client.post("/api/v1/detect", files={"file": ("phone.jpg", phone_jpeg, "image/jpeg")})
    as_json = client.post("/api/v1/detect", json={"image": base64.b64encode(phone_jpeg).decode()})
    assert multipart.status_code == as_json.status_code == 200
    body = multipart.json()
    assert body["path"] == "phone.jpg" and body["frame"] is None
    assert (body["width"], body["height"]) == (640, 640)
    assert [d["label"] for d in body["detections"]] == ["cell phone"]
    assert body["detections"] == as_json.json()["detections"]
    exported = client.get("/metrics").text
    assert 'vigilo_detect_phones_total{source="api"}' in exported
    assert 'vigilo_detect_seconds_count{source="api"}' in exported


def test_detect_threshold_applies(client: TestClient, phone_jpeg: bytes) -> None:
    strict = client.post("/api/v1/detect", json={"image": base64.b64encode(phone_jpeg).decode(), "threshold": 0.99})
    assert strict.status_code == 200 and strict.json()["detections"] == []


def test_errors_are_json_with_stable_codes_and_localised_messages(client: TestClient) -> None:
    not_image = client.post("/api/v1/detect", json={"image": base64.b64encode(b"hello").decode()})
    assert not_image.status_code == 422
    assert not_image.json() == {
        "code": "image_unreadable",
        "message": "无法识别的图片，请上传 JPEG、PNG 或 WebP",
    }
    english = client.post("/api/v1/detect", json={"image": "@@@"}, headers={"Accept-Language": "en-US,en;q=0.9"})
    assert english.status_code == 422
    assert english.json()["code"] == "invalid_request" and "base64" in english.json()["message"]
    missing = client.post("/api/v1/detect", json={"picture": "x"})
    assert missing.status_code == 422 and missing.json()["code"] == "invalid_request"
    assert client.get("/nowhere").json()["code"] == "not_found"


def test_decompression_bomb_is_refused_before_decoding(client: TestClient) -> None:
    bomb = png_claiming(60_000, 60_000)
    response = client.post("/api/v1/detect", files={"file": ("bomb.png", bomb, "image/png")})
    assert response.status_code == 413
    assert response.json()["code"] == "image_too_large"


def test_body_size_limit(client: TestClient) -> None:
    big = np.random.default_rng(0).integers(0, 255, (1200, 1200, 3), dtype=np.uint8)
    ok, png = cv2.imencode(".png", big)
    assert ok and len(png) > 1024 * 1024
    response = client.post("/api/v1/detect", files={"file": ("big.png", png.tobytes(), "image/png")})
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"


def test_readyz_reports_a_broken_model(tmp_path: Path) -> None:
    junk = tmp_path / "broken.onnx"
    junk.write_bytes(b"nope")
    settings = Settings(storage={"data_dir": tmp_path}, detector={"model": junk})
    with TestClient(create_app(settings)) as test_client:
        response = settle(test_client)
        assert response.status_code == 503
        assert response.json()["code"] == "not_ready"
        assert "not an ONNX model" in response.json()["message"]
