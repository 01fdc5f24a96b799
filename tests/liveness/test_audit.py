"""Audit storage of liveness frames: off by default, encrypted at rest, listed, served, deleted, expired.

Frames come from a real ZJU clip through the real API; the files on disk are checked byte for byte."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from pydantic import SecretStr

from tests.liveness.test_liveness_api import KEY, b64, create, make_client
from vigilo.api.errors import ApiError
from vigilo.config.liveness import AuditConfig
from vigilo.config.loader import ConfigError, load_settings
from vigilo.liveness.audit import FrameAudit


@pytest.fixture(scope="module")
def clip_frames() -> list[bytes]:
    import cv2

    from tests.conftest import shared_path

    folder = shared_path("data", "zju-blink", "2")
    capture = cv2.VideoCapture(str(next(iter(sorted(folder.glob("*.mp4"))))))
    frames: list[bytes] = []
    while len(frames) < 6:
        ok, image = capture.read()
        if not ok:
            break
        for _ in range(2):  # every third frame: neighbours differ enough not to be near-duplicates
            capture.read()
        frames.append(cv2.imencode(".jpg", image)[1].tobytes())
    capture.release()
    assert len(frames) == 6
    return frames


def send(client: TestClient, session_id: str, frames: list[bytes]) -> list[int]:
    """Posts the frames 100 ms apart; returns the seqs the server accepted."""
    accepted = []
    for seq, data in enumerate(frames, start=1):
        answer = client.post(
            f"/api/v1/liveness/sessions/{session_id}/frames",
            json={"image": b64(data), "seq": seq, "captured_at": 1_700_000_000_000 + seq * 100},
            headers={"X-API-Key": KEY},
        )
        if answer.status_code == 200:
            accepted.append(seq)
    return accepted


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_audit_is_off_by_default_and_no_frame_reaches_the_disk(tmp_path: Path, clip_frames: list[bytes]) -> None:
    client = make_client(tmp_path, max_clock_skew_ms=10**12)
    created = create(client, actions=["blink"])
    assert send(client, created["session_id"], clip_frames)
    for path in files_under(tmp_path):
        content = path.read_bytes()
        assert not any(frame[:64] in content for frame in clip_frames), path
    answer = client.get(f"/api/v1/liveness/sessions/{created['session_id']}/audit", headers={"X-API-Key": KEY})
    assert answer.status_code == 404 and answer.json()["code"] == "liveness_audit_off"


def test_audited_frames_are_encrypted_listed_served_and_deleted(tmp_path: Path, clip_frames: list[bytes]) -> None:
    client = make_client(tmp_path, max_clock_skew_ms=10**12, audit={"enabled": True})
    session_id = create(client, actions=["blink"])["session_id"]
    accepted = send(client, session_id, clip_frames)
    assert len(accepted) >= 4, accepted
    base = f"/api/v1/liveness/sessions/{session_id}/audit"

    assert client.get(base).status_code == 401  # the business key is required
    listing = client.get(base, headers={"X-API-Key": KEY}).json()
    assert [f["seq"] for f in listing["frames"]] == accepted
    assert [f["captured_at"] for f in listing["frames"]] == [1_700_000_000_000 + s * 100 for s in accepted]
    assert listing["expires_at"] is not None

    stored = files_under(tmp_path / "liveness-audit" / session_id)
    assert len(stored) == len(accepted)
    for path in stored:
        content = path.read_bytes()
        assert not content.startswith(b"\xff\xd8") and not any(f[100:164] in content for f in clip_frames)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for seq in accepted:
        served = client.get(f"{base}/{seq}", headers={"X-API-Key": KEY})
        assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
        assert served.content == clip_frames[seq - 1]

    deleted = client.delete(base, headers={"X-API-Key": KEY}).json()
    assert deleted == {"session_id": session_id, "deleted": len(accepted)}
    assert not (tmp_path / "liveness-audit" / session_id).exists()
    gone = client.get(f"{base}/{accepted[0]}", headers={"X-API-Key": KEY})
    assert gone.status_code == 404 and gone.json()["code"] == "liveness_audit_frame_not_found"
    assert client.get(base, headers={"X-API-Key": KEY}).json()["frames"] == []


def test_a_path_like_session_id_never_leaves_the_audit_folder(tmp_path: Path) -> None:
    client = make_client(tmp_path, audit={"enabled": True})
    answer = client.delete("/api/v1/liveness/sessions/..%2F..%2Fetc/audit", headers={"X-API-Key": KEY})
    assert answer.status_code == 404


def key() -> SecretStr:
    return SecretStr(Fernet.generate_key().decode())


def test_frames_expire_after_the_ttl(tmp_path: Path) -> None:
    now = [1_000_000.0]
    audit = FrameAudit(AuditConfig(enabled=True, ttl_hours=1), tmp_path, clock=lambda: now[0])
    audit.save("old-session-1", 1, 1.0, b"old frame")
    audit.save("new-session-1", 1, 1.0, b"new frame")
    hour_and_a_bit = 3700
    os.utime(tmp_path / "liveness-audit" / "old-session-1", (now[0] - hour_and_a_bit,) * 2)
    os.utime(tmp_path / "liveness-audit" / "new-session-1", (now[0] - 60,) * 2)
    assert audit.purge() == 1
    assert audit.frames("old-session-1") == [] and len(audit.frames("new-session-1")) == 1


def test_keys_rotate_and_a_foreign_key_or_a_damaged_file_is_refused(tmp_path: Path) -> None:
    old, new = key(), key()
    FrameAudit(AuditConfig(enabled=True, keys=[old]), tmp_path).save("session-abc", 3, 5.0, b"frame bytes")
    rotated = FrameAudit(AuditConfig(enabled=True, keys=[new, old]), tmp_path)
    assert rotated.read("session-abc", 3) == b"frame bytes"
    with pytest.raises(ApiError) as foreign:
        FrameAudit(AuditConfig(enabled=True, keys=[new]), tmp_path).read("session-abc", 3)
    assert foreign.value.status == 409 and foreign.value.code == "liveness_audit_unreadable"
    (path,) = files_under(tmp_path / "liveness-audit" / "session-abc")
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(ApiError) as damaged:
        rotated.read("session-abc", 3)
    assert damaged.value.code == "liveness_audit_unreadable"


def test_a_generated_key_is_kept_private_and_reused(tmp_path: Path) -> None:
    FrameAudit(AuditConfig(enabled=True), tmp_path).save("session-abc", 1, 1.0, b"x")
    key_file = tmp_path / "liveness-audit.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert FrameAudit(AuditConfig(enabled=True), tmp_path).read("session-abc", 1) == b"x"


def test_a_bad_key_is_a_config_error_that_does_not_echo_it(tmp_path: Path) -> None:
    config = tmp_path / "vigilo.yaml"
    config.write_text("liveness:\n  audit:\n    enabled: true\n    keys: [not-a-real-key-SECRET123]\n")
    with pytest.raises(ConfigError) as error:
        load_settings(config, env_file=None)
    assert "liveness.audit.keys: Value error, keys[0] is not a Fernet key" in str(error.value)
    assert "SECRET123" not in str(error.value)
